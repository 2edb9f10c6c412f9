"""``sctplab clean``: remove what the lab left behind, and nothing else.

Only objects carrying the lab's marks are touched: labs recorded under the
state root (:mod:`lab.session.records`; running ones are brought down),
network namespaces named ``sctplab-<tag>-<node>`` whose building process is
gone (their veth interfaces go with them; a live run's are kept), processes
the lab started (applications, their setup and checks, captures) whose lab
process is gone, recognised by their mark (:data:`~lab.kernel.process.MARK_VARIABLE`
in their environment), never by name, and, on the host only, guest exchange
directories ``/var/tmp/sctplab-guest-*`` no guest uses any more (a guest
cannot see which guests still run).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from pathlib import Path

from lab.kernel import netns
from lab.kernel.caps import in_guest
from lab.kernel.process import marked_processes
from lab.kernel.network import NETNS_PREFIX, OWNERS, owner_of
from lab.session.control import bring_down
from lab.session.records import process_alive, records

__all__ = ["clean", "orphans", "end_orphans", "EXCHANGE_GLOB"]

EXCHANGE_GLOB = "sctplab-guest-*"
_EXCHANGE_ROOT = Path("/var/tmp")
_TAGGED = re.compile(re.escape(NETNS_PREFIX) + r"([0-9a-f]{6})-")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _cmdlines() -> list[bytes]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                out.append(Path(f"/proc/{entry}/cmdline").read_bytes())
            except OSError:
                pass
    return out


def orphans() -> list[tuple[int, int]]:
    """(pid, owner pid) of each process carrying the lab's mark whose owner is gone."""
    return [(pid, owner) for pid, _, owner in marked_processes() if not Path(f"/proc/{owner}").exists()]


def end_orphans(*, dry_run: bool = False) -> list[str]:
    """Kill (or with ``dry_run`` only list) each process of :func:`orphans`; one line per process."""
    done = []
    for pid, owner in orphans():
        command = _cmdline(pid)
        if not dry_run:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        done.append(f"{'would kill' if dry_run else 'killed'} process {pid} ({command}), started by the lab's"
                    f" process {owner}, which is gone")
    return done


def clean(*, dry_run: bool = False) -> list[str]:
    """Remove (or with ``dry_run`` only list) the lab's leftovers; return one line per object."""
    done: list[str] = []
    verb = "would remove" if dry_run else "removed"
    labs, broken = records()
    for record in labs:
        if record.alive():
            if not dry_run:
                bring_down(record)
            done.append(f"{'would bring' if dry_run else 'brought'} down lab {record.tag} ({record.topology})")
        else:
            if not dry_run:
                record.remove()
            done.append(f"{verb} the state of lab {record.tag}, whose process {record.pid} is gone ({record.folder})")
    for folder in broken:
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
        done.append(f"{verb} {folder} (no readable lab record)")
    by_tag: dict[str, list[str]] = {}
    for name in netns.names():
        match = _TAGGED.match(name)
        if match:
            by_tag.setdefault(match[1], []).append(name)
    for tag, names in sorted(by_tag.items()):
        owner = owner_of(tag)
        if owner is not None and owner != os.getpid() and process_alive(owner, ""):
            done.append(f"kept namespaces of run {tag}: in use by process {owner} ({', '.join(names)})")
            continue
        for name in names:
            if not dry_run:
                netns.remove(name)
            done.append(f"{verb} network namespace {name}")
        if not dry_run:
            (OWNERS / tag).unlink(missing_ok=True)
    done += end_orphans(dry_run=dry_run)
    if in_guest():  # the exchange directories belong to the host's guest launchers, whose processes a guest
        return done  # cannot see: it would take the directories of guests still running for leftovers
    running = _cmdlines()
    for folder in sorted(_EXCHANGE_ROOT.glob(EXCHANGE_GLOB)):
        if any(str(folder).encode() in cmdline for cmdline in running):
            continue
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
        done.append(f"{verb} guest exchange directory {folder}")
    return done
