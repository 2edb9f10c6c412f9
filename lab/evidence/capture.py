"""Packet capture on every lab link end: one ``tcpdump`` per end, in the node's namespace.

Each capture writes ``<link>-<node>.pcap`` (for example ``path-a-client.pcap``)
with only SCTP packets. The capture point is the veth end itself, so a packet
dropped by netem on that end's egress never appears in its file (netem drops
happen before the capture tap); it does not appear at the far end either.

Two measured ways to lose the end of a capture, and what this module does:

- Without ``--immediate-mode`` libpcap (TPACKET_V3) hands packets over a whole
  ring block at a time, and the block still being filled when tcpdump is
  stopped is never written: 3 packets sent, SIGINT, ``0 packets captured /
  3 received by filter / 0 dropped by kernel``. So tcpdump runs with
  ``--immediate-mode`` as well as ``-U``.
- Even then, SIGINT makes libpcap leave its loop with the packets it has not
  yet read from the ring unwritten (1 of 3 written when SIGINT followed the
  burst within a millisecond). So before stopping, :func:`capture` waits
  until every file has stopped growing for :data:`DRAIN_QUIET` (at most
  :data:`DRAIN_MAX`): with ``-U`` each packet is written as it is read, so a
  quiet file means tcpdump has caught up. A packet arriving during the stop
  itself may still be missing; it is after the end of the run.

Neither loss shows in "dropped by kernel" (the kernel delivered those packets);
:attr:`CaptureStats.captured` below :attr:`CaptureStats.received` does show it,
but "received" also counts packets that arrived during the stop.

Every process is owned: leaving the context (normally, on an error or on
Ctrl-C) stops each tcpdump with SIGINT, then SIGKILL after
:data:`STOP_GRACE` seconds, in reverse order of starting. tcpdump runs in its
own session, so a terminal's Ctrl-C reaches only the lab, which then stops
the captures and keeps their files complete.

This module does not import scapy (slow to import in the guest kernel); the
files are dissected by :mod:`lab.evidence.wire`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator, Sequence

from lab.errors import KernelError
from lab.kernel import netns
from lab.kernel.process import MARK_VARIABLE
from lab.kernel.network import Network
from lab.wait import POLL_INTERVAL, wait_until

__all__ = [
    "CapturePoint",
    "CaptureStats",
    "Captures",
    "capture",
    "capture_points",
    "tcpdump_argv",
    "parse_statistics",
    "READY_MARKER",
    "STOP_GRACE",
    "DRAIN_QUIET",
    "DRAIN_MAX",
    "UNKNOWN_DROPS",
    "FILTER",
]

#: tcpdump prints this on stderr once the interface is open and the filter set.
READY_MARKER = "listening on"
#: Seconds between SIGINT and SIGKILL when stopping a tcpdump.
STOP_GRACE = 3.0
#: Before the stop, wait until every file has stopped growing for this long
#: (tcpdump caught up), but no longer than DRAIN_MAX: see :func:`capture`.
DRAIN_QUIET = 0.1
DRAIN_MAX = 1.0
#: ``Captures.dropped`` value of a capture that gave no statistics (it was
#: killed or died): its evidence is incomplete by an unknown amount.
UNKNOWN_DROPS = -1
#: Only SCTP: the lab's evidence is the association's packets.
FILTER = "sctp"


@dataclass(frozen=True)
class CapturePoint:
    """One end of one link: where a tcpdump listens and the file it writes."""

    link: str
    node: str
    ifname: str
    netns: str
    path: Path
    local: frozenset[str]  #: the node's address(es) on this link, as strings

    @property
    def name(self) -> str:
        """``<link>-<node>``, e.g. ``path-a-client`` (also the file's stem)."""
        return f"{self.link}-{self.node}"


@dataclass(frozen=True)
class CaptureStats:
    """tcpdump's closing statistics."""

    captured: int
    received: int  #: "received by filter" (counted by the kernel, may include packets after the stop)
    dropped: int  #: "dropped by kernel": the ring buffer overflowed, packets are missing
    if_dropped: int | None = None  #: "dropped by interface", when libpcap reports it


@dataclass
class Captures:
    """The running captures; ``dropped`` and ``stats`` are filled when they stop."""

    points: list[CapturePoint]
    #: ``time.time() - time.monotonic()`` when the captures started: pcap
    #: timestamps are wall clock, the lab's timeline is ``time.monotonic()``.
    clock_offset: float
    #: Per file, packets tcpdump reported as dropped by the kernel; nonzero
    #: (or :data:`UNKNOWN_DROPS`) means the evidence is incomplete.
    dropped: dict[Path, int] = field(default_factory=dict)
    stats: dict[Path, CaptureStats] = field(default_factory=dict)

    def unexplained_drops(self, downed_links: set[str] | frozenset[str] = frozenset()) -> dict[str, int]:
        """Drops per capture file name, except on links in ``downed_links``.

        An interface going down makes the kernel count packets the link
        discarded as "dropped" for the captures at both of its ends (measured:
        equal counts, files identical at both ends), so drops on a link a
        fault took down are not missing evidence.
        """
        return {point.path.name: n for point in self.points
                if (n := self.dropped.get(point.path, 0)) and point.link not in downed_links}

    @property
    def complete(self) -> bool:
        """True once every capture stopped and reported no dropped packet."""
        return len(self.dropped) == len(self.points) and not any(self.dropped.values())

    def to_wall(self, monotonic: float) -> float:
        """A ``time.monotonic()`` instant as a pcap (wall clock) timestamp."""
        return monotonic + self.clock_offset

    def to_monotonic(self, wall: float) -> float:
        """A pcap (wall clock) timestamp on the lab's ``time.monotonic()`` timeline."""
        return wall - self.clock_offset


def capture_points(net: Network, directory: Path, links: Sequence[str] | None = None) -> list[CapturePoint]:
    """Both ends of every link (or of ``links``), each writing into ``directory``."""
    topology = net.topology
    chosen = list(topology.links) if links is None else list(links)
    points: list[CapturePoint] = []
    for link in chosen:
        if link not in topology.links:
            raise KernelError(f"no link {link!r} in topology {topology.name} (links: {', '.join(topology.links)})")
        spec = topology.links[link]
        for node in (spec.a.node, spec.b.node):
            points.append(
                CapturePoint(
                    link=link,
                    node=node,
                    ifname=net.ifname(link, node),
                    netns=net.netns(node),
                    path=Path(directory) / f"{link}-{node}.pcap",
                    local=frozenset({str(net.address(link, node))}),
                )
            )
    return points


def tcpdump_argv(point: CapturePoint, *, nsenter: str = "nsenter", tcpdump: str = "tcpdump") -> list[str]:
    """The command that captures at ``point``: tcpdump in the node's namespace (no shell)."""
    return [
        nsenter,
        f"--net={netns.path_of(point.netns)}",
        tcpdump,
        "-i",
        point.ifname,
        "--immediate-mode",
        "-U",
        "-n",
        "-w",
        str(point.path),
        FILTER,
    ]


_STAT_LINES = {
    "captured": re.compile(r"^(\d+) packets? captured$", re.MULTILINE),
    "received": re.compile(r"^(\d+) packets? received by filter$", re.MULTILINE),
    "dropped": re.compile(r"^(\d+) packets? dropped by kernel$", re.MULTILINE),
    "if_dropped": re.compile(r"^(\d+) packets? dropped by interface$", re.MULTILINE),
}


def parse_statistics(stderr: str) -> CaptureStats | None:
    """tcpdump's closing statistics from its stderr; None if they are missing (it was killed)."""
    found: dict[str, int] = {}
    for key, pattern in _STAT_LINES.items():
        matches = pattern.findall(stderr)
        if matches:
            found[key] = int(matches[-1])
    if not {"captured", "received", "dropped"} <= found.keys():
        return None
    return CaptureStats(
        captured=found["captured"],
        received=found["received"],
        dropped=found["dropped"],
        if_dropped=found.get("if_dropped"),
    )


class _Tcpdump:
    """One owned tcpdump process and the thread that reads its stderr."""

    def __init__(self, point: CapturePoint, argv: list[str]) -> None:
        self.point, self.argv = point, argv
        self.ready = threading.Event()
        self._lines: list[str] = []
        self._lock = threading.Lock()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a terminal's Ctrl-C must not stop it behind our back
                env={**os.environ, MARK_VARIABLE: f"capture:{os.getpid()}"},  # sctplab clean ends it if we die
            )
        except OSError as err:
            raise KernelError(f"capture at {point.name}: cannot run {_shell(argv)}: {err}") from err
        assert self.proc.stderr is not None
        self._reader = threading.Thread(
            target=self._read, args=(self.proc.stderr,), name=f"tcpdump-{point.name}", daemon=True
        )
        self._reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for raw in stream:
                line = raw.decode(errors="replace").rstrip("\n")
                with self._lock:
                    self._lines.append(line)
                if READY_MARKER in line:
                    self.ready.set()

    @property
    def stderr(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def failure(self, what: str) -> KernelError:
        self._reader.join(timeout=1.0)
        stderr = self.stderr.strip() or "(nothing on stderr)"
        hint = ""
        if self.proc.returncode == 127 or "failed to execute" in stderr:
            hint = " (install the tcpdump package)"
        return KernelError(
            f"capture at {self.point.name}: tcpdump {what}{hint}: {stderr} [argv: {_shell(self.argv)}]"
        )

    def check_ready(self) -> bool:
        if self.ready.is_set():
            return True
        code = self.proc.poll()
        if code is not None:
            raise self.failure(f"exited with status {code} before listening")
        return False

    def stop(self) -> tuple[CaptureStats | None, int | None]:
        """SIGINT, then SIGKILL after the grace time.

        Return (statistics, exit status if it ended on its own or failed: it
        had died before the stop, or exited nonzero on SIGINT; None when it
        stopped as asked, or had to be killed, which only loses the statistics).
        """
        early = self.proc.poll()
        killed = False
        try:
            if early is None:
                self._signal(signal.SIGINT)
                try:
                    self.proc.wait(timeout=STOP_GRACE)
                except subprocess.TimeoutExpired:
                    killed = True
                    self._signal(signal.SIGKILL)
                    self.proc.wait()
        except BaseException:  # interrupted while stopping: never leave it running
            self._signal(signal.SIGKILL)
            self.proc.wait()
            raise
        self._reader.join(timeout=STOP_GRACE)
        status = self.proc.returncode
        failed = early is not None or (status != 0 and not killed)
        return parse_statistics(self.stderr), (status if failed else None)

    def _signal(self, signum: int) -> None:
        try:
            os.kill(self.proc.pid, signum)
        except ProcessLookupError:
            pass


def _drain(dumps: Sequence[_Tcpdump]) -> None:
    """Wait until each running tcpdump's file has not grown for DRAIN_QUIET s (at most DRAIN_MAX s)."""
    start = time.monotonic()
    sizes: dict[Path, int] = {}
    changed: dict[Path, float] = {}
    pause = threading.Event()
    while True:
        now = time.monotonic()
        for dump in dumps:
            if dump.proc.poll() is not None:
                continue
            path = dump.point.path
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                size = -1
            if sizes.get(path) != size:
                sizes[path], changed[path] = size, now
        if all(now - since >= DRAIN_QUIET for since in changed.values()) or now - start >= DRAIN_MAX:
            return
        pause.wait(POLL_INTERVAL)


def _shell(argv: Sequence[str]) -> str:
    return " ".join(argv)


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise KernelError(f"{name} not found on PATH: install the {package} package")
    return path


@contextmanager
def capture(
    net: Network,
    directory: Path,
    *,
    links: Sequence[str] | None = None,
    ready_timeout: float = 10.0,
) -> Iterator[Captures]:
    """Capture SCTP on both ends of every link (or of ``links``) into ``directory``.

    Yields once every tcpdump listens. On exit the files are drained (until
    each has been quiet for :data:`DRAIN_QUIET` s), then each tcpdump is stopped and its
    closing statistics fill :attr:`Captures.dropped`. A missing tcpdump, or
    one that exits before listening, raises :class:`~lab.errors.KernelError`
    with its stderr and argv; so does one found dead when it is stopped,
    unless another exception is already leaving the context (never masked).
    Waiting longer than ``ready_timeout`` s for one to listen raises
    :class:`~lab.errors.WaitTimeout` naming the capture point.
    """
    nsenter = _tool("nsenter", "util-linux")
    tcpdump = _tool("tcpdump", "tcpdump")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    points = capture_points(net, directory, links)
    captures = Captures(points=points, clock_offset=time.time() - time.monotonic())
    died: list[KernelError] = []

    def stop(dump: _Tcpdump) -> None:
        stats, failed = dump.stop()
        path = dump.point.path
        captures.dropped[path] = stats.dropped if stats is not None else UNKNOWN_DROPS
        if stats is not None:
            captures.stats[path] = stats
        if failed is not None:
            died.append(dump.failure(f"exited with status {failed} while capturing"))

    with ExitStack() as owned:
        dumps: list[_Tcpdump] = []
        for point in points:
            dump = _Tcpdump(point, tcpdump_argv(point, nsenter=nsenter, tcpdump=tcpdump))
            owned.callback(stop, dump)  # registered at once: stopped in reverse order, whatever happens
            dumps.append(dump)
        for dump in dumps:
            wait_until(
                dump.check_ready,
                timeout=ready_timeout,
                what=f"tcpdump at {dump.point.name} ({dump.point.ifname} in {dump.point.netns}) to listen",
            )
        owned.callback(_drain, dumps)  # runs first on exit: let tcpdump catch up before SIGINT
        yield captures
    # Reached only when the body (and every stop) succeeded: an exception
    # already leaving the context is never replaced by this one.
    if died:
        raise died[-1] if len(died) == 1 else KernelError("; ".join(str(err) for err in reversed(died)))
