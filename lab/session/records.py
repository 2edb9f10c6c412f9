"""Where running labs are recorded: one directory per lab under the state root.

``<root>/<tag>/lab.json`` says what the lab is (topology, profile, where its
kernel work runs, the process that owns it, the control socket); the same
directory holds the socket and the service's log. The root is
``$SCTPLAB_STATE_DIR`` or ``/var/tmp/sctplab/labs`` (on the host file system,
so a guest sees it too).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.errors import LabError

__all__ = ["LabRecord", "state_root", "lab_dir", "records", "find_lab", "process_alive"]

_DEFAULT_ROOT = Path("/var/tmp/sctplab/labs")
RECORD = "lab.json"


def state_root() -> Path:
    """The directory that holds one directory per running lab."""
    return Path(os.environ.get("SCTPLAB_STATE_DIR") or _DEFAULT_ROOT)


def lab_dir(tag: str) -> Path:
    return state_root() / tag


@dataclass(frozen=True)
class LabRecord:
    """What ``sctplab up`` started."""

    tag: str
    topology: str
    topology_file: str
    profile: str
    rate: float
    kernel: str  # "host" or "guest"
    pid: int  # the service (host) or the relay that holds the guest
    started: float  # time.time()

    @property
    def folder(self) -> Path:
        return lab_dir(self.tag)

    @property
    def socket(self) -> Path:
        return self.folder / "control.sock"

    @property
    def log(self) -> Path:
        return self.folder / "service.log"

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / (RECORD + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(self.folder / RECORD)

    def alive(self) -> bool:
        """Whether the owning process still runs (and is ours: its command line names the tag)."""
        return process_alive(self.pid, self.tag)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def process_alive(pid: int, marker: str) -> bool:
    """Whether process ``pid`` runs and its command line contains ``marker``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return marker.encode() in cmdline


def _read(folder: Path) -> LabRecord | None:
    try:
        return LabRecord(**json.loads((folder / RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def records() -> tuple[list[LabRecord], list[Path]]:
    """The recorded labs, and state directories without a readable record."""
    root = state_root()
    found: list[LabRecord] = []
    broken: list[Path] = []
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            record = _read(folder)
            if record is None:
                broken.append(folder)
            else:
                found.append(record)
    return found, broken


def find_lab(tag: str | None) -> LabRecord:
    """The lab named ``tag``, or the only running one; a clear error otherwise."""
    running = [r for r in records()[0] if r.alive()]
    if tag is not None:
        for record in running:
            if record.tag == tag:
                return record
        raise LabError(f"no lab {tag!r} is up" + (f" (up: {', '.join(r.tag for r in running)})" if running else
                                                 "; start one with: sctplab up TOPOLOGY"))
    if not running:
        raise LabError("no lab is up; start one with: sctplab up TOPOLOGY")
    if len(running) > 1:
        names = ", ".join(f"{r.tag} ({r.topology})" for r in running)
        raise LabError(f"{len(running)} labs are up: {names}; name one with --lab TAG")
    return running[0]
