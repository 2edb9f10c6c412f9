"""The commands' side of a running lab: start it, ask it, bring it down."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, overload

from lab.errors import LabError, WaitTimeout
from lab.kernel.network import new_tag
from lab.session.channel import Message, SocketConversation
from lab.session.records import LabRecord, lab_dir, process_alive
from lab.session.status import LabStatus
from lab.wait import wait_until

__all__ = ["start_lab", "connect", "ask", "ask_status", "ask_ready", "bring_down", "UP_TIMEOUT", "DOWN_TIMEOUT"]

#: Seconds for a lab to come up: a guest boots in about 5 s, a topology builds
#: in a few more, the association needs its handshake.
UP_TIMEOUT = 180.0
#: Seconds for a lab to restore its faults, close the association and go.
DOWN_TIMEOUT = 120.0


def _log_tail(record: LabRecord, lines: int = 15) -> str:
    try:
        text = record.log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in text[-lines:])


@overload
def start_lab(topology_file: Path, *, profile: str, rate: float, where: str, scenario: None = None,
              out: Path | None = None) -> tuple[LabRecord, LabStatus]: ...


@overload
def start_lab(topology_file: Path, *, profile: str, rate: float, where: str, scenario: Path,
              out: Path | None = None) -> tuple[LabRecord, None]: ...


def start_lab(topology_file: Path, *, profile: str, rate: float, where: str, scenario: Path | None = None,
              out: Path | None = None) -> tuple[LabRecord, LabStatus | None]:
    """Start a lab service (``where``: ``host`` or ``guest``); wait until it is up; return it and its status.

    With ``scenario`` the lab replays it first when asked (``{"op": "replay"}``):
    this returns as soon as the lab listens, with no status.
    """
    tag = new_tag()
    while lab_dir(tag).exists():
        tag = new_tag()
    service = [sys.executable, "-m", "lab.session.service", "--tag", tag, "--topology", str(topology_file.resolve()),
               "--profile", profile, "--rate", str(rate)]
    if scenario is not None:
        service += ["--scenario", str(scenario.resolve()), "--out", str((out or Path("artifacts")).resolve())]
    record = LabRecord(tag=tag, topology=topology_file.stem, topology_file=str(topology_file.resolve()),
                       profile=profile, rate=rate, kernel=where, pid=0, started=time.time())
    record.folder.mkdir(parents=True)
    if where == "guest":
        argv = [sys.executable, "-m", "lab.session.relay", "--tag", tag, "--socket", str(record.socket), "--",
                *service, "--console", "/dev/tty2"]
    else:
        argv = [*service, "--socket", str(record.socket)]
    with open(record.log, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=os.getcwd())
    record = LabRecord(**{**record.__dict__, "pid": proc.pid})
    record.save()

    def listening() -> bool:
        if proc.poll() is not None:
            raise LabError(f"the lab stopped while starting (exit status {proc.returncode})")
        return record.socket.exists()

    try:
        wait_until(listening, timeout=UP_TIMEOUT, what=f"the lab's control socket {record.socket}", interval=0.05)
        status = None if scenario is not None else ask_ready(record, timeout=UP_TIMEOUT)
    except LabError as err:
        _stop(proc, record)  # the log is complete once the process is gone
        raise LabError(f"{err}; the lab's log ({record.log}) ends with:\n{_log_tail(record)}") from err
    except KeyboardInterrupt:
        _stop(proc, record)
        raise
    return record, status


def _stop(proc: subprocess.Popen[bytes], record: LabRecord) -> None:
    """Undo a start that failed: ask the process to go, then kill it; keep the log, drop the record."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=DOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    (record.folder / "lab.json").unlink(missing_ok=True)


def connect(record: LabRecord, *, timeout: float | None = 30.0) -> SocketConversation:
    """A conversation with the lab's service."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(record.socket))
    except OSError as err:
        sock.close()
        raise LabError(f"cannot reach lab {record.tag} at {record.socket}: {err.strerror}; its log "
                       f"({record.log}) ends with:\n{_log_tail(record)}") from err
    sock.settimeout(timeout)
    return SocketConversation(sock)


def replies(record: LabRecord, request: Message, *, timeout: float | None = 30.0) -> Iterator[Message]:
    conversation = connect(record, timeout=timeout)
    try:
        conversation.send(request)
        try:
            yield from conversation.replies()
        except socket.timeout as err:
            raise LabError(f"lab {record.tag} did not answer {request.get('op')!r} within {timeout:.0f} s") from err
    finally:
        conversation.close()


def ask(record: LabRecord, request: Message, *, timeout: float | None = 30.0) -> Message:
    """Send one request; return the final reply, or raise its error."""
    answer: Message = {}
    for answer in replies(record, request, timeout=timeout):
        pass
    if not answer.get("ok"):
        raise LabError(str(answer.get("error") or f"lab {record.tag} refused {request.get('op')!r}"))
    return answer


def ask_status(record: LabRecord) -> LabStatus:
    """The lab's status now."""
    return LabStatus.from_json(ask(record, {"op": "status"})["status"])


def ask_ready(record: LabRecord, *, timeout: float) -> LabStatus:
    """Wait until the lab's association is up (or the lab failed: :class:`LabError`); its status then."""
    return LabStatus.from_json(ask(record, {"op": "ready"}, timeout=timeout)["status"])


def bring_down(record: LabRecord) -> str:
    """Ask the lab to go down, wait until its process is gone, remove its state directory."""
    message = ""
    if record.alive():
        try:
            message = str(ask(record, {"op": "down"}, timeout=DOWN_TIMEOUT).get("message") or "")
        except LabError as err:
            message = f"the lab did not answer ({err}); stopping its process"
            os.kill(record.pid, signal.SIGTERM)
        try:
            wait_until(lambda: not process_alive(record.pid, record.tag), timeout=DOWN_TIMEOUT,
                       what=f"lab {record.tag}'s process {record.pid} to end", interval=0.05)
        except WaitTimeout:
            os.killpg(record.pid, signal.SIGKILL)  # started as its own session: the guest goes too
            message += f"; killed process {record.pid} after {DOWN_TIMEOUT:.0f} s"
    record.remove()
    return message
