"""What the kernel must have said or shown: path-state notifications, polled states, a lost association."""

from __future__ import annotations

from lab.events import EventKind
from lab.evidence.run import Evidence
from lab.judge.check import fails, holds
from lab.model.protocol import PathStateName
from lab.report.model import Check
from lab.timing import Window

__all__ = ["kernel_reported", "path_state_seen", "association_lost"]


def kernel_reported(ev: Evidence, *, side: str, peer: str, state: str, after: float, within: Window,
                    event: str = "the fault", name: str | None = None) -> Check:
    """``side``'s kernel sent SCTP_PEER_ADDR_CHANGE ``state`` for ``peer`` within ``within`` after ``after``."""
    name = name or f"{side} reports {peer} {state}"
    changes = [e for e in ev.log.events(kind=EventKind.PADDR, side=side) if e.at >= after]
    found = [e for e in changes if e.data.get("address") == peer and e.data.get("state") == state]
    expected = f"the {side}'s kernel to report {peer} {state} within {within} of {event} ({within.basis})"
    history = "; ".join(f"+{e.at - after:.3f} s {e.detail}" for e in changes) or "no address change after it"
    if ev.paths is not None:
        history += "; polled states: " + ", ".join(f"+{t - after:.3f} s {s}" for t, s in ev.polled(side, peer)
                                                    if t >= after)
    if not found:
        return fails(name, expected, history, ev.timeline)
    delay = found[0].at - after
    if not within.contains(delay):
        return fails(name, expected, f"it reported after {delay:.3f} s ({history})", ev.timeline)
    return holds(name, expected, f"after {delay:.3f} s", ev.timeline)


def path_state_seen(ev: Evidence, *, side: str, peer: str, state: PathStateName, start: float, until: float,
                    event: str, name: str | None = None) -> Check:
    """``side``'s kernel reported (a notification) or showed (polled) ``state`` for ``peer`` in [start, until]."""
    name = name or f"{side} sees {peer} {state.polled}"
    notified = [e.at for e in ev.log.events(kind=EventKind.PADDR, side=side)
                if state.notified is not None and e.data.get("address") == peer
                and e.data.get("state") == state.notified and start <= e.at <= until]
    polled = [t for t, s in ev.polled(side, peer) if s == state.polled and start <= t <= until]
    first = min(notified + polled, default=None)
    expected = f"the {side}'s kernel to show {peer} {state.polled} while {event} lasts"
    if first is None:
        return fails(name, expected, "it never did", ev.timeline)
    return holds(name, expected, f"after {first - start:.3f} s", ev.timeline)


def association_lost(ev: Evidence, *, side: str, after: float, within: Window, event: str = "the fault",
                     name: str = "abort") -> Check:
    """``side`` saw SCTP_ASSOC_CHANGE COMM_LOST within ``within`` after ``after``."""
    lost = [e for e in ev.log.events(kind=EventKind.ASSOC, side=side) if e.detail == "COMM_LOST" and e.at >= after]
    expected = f"the {side} to see COMM_LOST within {within} of {event} ({within.basis})"
    if not lost:
        return fails(name, expected, "it never did", ev.timeline)
    delay = lost[0].at - after
    if not within.contains(delay):
        return fails(name, expected, f"it came after {delay:.3f} s", ev.timeline)
    return holds(name, expected, f"after {delay:.3f} s", ev.timeline)
