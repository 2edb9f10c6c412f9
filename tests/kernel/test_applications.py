"""Kernel tier: the user's own applications in scenario runs.

- A deliberately misconfigured server (bound to one address only) fails its scenario, and the failure names
  the finding, the addresses and the pcap with packet numbers.
- A run with applications in it killed by SIGINT, SIGTERM or SIGKILL leaves no application process behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# Imported before any inner session: pytester forgets modules an inner run imported, and numpy
# (under matplotlib) cannot be imported twice in one process.
import lab.scenario.reporting  # noqa: F401
from lab.kernel import netns
from lab.kernel.network import owner_of
from lab.kernel.process import marked_processes
from lab.session.clean import clean
from lab.wait import wait_until

pytestmark = [pytest.mark.kernel]

ROOT = Path(__file__).resolve().parents[2]
HOST = "--lab-kernel=host"
MISCONFIGURED = ROOT / "tests" / "kernel" / "applications" / "single-address-server.yaml"


def test_a_server_bound_to_one_address_fails_with_the_finding_named(pytester: pytest.Pytester) -> None:
    shutil.copytree(ROOT / "topologies", pytester.path / "topologies")
    (pytester.path / "scenarios").mkdir()
    shutil.copy(MISCONFIGURED, pytester.path / "scenarios" / MISCONFIGURED.name)
    result = pytester.runpytest_inprocess(HOST, "--lab-require-kernel", "scenarios")
    result.assert_outcomes(failed=1)
    folder = pytester.path / "artifacts" / "scenarios" / "single-address-server"
    result.stdout.fnmatch_lines([
        "scenario single-address-server (*single-address-server.yaml) failed:",
        "  finding single-homed-end: expected *; saw the server advertised only 198.18.1.2 *not 198.18.2.2; see path-a-*.pcap #*",
    ])
    report = json.loads((folder / "report.json").read_text())
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    assert "finding single-homed-end" in failed and "failover to path-b" in failed, failed


def _marked(owner_pid: int) -> list[int]:
    """Processes carrying the lab's mark of the run in process ``owner_pid``."""
    return [pid for pid, _, owner in marked_processes() if owner == owner_pid]


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (an orphan's zombie waiting for the guest's init to reap it is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_killing_the_runner_leaves_no_application(signum: signal.Signals, tmp_path: Path) -> None:
    """No application outlives the run, however it ends; after SIGTERM or SIGKILL (no cleanup of our own runs),
    sctplab clean removes what is left (captures, namespaces) by the lab's marks."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "lab", "--kernel", "host", "replay", str(ROOT / "scenarios" / "iperf3-primary-blackhole.yaml"),
         "--out", str(tmp_path / "run")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "SCTPLAB_LIVE": "0"})

    def applications() -> list[int]:
        return [pid for pid in _marked(runner.pid) if _command(pid).startswith("iperf3")]

    try:
        wait_until(lambda: len(applications()) >= 2 or runner.poll() is not None, timeout=60,
                   what="both iperf3 processes")
        apps = applications()
        assert len(apps) >= 2, f"{apps}: " + runner.communicate()[0].decode(errors="replace")[-2000:]
        runner.send_signal(signum)
        runner.wait(timeout=60)
        wait_until(lambda: not applications(), timeout=10, what=f"no application left after {signum.name}")
        assert not [pid for pid in apps if _running(pid)]
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    left = [name for name in netns.names() if name.startswith("sctplab-") and owner_of(name.split("-")[1]) == runner.pid]
    assert bool(left) == (signum != signal.SIGINT), f"after {signum.name} the run's namespaces: {left}"
    clean()
    assert not [pid for pid in _marked(runner.pid) if _running(pid)], "sctplab clean leaves none of the run's processes"
    assert not set(left) & set(netns.names())


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
