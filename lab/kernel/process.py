"""Processes the lab runs in a node's network namespace: the user's applications, their setup and checks.

A :class:`NodeProcess` is owned: started with ``nsenter --net=<namespace>``
in a session of its own (a terminal's Ctrl-C reaches the lab, which stops it
in order), its stdout and stderr written to one log file, and stopped with its
stop signal, then SIGKILL after the grace period, always to its whole process
group. The kernel ends it too if the thread that started it dies, even by
SIGKILL (``PR_SET_PDEATHSIG``), so a killed run leaves no application behind;
start processes from a thread that lives as long as they should (the main
thread). Every process carries the environment variable
:data:`MARK_VARIABLE` naming its owner, by which ``sctplab clean`` recognises
an orphan.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.errors import KernelError, WaitTimeout
from lab.kernel import netns
from lab.kernel.sctpproc import read_associations, read_endpoints
from lab.wait import wait_until

__all__ = ["NodeProcess", "Processes", "CommandResult", "run_command", "MARK_VARIABLE", "marked_processes",
           "describe_status", "tail"]

#: The environment variable that marks a process as the lab's: ``<owner tag>:<pid of the lab process>``.
MARK_VARIABLE = "SCTPLAB_OWNER"

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent() -> None:  # runs in the child between fork and exec: async-signal-safe calls only
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def marked_processes() -> list[tuple[int, str, int]]:
    """(pid, owner tag, owner pid) of every process carrying :data:`MARK_VARIABLE` (this one excepted)."""
    needle = f"{MARK_VARIABLE}=".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in environ:
            if item.startswith(needle):
                tag, _, owner = item[len(needle):].decode(errors="replace").rpartition(":")
                if owner.isdigit():
                    found.append((int(entry), tag, int(owner)))
    return found


def describe_status(code: int | None) -> str:
    """An exit status in words: ``exit status 1``, ``killed by SIGTERM``, ``running``."""
    if code is None:
        return "running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def tail(path: Path, lines: int = 15) -> str:
    """The end of a log file, indented: its first 3 lines too when it is longer than ``lines`` (programs often
    say what went wrong first, then print their usage), or a note that it is empty or missing."""
    try:
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "    (no log)"
    if len(text) > lines:
        text = [*text[:3], f"[... {len(text) - lines} lines ...]", *text[-(lines - 3):]]
    return "\n".join("    " + line for line in text) if text else "    (the log is empty)"


def _nsenter() -> str:
    path = shutil.which("nsenter")
    if path is None:
        raise KernelError("nsenter not found on PATH: install the util-linux package")
    return path


class NodeProcess:
    """One command running in a node's namespace, with its log; :meth:`stop` ends it and its children."""

    def __init__(self, name: str, argv: Sequence[str], *, node: str, namespace: str, log: Path,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None, mark: str = "",
                 stop_signal: int = signal.SIGTERM, grace: float = 5.0) -> None:
        self.name, self.argv, self.node, self.namespace, self.log = name, list(argv), node, namespace, log
        self.stop_signal, self.grace = stop_signal, grace
        self.stopped_by_lab = False
        self.killed = False  #: it outlived its grace period and got SIGKILL
        self.started = time.monotonic()
        self.ended: float | None = None
        log.parent.mkdir(parents=True, exist_ok=True)
        environment = {**os.environ, **(env or {})}
        if mark:
            environment[MARK_VARIABLE] = mark
        if shutil.which(self.argv[0], path=environment.get("PATH")) is None and "/" not in self.argv[0]:
            raise KernelError(f"{name}: program {self.argv[0]!r} not found on PATH in node {node}"
                              " (install it, or give its full path)")
        with open(log, "ab") as out:
            try:
                self.proc = subprocess.Popen(
                    [_nsenter(), f"--net={netns.path_of(namespace)}", "--", *self.argv],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=environment,
                    cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent)
            except OSError as err:
                raise KernelError(f"{name}: cannot start {' '.join(self.argv)} in node {node}: {err}") from err
        self.pid = self.proc.pid

    def __repr__(self) -> str:
        return f"<NodeProcess {self.name} pid={self.pid} in {self.node}: {describe_status(self.returncode)}>"

    @property
    def returncode(self) -> int | None:
        """The exit status (negative: the signal that ended it), None while it runs."""
        code = self.proc.poll()
        if code is not None and self.ended is None:
            self.ended = time.monotonic()
        return code

    @property
    def running(self) -> bool:
        return self.returncode is None

    def status(self) -> str:
        """How it ended (or that it runs), in words."""
        text = describe_status(self.returncode)
        return text + (" after SIGKILL (it outlived its grace period)" if self.killed else "")

    def wait_exit(self, timeout: float) -> int:
        """Wait until it ends by itself; its exit status (:class:`WaitTimeout` naming it)."""
        code = wait_until(lambda: (lambda c: None if c is None else (c,))(self.returncode), timeout=timeout,
                          what=f"{self.name} ({' '.join(self.argv)}) in node {self.node} to exit", interval=0.02)
        return code[0]

    def wait_ready(self, *, listening: int | None = None, log: str | None = None, association: bool = False,
                   timeout: float, tick: float = 0.01) -> float:
        """Wait until the process is ready by one condition; the seconds it took.

        ``listening``: an SCTP endpoint is bound to this port in its namespace (``/proc/net/sctp/eps``);
        ``log``: a line of its output matches this regular expression; ``association``: its namespace has an
        established association (``/proc/net/sctp/assocs``). :class:`KernelError` with its log's tail if it
        ends first, :class:`WaitTimeout` naming the condition.
        """
        if sum((listening is not None, log is not None, association)) != 1:
            raise ValueError("wait_ready: give exactly one of listening, log, association")
        pattern = re.compile(log, re.MULTILINE) if log is not None else None

        def ready() -> bool:
            if self.returncode is not None:
                raise KernelError(f"{self.name} ended before it was ready ({self.status()}); its log ({self.log})"
                                  f" ends with:\n{self.tail()}")
            if pattern is not None:
                return pattern.search(self.output()) is not None
            with netns.entered(self.namespace):
                if listening is not None:
                    return listening in read_endpoints()
                return any(a.state == "ESTABLISHED" for a in read_associations(tick=tick))

        what = (f"an SCTP endpoint listening on port {listening}" if listening is not None
                else f"a line of its output matching {log!r}" if log is not None else "an established association")
        started = time.monotonic()
        try:
            wait_until(ready, timeout=timeout, what=f"{self.name} in node {self.node}: {what}", interval=0.02)
        except WaitTimeout as err:
            raise WaitTimeout(f"{err}; its log ({self.log}) ends with:\n{self.tail()}") from None
        return time.monotonic() - started

    def output(self) -> str:
        """Everything it wrote so far."""
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, lines: int = 15) -> str:
        return tail(self.log, lines)

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self) -> int:
        """Send the stop signal to its process group, SIGKILL after the grace period; its exit status.

        Whatever happens meanwhile (Ctrl-C included), the group gets SIGKILL before this returns or raises.
        """
        try:
            if self.returncode is None:
                self.stopped_by_lab = True
                self._signal_group(self.stop_signal)
                try:
                    self.proc.wait(timeout=self.grace)
                except subprocess.TimeoutExpired:
                    self.killed = True
                    self._signal_group(signal.SIGKILL)
                    self.proc.wait()
        except BaseException:
            self._signal_group(signal.SIGKILL)
            self.proc.wait()
            raise
        finally:
            self._signal_group(signal.SIGKILL)  # what it left behind in its group
        code = self.proc.returncode
        self.returncode  # noqa: B018 (records when it ended)
        return code


class Processes:
    """Starts processes in the nodes of a network; stops them all, last started first, on :meth:`stop_all`
    (and on leaving its context). ``namespaces``: node -> network namespace; logs go to ``folder``."""

    def __init__(self, namespaces: Mapping[str, str], folder: Path, *, mark: str = "") -> None:
        self.namespaces, self.folder, self.mark = dict(namespaces), folder, mark
        self.started: list[NodeProcess] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, node: str, argv: Sequence[str], *, name: str | None = None, env: Mapping[str, str] | None = None,
              cwd: Path | None = None, stop_signal: int = signal.SIGTERM, grace: float = 5.0) -> NodeProcess:
        """Start ``argv`` in ``node``'s namespace; its log is ``<folder>/<name>.log`` (name: the program's, made
        unique). :class:`KernelError` for an unknown node or a program that is not installed."""
        if node not in self.namespaces:
            raise KernelError(f"no node {node!r} (nodes: {', '.join(self.namespaces)})")
        if not argv:
            raise KernelError("no command given")
        base = name or os.path.basename(argv[0])
        taken = {p.name for p in self.started}
        unique = next(n for n in (base, *(f"{base}-{i}" for i in range(2, 10_000))) if n not in taken)
        process = NodeProcess(unique, argv, node=node, namespace=self.namespaces[node],
                              log=self.folder / f"{unique}.log", env=env, cwd=cwd, mark=self.mark,
                              stop_signal=stop_signal, grace=grace)
        self.started.append(process)
        return process

    def stop_all(self) -> list[NodeProcess]:
        """Stop every process still running, last started first; all of them, as they ended."""
        for process in reversed(self.started):
            process.stop()
        return list(self.started)


@dataclass(frozen=True)
class CommandResult:
    """A command run to its end: setup before an application, or a check after it."""

    argv: tuple[str, ...]
    node: str
    returncode: int
    log: Path
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_command(name: str, argv: Sequence[str], *, node: str, namespace: str, log: Path, timeout: float,
                env: Mapping[str, str] | None = None, cwd: Path | None = None, mark: str = "") -> CommandResult:
    """Run ``argv`` in the node's namespace until it ends (killed after ``timeout`` s); its result."""
    started = time.monotonic()
    process = NodeProcess(name, argv, node=node, namespace=namespace, log=log, env=env, cwd=cwd, mark=mark,
                          stop_signal=signal.SIGKILL, grace=1.0)
    try:
        code = process.wait_exit(timeout)
    except WaitTimeout:
        process.stop()
        raise KernelError(f"{name}: {' '.join(argv)} did not end within {timeout:g} s in node {node}; its log"
                          f" ({log}) ends with:\n{process.tail()}") from None
    finally:
        process.stop()
    return CommandResult(tuple(argv), node, code, log, time.monotonic() - started)
