"""Evidence of a run, and expectations that read like sentences.

:class:`Evidence` gathers the three sources of a run: the application (the
delivery report and every application error), the kernel (the path-state
timeline: notifications plus polled SCTP_GET_PEER_ADDR_INFO), and the wire
(the pcaps of every link end, dissected with scapy). Each ``expect_*``
function checks one sentence and, when it does not hold, raises
AssertionError saying what was expected, what was seen, the timer values
behind the expectation, and where the evidence is::

    expected DATA on 198.18.2.1 -> 198.18.2.2 within 0.04-0.18 s of the fault
    (R0=100 ms, ...); none for 1.20 s; see artifacts/test_x/path-b-server.pcap
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable

from lab.errors import WaitTimeout
from lab.events import Event, EventLog
from lab.evidence.capture import Captures
from lab.evidence.paths import PathPoller
from lab.evidence.wire import Chunk, Wire
from lab.sctp.pair import EndpointPair
from lab.sctp.traffic import DeliveryReport
from lab.timing import Window
from lab.wait import wait_until

__all__ = [
    "Evidence",
    "ExpectationError",
    "expect_init_advertised",
    "expect_every_peer_address_heartbeated",
    "expect_data_moved",
    "expect_no_data",
    "expect_kernel_reported",
    "expect_association_lost",
    "expect_no_application_error",
    "expect_no_abort",
]


#: How often growing captures are re-read while waiting for something on the wire.
WIRE_POLL_INTERVAL = 0.1


class Evidence:
    """What one run left behind, and where its artifacts are."""

    def __init__(self, pair: EndpointPair, *, folder: Path, captures: Captures | None = None,
                 poller: PathPoller | None = None) -> None:
        self.pair, self.folder, self.captures, self.poller = pair, folder, captures, poller

    @property
    def log(self) -> EventLog:
        return self.pair.log

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

    def pcaps(self, *addresses: str) -> str:
        """The capture files of the link ends that carry any of ``addresses`` (all of them if none)."""
        if self.captures is None:
            return "no captures"
        points = [p for p in self.captures.points if not addresses or p.local & set(addresses)]
        return ", ".join(str(p.path) for p in points) or str(self.folder)

    def timers(self) -> str:
        p = self.pair.profile
        return (f"rto_min={p.rto_min} ms, rto_max={p.rto_max} ms, hb_interval={p.hb_interval} ms, "
                f"path_max_retrans={p.path_max_retrans}, pf_retrans={p.pf_retrans}, sack_timeout={p.sack_timeout} ms")

    def save(self, report: DeliveryReport | None = None) -> None:
        """Write the timeline (timeline.json) and the message log (messages.jsonl) into the folder."""
        if self.poller is not None:
            self.poller.save(self.folder / "timeline.json", self.log)
        start = self.log.start
        with open(self.folder / "messages.jsonl", "w") as out:
            for a in list(self.pair.server.arrivals):
                out.write(json.dumps({**asdict(a), "sent_at": round(a.sent_at - start, 6),
                                      "received_at": round(a.received_at - start, 6)}) + "\n")
        if report is not None:
            (self.folder / "delivery.txt").write_text(report.summary() + "\n")


class ExpectationError(AssertionError):
    """A failed expectation: what was expected, what was seen, where the evidence is."""

    def __init__(self, expected: str, seen: str, where: str) -> None:
        super().__init__(f"expected {expected}; {seen}; see {where}")
        self.expected, self.seen, self.where = expected, seen, where


def _fail(expected: str, seen: str, where: str) -> ExpectationError:
    return ExpectationError(expected, seen, where)


def expect_init_advertised(ev: Evidence, *, client: Iterable[str], server: Iterable[str]) -> None:
    """The INIT advertised exactly the client's addresses, the INIT-ACK exactly the server's,
    and the cookie exchange completed. (The IP source of each counts as advertised.)"""
    hs = ev.wire.handshake()
    where = ev.pcaps()
    for chunk, src, params, expected in (("INIT", hs.init_src, hs.init_addresses, client),
                                         ("INIT-ACK", hs.init_ack_src, hs.init_ack_addresses, server)):
        want = sorted(set(expected))
        seen = sorted({*params, *([src] if src else [])})
        if seen != want:
            raise _fail(f"the {chunk} to advertise exactly {', '.join(want)}",
                        f"it advertised {', '.join(seen) or 'nothing'} (source {src}, address parameters "
                        f"{', '.join(params) or 'none'})", where)
    if not (hs.cookie_echo and hs.cookie_ack):
        raise _fail("the cookie exchange to complete (COOKIE-ECHO then COOKIE-ACK)",
                    f"COOKIE-ECHO {'seen' if hs.cookie_echo else 'missing'}, COOKIE-ACK "
                    f"{'seen' if hs.cookie_ack else 'missing'}", where)


def _unheartbeated(ev: Evidence, matrix: dict[tuple[str, str], tuple[int, int]]) -> list[tuple[str, str]]:
    """(side, peer address) pairs with no acknowledged heartbeat in ``matrix``."""
    missing = []
    for side, own, peers in (("client", ev.pair.client.addresses, ev.pair.server.addresses),
                             ("server", ev.pair.server.addresses, ev.pair.client.addresses)):
        local = {str(a) for a in own}
        for peer in map(str, peers):
            if not any(src in local and dst == peer and sent and acked for (src, dst), (sent, acked) in matrix.items()):
                missing.append((side, peer))
    return missing


def _matrix(wire: Wire) -> dict[tuple[str, str], tuple[int, int]]:
    return {pair: (count.sent, count.acked) for pair, count in wire.heartbeat_matrix().items()}


def expect_every_peer_address_heartbeated(ev: Evidence, *, within: Window) -> dict[tuple[str, str], tuple[int, int]]:
    """Each endpoint heartbeats every address of its peer and gets each acknowledged, within ``within``.

    Linux keeps one path per peer address and lets routing choose the source
    address, so the matrix holds one (source, destination) pair per peer
    address; returns it as {(src, dst): (sent, acked)}. The primary path,
    confirmed by the handshake, is first heartbeated one heartbeat period
    after the association comes up, hence the wait.
    """
    try:
        wire = ev.wait_for_wire(lambda w: not _unheartbeated(ev, _matrix(w)), timeout=within.high,
                                what="an acknowledged heartbeat to every peer address")
    except WaitTimeout:
        matrix = _matrix(ev.wire)
        shown = "; ".join(f"{s} -> {d}: sent {n}, acked {a}" for (s, d), (n, a) in sorted(matrix.items())) or "none"
        side, peer = _unheartbeated(ev, matrix)[0]
        raise _fail(f"the {side} to heartbeat {peer} and get it acknowledged within {within} ({within.basis})",
                    f"the heartbeat matrix is: {shown}", ev.pcaps(peer)) from None
    return _matrix(wire)


def expect_data_moved(ev: Evidence, *, src: str, dst: str, after: float, within: Window,
                      event: str = "the fault") -> Chunk:
    """DATA on the path ``src -> dst`` first arrived within ``within`` seconds after ``after``."""
    first = next((c for c in ev.wire.data(src, dst) if ev.when(c) >= after), None)
    expected = f"DATA on {src} -> {dst} within {within} of {event} ({within.basis})"
    if first is None:
        last = max((ev.when(c) for c in ev.wire.chunks), default=after)
        raise _fail(expected, f"none for {max(last - after, 0):.2f} s", ev.pcaps(src, dst))
    delay = ev.when(first) - after
    if not within.contains(delay):
        raise _fail(expected, f"first seen {delay:.3f} s after it (TSN {first.tsn})", ev.pcaps(src, dst))
    return first


def expect_no_data(ev: Evidence, *, src: str, dst: str, start: float, end: float, why: str) -> None:
    """No DATA arrived on ``src -> dst`` between ``start`` and ``end`` (run clock)."""
    seen = [c for c in ev.wire.data(src, dst) if start <= ev.when(c) <= end]
    if seen:
        raise _fail(f"no DATA on {src} -> {dst} {why}",
                    f"{len(seen)} chunks arrived there (first TSN {seen[0].tsn} at "
                    f"+{ev.when(seen[0]) - start:.3f} s)", ev.pcaps(src, dst))


def expect_kernel_reported(ev: Evidence, *, side: str, peer: str, state: str, after: float,
                           within: Window, event: str = "the fault") -> Event:
    """``side``'s kernel sent SCTP_PEER_ADDR_CHANGE ``state`` for ``peer`` within ``within`` after ``after``."""
    found = [e for e in ev.log.events(kind="paddr", side=side)
             if e.data.get("address") == peer and e.data.get("state") == state and e.at >= after]
    expected = f"the {side}'s kernel to report {peer} {state} within {within} of {event} ({within.basis})"
    history = "; ".join(f"+{e.at - after:.3f} s {e.detail}" for e in ev.log.events(kind="paddr", side=side)
                        if e.at >= after) or "no address change after it"
    polled = ""
    if ev.poller is not None:
        polled = "; polled states: " + ", ".join(f"+{t - after:.3f} s {s}" for t, s in ev.poller.states(side, peer)
                                                  if t >= after)
    if not found:
        raise _fail(expected, f"saw {history}{polled}", str(ev.folder / "timeline.json"))
    delay = found[0].at - after
    if not within.contains(delay):
        raise _fail(expected, f"reported after {delay:.3f} s ({history}{polled})", str(ev.folder / "timeline.json"))
    return found[0]


def expect_association_lost(ev: Evidence, *, side: str, after: float, within: Window,
                            event: str = "the fault") -> Event:
    """``side`` saw SCTP_ASSOC_CHANGE COMM_LOST within ``within`` after ``after``."""
    lost = [e for e in ev.log.events(kind="assoc", side=side) if e.detail == "COMM_LOST" and e.at >= after]
    expected = f"the {side} to see COMM_LOST within {within} of {event} ({within.basis})"
    if not lost:
        raise _fail(expected, "it never did", str(ev.folder / "timeline.json"))
    delay = lost[0].at - after
    if not within.contains(delay):
        raise _fail(expected, f"it came after {delay:.3f} s", str(ev.folder / "timeline.json"))
    return lost[0]


def expect_no_application_error(ev: Evidence) -> None:
    """Neither application saw an error: no send error, COMM_LOST, SEND_FAILED or unexpected EOF."""
    errors = ev.log.errors()
    if errors:
        shown = "; ".join(f"{e.side} +{e.at - ev.log.start:.3f} s: {e.detail}" for e in errors[:5])
        raise _fail("no application error", f"saw {len(errors)}: {shown}", str(ev.folder / "timeline.json"))


def expect_no_abort(ev: Evidence) -> None:
    """No ABORT chunk crossed any link."""
    aborts = ev.wire.aborts()
    if aborts:
        first = aborts[0]
        raise _fail("no ABORT on the wire", f"{len(aborts)} ABORT chunks, first {first.src} -> {first.dst} at "
                    f"+{ev.when(first) - ev.log.start:.3f} s", ev.pcaps(first.src))
