"""The processes a running lab runs in its nodes: ``sctplab run``, ``ps``, ``logs``, ``stop``.

A lab's :class:`LabProcesses` keeps every :class:`lab.kernel.process.NodeProcess`
that ``sctplab run`` started, in start order, ended ones too, until ``down``
stops those still running (last started first) before the network goes. The
lab's main thread starts them (a process dies with the thread that started
it), each in its node's network namespace, where the lab's timer profile is
already in effect on the endpoint nodes; each writes its stdout and stderr to
``<lab folder>/processes/<NAME>.log``, which the commands read directly (a
guest shares the host's file system).

A name is :data:`NAME_RULE`; by default the program's basename, made unique
with ``-2``, ``-3``... The checks here run on both sides: in the command, before
anything is asked, and in the lab, on what a request carries.
"""

from __future__ import annotations

import math
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Mapping, Sequence

from lab.errors import ConfigError, LabError
from lab.kernel.process import NodeProcess, describe_status
from lab.kernel.sctpproc import socket_inodes
from lab.session.status import ProcessStatus

__all__ = ["LabProcesses", "NAME_RULE", "DEFAULT_SIGNAL", "DEFAULT_GRACE", "check_name", "check_command",
           "default_name", "parse_signal", "check_grace", "run_request", "unknown_process", "stopped_message"]

#: What a process name may be.
NAME_RULE = "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64"
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")
_NOT_NAME = re.compile(r"[^a-z0-9._-]+")
#: How ``sctplab stop`` ends a process by default: this signal, then SIGKILL after the grace period (s).
DEFAULT_SIGNAL, DEFAULT_GRACE = "SIGTERM", 5.0


def check_name(name: object, *, command: str = "run") -> str:
    """``name`` if it is a valid process name, else :class:`ConfigError` saying what one is."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"sctplab {command}: process name {name!r}: expected {NAME_RULE}")
    return name


def check_command(argv: object, *, command: str = "run") -> list[str]:
    """The command to run, a non-empty list of words (:class:`ConfigError` otherwise)."""
    if not isinstance(argv, (list, tuple)) or not argv or not all(isinstance(word, str) for word in argv):
        raise ConfigError(f"sctplab {command}: no command given (sctplab {command} NODE -- CMD...)")
    if not argv[0]:
        raise ConfigError(f"sctplab {command}: the program's name is empty")
    return list(argv)


def default_name(argv: Sequence[str], taken: object) -> str:
    """The program's basename as a process name, made unique among ``taken`` with -2, -3..."""
    base = _NOT_NAME.sub("-", os.path.basename(argv[0]).lower()).lstrip("._-")[:60] or "process"
    name, number = base, 1
    while name in taken:  # type: ignore[operator]
        number += 1
        name = f"{base}-{number}"
    return name


def parse_signal(text: str, *, command: str = "stop") -> str:
    """A signal's name (``SIGTERM``) from ``TERM``, ``sigterm``, ``SIGTERM`` or ``15``."""
    word = text.strip().upper()
    try:
        found = signal.Signals(int(word)) if word.isdigit() else signal.Signals[
            word if word.startswith("SIG") else "SIG" + word]
    except (KeyError, ValueError):
        raise ConfigError(f"sctplab {command}: --signal {text!r}: expected a signal name or number, such as"
                          " TERM, INT, HUP, KILL or 15") from None
    return found.name


def check_grace(grace: object, *, command: str = "stop") -> float:
    """Seconds of grace before SIGKILL: a number >= 0."""
    if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not math.isfinite(grace) or grace < 0:
        raise ConfigError(f"sctplab {command}: --grace {grace!r}: expected seconds >= 0")
    return float(grace)


def run_request(request: Mapping[str, object]) -> tuple[str, list[str], str | None, str | None]:
    """The node, command, name (None: the default) and working directory a ``run`` request carries."""
    node, name, cwd = request.get("node"), request.get("name"), request.get("cwd")
    if not isinstance(node, str):
        raise LabError(f"run: expected a node name, got {node!r}")
    if cwd is not None and not isinstance(cwd, str):
        raise LabError(f"run: expected a working directory, got {cwd!r}")
    return node, check_command(request.get("argv")), None if name is None else check_name(name), cwd


def unknown_process(name: str, names: Sequence[str], tag: str) -> LabError:
    """The error for a process name the lab does not know, naming the ones it does."""
    return LabError(f"no process {name!r} in lab {tag}" + (f" (processes: {', '.join(names)})" if names else
                                                           "; start one with: sctplab run NODE -- CMD..."))


def stopped_message(ended: Sequence[tuple[str, str]]) -> str:
    """``stopped 2 processes: server (killed by SIGTERM), client (exit status 0)`` ("" for none)."""
    if not ended:
        return ""
    count = f"{len(ended)} process" + ("es" if len(ended) > 1 else "")
    return f"stopped {count}: " + ", ".join(f"{name} ({how})" for name, how in ended)


def outcome(process: NodeProcess) -> str:
    """How the process ended (or that it runs), and why SIGKILL if it outlived its grace period."""
    text = describe_status(process.returncode)
    if process.killed:
        sent = signal.Signals(process.stop_signal).name
        text += f" ({sent} did not end it within its {process.grace:g} s grace)"
    return text


def status_of(process: NodeProcess, now: float, sockets: Mapping[int, int] | None = None) -> ProcessStatus:
    """Its status; ``sockets`` (socket inode -> association id, of its node) names the associations it holds."""
    code = process.returncode  # first: it records when the process ended
    until = process.ended if process.ended is not None else now
    held = sorted(sockets[inode] for inode in socket_inodes(process.pid) if inode in sockets) if (
        sockets and code is None) else []
    return ProcessStatus(name=process.name, node=process.node, pid=process.pid, status=outcome(process),
                         returncode=code, uptime=round(until - process.started, 1), command=tuple(process.argv),
                         log=str(process.log), associations=tuple(held))


def _note_end(process: NodeProcess) -> None:
    """(Its own thread.) Wait for the process to end, and note when: its uptime stops there, not when asked."""
    process.proc.wait()
    process.returncode  # noqa: B018 (records when it ended)


class LabProcesses:
    """The processes of one lab, by name in start order. :meth:`start` and :meth:`stop_all` in the main thread."""

    def __init__(self, folder: Path, *, mark: str) -> None:
        self.folder, self.mark = folder, mark
        self._all: dict[str, NodeProcess] = {}

    def start(self, node: str, namespace: str, argv: Sequence[str], *, name: str | None = None,
              cwd: str | None = None) -> ProcessStatus:
        """(Main thread.) Start ``argv`` in the node's namespace; its status. A name of a process that has
        ended may be used again: the new process replaces its record and log."""
        argv = check_command(argv)
        old = None
        if name is None:
            name = default_name(argv, self._all)
        else:
            old = self._all.get(check_name(name))
            if old is not None and old.running:
                raise LabError(f"a process named {name!r} is running (pid {old.pid} in node {old.node}):"
                               " stop it first or choose another --name")
        if cwd is not None and not Path(cwd).is_dir():
            raise LabError(f"the working directory {cwd} does not exist where the lab runs")
        log = self.folder / f"{name}.log"
        if old is not None:
            log.unlink(missing_ok=True)
            del self._all[name]
        process = NodeProcess(name, argv, node=node, namespace=namespace, log=log, env={"SCTPLAB_NODE": node},
                              cwd=Path(cwd) if cwd else None, mark=self.mark)
        self._all[name] = process
        threading.Thread(target=_note_end, args=(process,), name=f"wait-{name}", daemon=True).start()
        return status_of(process, time.monotonic())

    def find(self, name: str, tag: str) -> NodeProcess:
        """The process named ``name`` (:func:`unknown_process` otherwise)."""
        try:
            return self._all[name]
        except KeyError:
            raise unknown_process(name, list(self._all), tag) from None

    def statuses(self, sockets: Mapping[str, Mapping[int, int]] | None = None) -> tuple[ProcessStatus, ...]:
        """Each process's status; ``sockets``: per node, socket inode -> association id (see :func:`status_of`)."""
        now = time.monotonic()
        return tuple(status_of(process, now, (sockets or {}).get(process.node)) for process in self._all.values())

    @staticmethod
    def stop(process: NodeProcess, *, signame: str, grace: float) -> ProcessStatus:
        """(Any thread.) Send ``signame`` to its process group, SIGKILL after ``grace`` s; its status then."""
        process.stop_signal, process.grace = signal.Signals[signame], grace
        process.stop()
        return status_of(process, time.monotonic())

    def stop_all(self) -> str:
        """(Main thread.) Stop the running processes, last started first; :func:`stopped_message` of them."""
        ended: list[tuple[str, str]] = []
        for process in reversed(list(self._all.values())):
            if process.running:
                process.stop()
                ended.append((process.name, outcome(process)))
        return stopped_message(ended)
