"""The evidence of one run: where it is, and the three sources it comes from.

:class:`Evidence` gathers the application (the run's :class:`~lab.events.EventLog`:
notifications and application errors), the kernel (the path-state timeline:
anything with ``states(side, peer)``, e.g. the :class:`~lab.evidence.paths.PathPoller`)
and the wire (the pcaps of every link end, dissected with scapy). It knows
the addresses of each end, not the endpoints themselves, so the same
evidence serves a run of the lab's own endpoints and of any other SCTP
application. The judgement over it is :mod:`lab.judge`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

from lab.events import EventLog
from lab.evidence.capture import Captures
from lab.evidence.wire import Chunk, Wire
from lab.model.profile import TimerProfile
from lab.sctp.pair import EndpointPair
from lab.sctp.traffic import Arrival, DeliveryReport, Stall
from lab.wait import wait_until

__all__ = ["Evidence", "PathStates", "WIRE_POLL_INTERVAL"]

#: How often growing captures are re-read while waiting for something on the wire.
WIRE_POLL_INTERVAL = 0.1


class PathStates(Protocol):
    """The kernel's view of the paths over time (polled)."""

    def states(self, side: str, peer: str) -> list[tuple[float, str]]:
        """(monotonic time, state name) each time ``side``'s path to ``peer`` changed state."""
        ...

    def save(self, path: Path, log: EventLog) -> None:
        """Write the timeline (notifications and samples) as JSON."""
        ...


class Evidence:
    """What one run left behind, and where its artifacts are.

    ``client``/``server``: each end's addresses. ``pair``: the lab's own
    endpoints when they ran (their messages are saved with the evidence); the
    judgement never needs them.
    """

    def __init__(self, *, folder: Path, log: EventLog, client: Iterable[str], server: Iterable[str],
                 captures: Captures | None = None, paths: PathStates | None = None,
                 profile: TimerProfile | None = None, pair: EndpointPair | None = None) -> None:
        self.folder, self.log, self.captures, self.paths = folder, log, captures, paths
        self.client, self.server = tuple(map(str, client)), tuple(map(str, server))
        self.profile, self.pair = profile, pair

    @classmethod
    def of_pair(cls, pair: EndpointPair, *, folder: Path, captures: Captures | None = None,
                paths: PathStates | None = None) -> Evidence:
        """The evidence of a run of the lab's own endpoints."""
        return cls(folder=folder, log=pair.log, client=map(str, pair.client.addresses),
                   server=map(str, pair.server.addresses), captures=captures, paths=paths, profile=pair.profile,
                   pair=pair)

    @functools.cached_property
    def wire(self) -> Wire:
        """The dissected captures (read once, on first use)."""
        if self.captures is None:
            raise AssertionError("no captures were taken in this run (use the lab_captures fixture)")
        return Wire.from_points(self.captures.points)

    def refresh(self) -> Wire:
        """Read the captures again (they grow while the run goes on)."""
        self.__dict__.pop("wire", None)
        return self.wire

    def wait_for_wire(self, check: Callable[[Wire], bool], *, timeout: float, what: str) -> Wire:
        """Re-read the captures until ``check(wire)`` holds; ``what`` names the condition."""
        return wait_until(lambda: (lambda w: w if check(w) else None)(self.refresh()), timeout=timeout,
                          what=f"{what} on the wire ({self.pcaps()})", interval=WIRE_POLL_INTERVAL)

    def when(self, chunk: Chunk) -> float:
        """A captured chunk's time on the run's monotonic clock."""
        assert self.captures is not None
        return chunk.at - self.captures.clock_offset

    def first_data(self, src: str, dst: str, *, after: float) -> Chunk | None:
        """The first DATA chunk that arrived on ``src -> dst`` at or after ``after`` (monotonic)."""
        return next((c for c in self.wire.data(src, dst) if self.when(c) >= after), None)

    def data_to_server(self) -> list[Chunk]:
        """Every DATA chunk that arrived at one of the server's addresses from the client, in time order (once
        each: where it arrived)."""
        server = set(self.server)
        return [c for c in self.wire.data() if c.dst in server]

    def wire_stall(self, start: float, end: float) -> Stall | None:
        """The longest gap between consecutive new DATA chunks (TSNs) arriving at the server that overlaps
        [start, end] (monotonic): the application's stall as the wire shows it, without its socket."""
        arrivals: list[tuple[float, int]] = []
        seen: set[int | None] = set()
        for chunk in self.data_to_server():
            if chunk.tsn not in seen:
                seen.add(chunk.tsn)
                arrivals.append((self.when(chunk), chunk.tsn or 0))
        gaps = [Stall(b[0] - a[0], a[0], b[0], a[1], b[1]) for a, b in zip(arrivals, arrivals[1:])
                if b[0] >= start and a[0] <= end]
        return max(gaps, key=lambda stall: stall.seconds, default=None)

    def pcaps(self, *addresses: str) -> str:
        """The capture files of the link ends that carry any of ``addresses`` (all of them if none)."""
        if self.captures is None:
            return "no captures"
        points = [p for p in self.captures.points if not addresses or p.local & set(addresses)]
        return ", ".join(str(p.path) for p in points) or str(self.folder)

    @property
    def timeline(self) -> str:
        """Where the path-state timeline (notifications and polled states) is saved."""
        return str(self.folder / "timeline.json")

    def polled(self, side: str, peer: str) -> list[tuple[float, str]]:
        """(time, state) of each polled change of ``side``'s path to ``peer``; none without a poller."""
        return self.paths.states(side, peer) if self.paths is not None else []

    def save(self, report: DeliveryReport | None = None, arrivals: Sequence[Arrival] | None = None) -> None:
        """Write the timeline (timeline.json), the messages (messages.jsonl) and the delivery summary."""
        if self.paths is not None:
            self.paths.save(self.folder / "timeline.json", self.log)
        if arrivals is None and self.pair is not None:
            arrivals = list(self.pair.server.arrivals)
        start = self.log.start
        if arrivals is not None:
            with open(self.folder / "messages.jsonl", "w") as out:
                for a in arrivals:
                    out.write(json.dumps({**asdict(a), "sent_at": round(a.sent_at - start, 6),
                                          "received_at": round(a.received_at - start, 6)}) + "\n")
        if report is not None:
            (self.folder / "delivery.txt").write_text(report.summary() + "\n")
