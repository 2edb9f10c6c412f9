"""Run one command inside a User-Mode Linux guest kernel, as if it ran here.

The guest boots with the host's file system as its root (hostfs), so the same
Python, virtual environment and project files are used. What carries through:
the command's arguments, the working directory, the environment, its output
(streamed live), its exit status, and every file it writes (hostfs writes go
straight to the host). Ctrl-C is delivered to the command as SIGINT; a second
Ctrl-C, or the grace period running out, kills the guest. The guest's own
/run is private, so its network namespaces never appear on the host.
"""

from __future__ import annotations

import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from lab.errors import CapabilityError, GuestError
from lab.guest.shim import shim_path

__all__ = ["GuestKernel", "BootedGuest", "booted", "find_guest_kernel", "run_in_guest", "GUEST_MODULES"]

#: Loaded before the command starts, so no test pays for module loading.
GUEST_MODULES = ("sctp", "sch_netem", "veth", "hmac")

_MODULES_DIR = Path("/usr/lib/uml/modules")
_FALLBACK_DIRS = ("/usr/bin", "/usr/sbin", "/sbin")  # when PATH lacks them (e.g. sudo, cron)
_ENV_SKIPPED = {"LD_PRELOAD", "PWD", "OLDPWD", "SHLVL", "_"}
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INTERRUPT = b"\x03"


@dataclass(frozen=True)
class GuestKernel:
    """A usable User-Mode Linux kernel and what it needs."""

    binary: Path
    release: str
    modules: Path
    modprobe: Path

    def describe(self) -> str:
        return f"User-Mode Linux {self.release} ({self.binary})"


def find_guest_kernel() -> GuestKernel:
    """Locate linux.uml, its modules and modprobe, or say which package is missing."""
    fallback = os.pathsep.join(_FALLBACK_DIRS)
    binary = shutil.which("linux.uml") or shutil.which("linux.uml", path=fallback)
    modprobe = shutil.which("modprobe") or shutil.which("modprobe", path=fallback)
    missing = []
    if binary is None:
        missing.append("linux.uml (Debian/Ubuntu package user-mode-linux)")
    if modprobe is None:
        missing.append("modprobe (package kmod)")
    releases = sorted(p.name for p in _MODULES_DIR.iterdir()) if _MODULES_DIR.is_dir() else []
    if binary is not None and not releases:
        missing.append(f"the guest kernel's modules in {_MODULES_DIR} (package user-mode-linux)")
    if missing:
        raise CapabilityError("no guest kernel available: missing " + "; ".join(missing))
    assert binary is not None and modprobe is not None
    return GuestKernel(Path(binary), releases[-1], _MODULES_DIR, Path(modprobe))


def _guest_environment(env: Mapping[str, str]) -> dict[str, str]:
    out = {k: v for k, v in env.items() if k not in _ENV_SKIPPED and _SHELL_NAME.match(k)}
    out["SCTPLAB_IN_GUEST"] = "1"
    if sys.stdout.isatty():
        size = shutil.get_terminal_size()
        out.setdefault("COLUMNS", str(size.columns))
        out.setdefault("LINES", str(size.lines))
    else:
        # The command sees a terminal (the guest console); the host has none.
        out.setdefault("NO_COLOR", "1")
        out.setdefault("PY_COLORS", "0")
        out.setdefault("TERM", "dumb")
        out.setdefault("COLUMNS", "100")
    return out


def _write_exchange(exchange: Path, argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> Path:
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items())]
    lines.append(f"cd {shlex.quote(str(cwd))} || exit 126")
    lines.append("set -- " + " ".join(shlex.quote(a) for a in argv))
    (exchange / "env.sh").write_text("\n".join(lines) + "\n")
    init = exchange / "init"
    init.write_bytes(resources.files("lab.guest").joinpath("init.sh").read_bytes())
    init.chmod(0o755)
    return init


class _Relay(threading.Thread):
    """Copies a guest console to ``out`` as it arrives (CRLF -> LF)."""

    def __init__(self, fd: int, out: int) -> None:
        super().__init__(name="guest-console", daemon=True)
        self.fd = fd
        self.out = out
        self.tail = b""

    def run(self) -> None:
        pending_cr = False
        try:
            while chunk := os.read(self.fd, 65536):
                if pending_cr:
                    chunk = b"\r" + chunk
                pending_cr = chunk.endswith(b"\r")
                if pending_cr:
                    chunk = chunk[:-1]
                chunk = chunk.replace(b"\r\n", b"\n")
                self.tail = (self.tail + chunk)[-4000:]
                os.write(self.out, chunk)
        except OSError:
            pass  # the console was closed under us: the guest is being torn down


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class BootedGuest:
    """A running guest: its process, its command's console, and any extra console lines.

    ``channels[i]`` is ``(to_guest, from_guest)``, the host's ends of the
    guest's ``/dev/tty{i + 2}`` (raw bytes once the guest sets the line raw).
    """

    proc: subprocess.Popen[bytes]
    exchange: Path
    console: int
    relay: _Relay
    channels: list[tuple[int, int]]

    def status(self, interrupted: str | None, timeout: float | None) -> int:
        """The command's exit status, or :class:`GuestError` saying why there is none."""
        self.relay.join(timeout=5)
        if interrupted == "timeout":
            raise GuestError(f"the guest run exceeded its timeout of {timeout:.0f} s and was stopped")
        error_file = self.exchange / "error"
        if error_file.exists():
            raise GuestError(f"the guest could not start the command: {error_file.read_text().strip()}")
        status_file = self.exchange / "status"
        if not status_file.exists():
            try:
                log_tail = (self.exchange / "uml.log").read_text(errors="replace")[-1500:]
            except FileNotFoundError:  # e.g. `sctplab clean` in another guest removed the directory
                raise GuestError(f"the guest's exchange directory {self.exchange} was removed while it ran") from None
            raise GuestError(
                f"the guest kernel stopped without reporting an exit status (exit code {self.proc.returncode}); "
                f"its log ends with: {log_tail.strip()!r}"
            )
        if interrupted == "interrupt":
            raise KeyboardInterrupt
        return int(status_file.read_text().strip() or 125)


@contextmanager
def booted(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    memory: str = "1G",
    kernel: GuestKernel | None = None,
    output: int | None = None,
    channels: int = 0,
) -> Iterator[BootedGuest]:
    """Boot a guest that runs ``argv``; its output is copied to ``output`` (default: our stdout).

    On exit the guest is killed if it still runs, and every file descriptor
    and the exchange directory are removed.
    """
    kernel = kernel or find_guest_kernel()
    workdir = Path(cwd or os.getcwd()).resolve()
    if workdir == Path("/run") or Path("/run") in workdir.parents:
        raise GuestError(f"the working directory {workdir} is under /run, which the guest keeps private")
    shim = shim_path()
    exchange = Path(tempfile.mkdtemp(prefix="sctplab-guest-", dir="/var/tmp"))
    fds: list[int] = []

    def pipe() -> tuple[int, int]:
        r, w = os.pipe()
        fds.extend((r, w))
        return r, w

    proc: subprocess.Popen[bytes] | None = None
    try:
        init = _write_exchange(exchange, argv, workdir, _guest_environment(env or os.environ))
        console_in_r, console_in_w = pipe()
        console_out_r, console_out_w = pipe()
        lines = [pipe() + pipe() for _ in range(channels)]  # (in_r, in_w, out_r, out_w)
        guest_ends = [console_in_r, console_out_w] + [fd for r, _, _, w in lines for fd in (r, w)]
        log = open(exchange / "uml.log", "wb")
        with log:
            cmdline = [
                str(kernel.binary), f"mem={memory}", "rootfstype=hostfs", "rootflags=/", "rw",
                f"init={init}", "quiet", "con=null", f"con0=null,fd:{log.fileno()}",
                f"con1=fd:{console_in_r},fd:{console_out_w}",
                *(f"con{i + 2}=fd:{r},fd:{w}" for i, (r, _, _, w) in enumerate(lines)),
                f"SCTPLAB_EXCHANGE={exchange}", f"SCTPLAB_MODULES_DIR={kernel.modules}",
                f"SCTPLAB_MODPROBE={kernel.modprobe}", "SCTPLAB_LOAD_MODULES=" + ",".join(GUEST_MODULES),
            ]
            # UML makes its umid directory under $HOME and panics without one.
            uml_env = {"HOME": str(exchange), **os.environ, "LD_PRELOAD": str(shim)}
            proc = subprocess.Popen(
                cmdline, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=uml_env,
                pass_fds=(*guest_ends, log.fileno()), start_new_session=True, preexec_fn=_die_with_parent,
            )
        for fd in guest_ends:  # the guest holds them now: our copies would keep its lines open
            os.close(fd)
            fds.remove(fd)
        relay = _Relay(console_out_r, sys.stdout.fileno() if output is None else output)
        relay.start()
        yield BootedGuest(proc, exchange, console_in_w, relay, [(w, r) for _, w, r, _ in lines])
    finally:
        if proc is not None and proc.poll() is None:
            _kill(proc)
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(exchange, ignore_errors=True)


def run_in_guest(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    grace: float = 30.0,
    memory: str = "1G",
    kernel: GuestKernel | None = None,
    stdin: bool = False,
) -> int:
    """Run ``argv`` in a fresh guest and return its exit status.

    Raises :class:`GuestError` if the guest fails to boot or run, or ran
    longer than ``timeout`` seconds (it is then interrupted, and killed after
    ``grace`` seconds). KeyboardInterrupt is forwarded to the command as
    SIGINT and re-raised once the guest has stopped.
    """
    with booted(argv, cwd=cwd, env=env, memory=memory, kernel=kernel) as guest:
        if stdin:
            threading.Thread(target=_forward_stdin, args=(guest.console,), name="guest-stdin", daemon=True).start()
        interrupted = _supervise(guest.proc, guest.console, timeout=timeout, grace=grace)
        return guest.status(interrupted, timeout)


def _forward_stdin(console: int) -> None:
    """Copy our stdin to the guest's console until either ends."""
    try:
        while chunk := os.read(sys.stdin.fileno(), 4096):
            os.write(console, chunk)
    except (OSError, ValueError):
        pass  # the guest is gone, or there is no stdin


def _supervise(proc: subprocess.Popen[bytes], console: int, *, timeout: float | None, grace: float) -> str | None:
    """Wait for the guest; on Ctrl-C or timeout interrupt it, then kill it after ``grace``."""
    reason = None
    try:
        proc.wait(timeout=timeout)
        return None
    except subprocess.TimeoutExpired:
        reason = "timeout"
    except KeyboardInterrupt:
        reason = "interrupt"
    try:
        os.write(console, _INTERRUPT)
        proc.wait(timeout=grace)
    except (KeyboardInterrupt, subprocess.TimeoutExpired, OSError):
        _kill(proc)
    return reason


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the guest's process group; it may be gone already (Ctrl-C while it powered off)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
