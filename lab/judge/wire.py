"""What the wire must show: the addresses advertised, heartbeats, where DATA went, no ABORT, complete captures."""

from __future__ import annotations

from collections.abc import Iterable

from lab.errors import WaitTimeout
from lab.events import EventLog
from lab.evidence.capture import Captures
from lab.evidence.run import Evidence
from lab.evidence.wire import Wire
from lab.judge.check import fails, holds
from lab.report.model import Check
from lab.timing import Window

__all__ = ["init_advertised", "every_peer_address_heartbeated", "data_moved", "no_data", "no_abort",
           "captures_complete", "wire_stall_within"]


def init_advertised(ev: Evidence, *, client: Iterable[str] | None = None, server: Iterable[str] | None = None,
                    name: str = "INIT addresses") -> Check:
    """The INIT advertised exactly the client's addresses, the INIT-ACK exactly the server's, and the cookie
    exchange completed. (The IP source of each counts as advertised.) Default: the evidence's addresses."""
    hs = ev.wire.handshake()
    where = ev.pcaps()
    wanted = (("INIT", hs.init_src, hs.init_addresses, ev.client if client is None else client),
              ("INIT-ACK", hs.init_ack_src, hs.init_ack_addresses, ev.server if server is None else server))
    for chunk, src, params, expected in wanted:
        want = sorted(set(expected))
        seen = sorted({*params, *([src] if src else [])})
        if seen != want:
            return fails(name, f"the {chunk} to advertise exactly {', '.join(want)}",
                         f"it advertised {', '.join(seen) or 'nothing'} (source {src}, address parameters "
                         f"{', '.join(params) or 'none'})", where)
    if not (hs.cookie_echo and hs.cookie_ack):
        return fails(name, "the cookie exchange to complete (COOKIE-ECHO then COOKIE-ACK)",
                     f"COOKIE-ECHO {'seen' if hs.cookie_echo else 'missing'}, COOKIE-ACK "
                     f"{'seen' if hs.cookie_ack else 'missing'}", where)
    return holds(name, f"the INIT to list {', '.join(sorted(set(wanted[0][3])))} and the INIT-ACK "
                       f"{', '.join(sorted(set(wanted[1][3])))}", "as expected", where)


def _matrix(wire: Wire) -> dict[tuple[str, str], tuple[int, int]]:
    return {pair: (count.sent, count.acked) for pair, count in wire.heartbeat_matrix().items()}


def _unheartbeated(ev: Evidence, matrix: dict[tuple[str, str], tuple[int, int]]) -> list[tuple[str, str]]:
    """(side, peer address) pairs with no acknowledged heartbeat in ``matrix``."""
    missing = []
    for side, own, peers in (("client", ev.client, ev.server), ("server", ev.server, ev.client)):
        for peer in peers:
            if not any(src in own and dst == peer and sent and acked for (src, dst), (sent, acked) in matrix.items()):
                missing.append((side, peer))
    return missing


def every_peer_address_heartbeated(ev: Evidence, *, within: Window, name: str = "heartbeat matrix") -> Check:
    """Each end heartbeats every address of its peer and gets each acknowledged, within ``within`` (waits).

    Linux keeps one path per peer address and lets routing choose the source
    address, so the matrix holds one (source, destination) pair per peer
    address; checked before DATA flows (a path carrying DATA is not heartbeated).
    """
    expected = "every peer address heartbeated and acknowledged"
    try:
        wire = ev.wait_for_wire(lambda w: not _unheartbeated(ev, _matrix(w)), timeout=within.high,
                                what="an acknowledged heartbeat to every peer address")
    except WaitTimeout:
        matrix = _matrix(ev.wire)
        shown = "; ".join(f"{s} -> {d}: sent {n}, acked {a}" for (s, d), (n, a) in sorted(matrix.items())) or "none"
        side, peer = _unheartbeated(ev, matrix)[0]
        return fails(name, f"the {side} to heartbeat {peer} and get it acknowledged within {within} ({within.basis})",
                     f"the heartbeat matrix {shown}", ev.pcaps(peer))
    shown = "; ".join(f"{s} -> {d}: {n} sent, {a} acked" for (s, d), (n, a) in sorted(_matrix(wire).items()))
    return holds(name, expected, shown, ev.pcaps())


def data_moved(ev: Evidence, *, src: str, dst: str, after: float, within: Window, event: str = "the fault",
               name: str | None = None) -> Check:
    """DATA on the path ``src -> dst`` first arrived within ``within`` seconds after ``after`` (monotonic)."""
    name = name or f"DATA on {src} -> {dst}"
    expected = f"DATA on {src} -> {dst} within {within} of {event} ({within.basis})"
    first = ev.first_data(src, dst, after=after)
    if first is None:
        last = max((ev.when(c) for c in ev.wire.chunks), default=after)
        return fails(name, expected, f"none for {max(last - after, 0):.2f} s", ev.pcaps(src, dst))
    delay = ev.when(first) - after
    if not within.contains(delay):
        return fails(name, expected, f"the first {delay:.3f} s after it (TSN {first.tsn})", ev.pcaps(src, dst))
    return holds(name, expected, f"the first after {delay:.3f} s", ev.pcaps(src, dst))


def no_data(ev: Evidence, *, src: str, dst: str, start: float, end: float, why: str, name: str | None = None) -> Check:
    """No DATA arrived on ``src -> dst`` between ``start`` and ``end`` (monotonic)."""
    name = name or f"no DATA on {src} -> {dst}"
    expected = f"no DATA on {src} -> {dst} {why}"
    seen = [c for c in ev.wire.data(src, dst) if start <= ev.when(c) <= end]
    if seen:
        return fails(name, expected, f"{len(seen)} chunks there (first TSN {seen[0].tsn} at "
                                     f"+{ev.when(seen[0]) - start:.3f} s)", ev.pcaps(src, dst))
    return holds(name, expected, "none", ev.pcaps(src, dst))


def no_abort(ev: Evidence, *, until: float | None = None, name: str = "no abort") -> Check:
    """No ABORT chunk crossed any link (before ``until``, monotonic, if given: an application the lab stops
    may abort its association as it closes, which is no failure of the paths)."""
    aborts = ev.wire.aborts()
    if until is not None:
        later = [c for c in aborts if ev.when(c) > until]
        aborts = [c for c in aborts if ev.when(c) <= until]
        if later and not aborts:
            return holds(name, "no ABORT on the wire while the run lasted", f"none (then {len(later)} as the "
                         "applications were stopped)", ev.pcaps())
    if aborts:
        first = aborts[0]
        return fails(name, "no ABORT on the wire", f"{len(aborts)} ABORT chunks, first {first.src} -> {first.dst} at "
                     f"+{ev.when(first) - ev.log.start:.3f} s", ev.pcaps(first.src))
    return holds(name, "no ABORT on the wire", "none", ev.pcaps())


def captures_complete(captures: Captures, log: EventLog, *, name: str = "captures") -> Check:
    """No capture dropped packets; drops on links a fault took down do not count (see Captures.unexplained_drops)."""
    failing = captures.unexplained_drops(log.links_taken_down())
    excused = {p.path.name: n for p in captures.points if (n := captures.dropped.get(p.path, 0))
               and p.path.name not in failing}
    seen = (f"dropped: {failing}" if failing else "none dropped") + (
        f" (on links taken down, not counted: {excused})" if excused else "")
    return Check(name, not failing, "no packet dropped by the captures", seen, str(captures.points[0].path.parent)
                 if captures.points else "")


def wire_stall_within(ev: Evidence, window: Window, *, start: float, end: float, event: str = "the fault",
                      name: str = "stall") -> Check:
    """The longest gap in new DATA arriving at the server around ``event`` (from ``start`` to ``end``,
    monotonic) lies within ``window``: the stall as the wire shows it, for applications the lab cannot ask."""
    stall = ev.wire_stall(start, end)
    expected = f"the longest gap in DATA reaching the server after {event} within {window} ({window.basis})"
    if stall is None:
        return fails(name, expected, "no DATA around it", ev.pcaps(*ev.server))
    seen = f"{stall.seconds:.3f} s (TSN {stall.before_seq} -> {stall.after_seq}, from {stall.start - start:+.3f} s)"
    return Check(name, window.contains(stall.seconds), expected, seen, ev.pcaps(*ev.server))
