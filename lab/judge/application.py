"""What the application must have seen: every message once and in order, no error, a stall inside its window."""

from __future__ import annotations

from collections.abc import Sequence

from lab.events import EventLog
from lab.judge.check import fails, holds
from lab.report.model import Check
from lab.sctp.traffic import DeliveryReport
from lab.timing import Window

__all__ = ["counted", "delivery", "no_application_error", "stall_within", "arrived_from"]


def counted(name: str, what: str, allowed: int | str, found: Sequence[object], where: str = "") -> Check:
    """At most ``allowed`` (or ``"any"`` number of) ``what``: ``found`` lists them."""
    shown = f"{len(found)} {what}" + (f" (first: {', '.join(map(str, list(found)[:10]))})" if found else "")
    if allowed == "any":
        return holds(name, f"any number of {what}", shown, where)
    limit = int(allowed)
    expected = f"no {what}" if limit == 0 else f"at most {limit} {what}"
    return Check(name, len(found) <= limit, expected, shown, where)


def delivery(report: DeliveryReport, *, lost: int | str = 0, duplicated: int | str = 0, reordered: int | str = 0,
             where: str = "") -> list[Check]:
    """Every message delivered once and in order (or at most the numbers allowed)."""
    return [counted("lost", "messages lost", lost, report.lost, where),
            counted("duplicated", "messages duplicated", duplicated, report.duplicated, where),
            counted("reordered", "messages reordered", reordered, report.reordered, where)]


def no_application_error(log: EventLog, *, allowed: int | str = 0, where: str = "") -> Check:
    """Neither application saw an error (send error, COMM_LOST, SEND_FAILED, unexpected EOF), or at most ``allowed``."""
    lines = [f"{line} (+{e.at - log.start:.3f} s)" for line, e in zip(log.error_lines(), log.errors())]
    return counted("application errors", "application errors", allowed, lines, where)


def stall_within(report: DeliveryReport, window: Window, *, where: str = "") -> Check:
    """The longest gap between deliveries lies within ``window`` (the predicted switch stall)."""
    stall = report.longest_stall
    seen = f"{stall.seconds:.3f} s (messages {stall.before_seq}->{stall.after_seq})" if stall else "no stall"
    passed = stall is not None and window.contains(stall.seconds)
    return Check("stall", passed, f"the longest stall within {window} ({window.basis})", seen, where)


def arrived_from(report: DeliveryReport, peer: str, *, after: float, before: float | None = None, what: str,
                 where: str = "") -> Check:
    """A message arrived from ``peer`` after ``after`` (and before ``before``): the application's view of a path."""
    first = report.first_arrival_from(peer, after=after)
    expected = f"messages from {what} {peer}" + (" before the restore" if before is not None else "")
    if first is None or (before is not None and first.received_at > before):
        return fails(f"arrivals from {peer}", expected, "none", where)
    return holds(f"arrivals from {peer}", expected, f"the first after {first.received_at - after:.3f} s", where)
