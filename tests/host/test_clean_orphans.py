"""Host tier: ``sctplab clean`` ends processes the lab started whose lab is gone, found by the lab's mark only."""

from __future__ import annotations

import os
import subprocess

from lab.kernel.process import MARK_VARIABLE
from lab.session.clean import end_orphans, orphans
from lab.wait import wait_until


def _gone_pid() -> int:
    """The pid of a process that has ended (its owner is gone)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_clean_kills_a_marked_orphan_and_leaves_unmarked_and_owned_ones() -> None:
    dead = _gone_pid()
    orphan = subprocess.Popen(["sleep", "300"], env={**os.environ, MARK_VARIABLE: f"abc123:{dead}"})
    owned = subprocess.Popen(["sleep", "300"], env={**os.environ, MARK_VARIABLE: f"abc123:{os.getpid()}"})
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        assert (orphan.pid, dead) in orphans()
        assert not [pid for pid, _ in orphans() if pid in (owned.pid, stranger.pid)]
        assert any(f"would kill process {orphan.pid} (sleep 300)" in line for line in end_orphans(dry_run=True))
        assert orphan.poll() is None, "a dry run kills nothing"
        lines = end_orphans()
        assert any(f"killed process {orphan.pid} (sleep 300), started by the lab's process {dead}" in line
                   for line in lines), lines
        wait_until(lambda: orphan.poll() is not None, timeout=5, what="the orphan to end")
        assert owned.poll() is None and stranger.poll() is None
    finally:
        for process in (orphan, owned, stranger):
            process.kill()
            process.wait()
