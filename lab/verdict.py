"""The failover verdict: what must hold after a single-path failure and restore.

One function, shared by ``sctplab demo`` and the kernel tests, so both judge a
run by the same rules and explain a failure the same way: each problem names
what was expected, what was seen, and the timer values behind the expectation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.events import EventLog
from lab.sctp.traffic import DeliveryReport
from lab.timing import Window

__all__ = ["FailoverEvidence", "failover_problems"]


@dataclass(frozen=True)
class FailoverEvidence:
    """What a primary-path failover run observed."""

    report: DeliveryReport
    stall_window: Window
    fault_at: float
    restore_at: float
    primary_peer: str  # client address on the failed link, as the server sees it
    secondary_peer: str
    errors: list[str] = field(default_factory=list)

    @classmethod
    def collect(cls, report: DeliveryReport, log: EventLog, **kw: object) -> "FailoverEvidence":
        return cls(report=report, errors=[f"{e.side}: {e.detail}" for e in log.errors()], **kw)  # type: ignore[arg-type]


def failover_problems(ev: FailoverEvidence) -> list[str]:
    """Every rule the run broke, as sentences; empty when the failover was clean."""
    r = ev.report
    problems = []
    if r.lost:
        problems.append(f"expected every message delivered; {len(r.lost)} lost (first: {list(r.lost[:10])})")
    if r.duplicated:
        problems.append(f"expected no duplicates; {len(r.duplicated)} duplicated (first: {list(r.duplicated[:10])})")
    if r.reordered:
        problems.append(f"expected in-order delivery; {len(r.reordered)} reordered (first: {list(r.reordered[:10])})")
    if ev.errors:
        problems.append(f"expected no application error; saw {len(ev.errors)}: {'; '.join(ev.errors[:5])}")
    stall = r.longest_stall
    if stall is None or not ev.stall_window.contains(stall.seconds):
        seen = f"{stall.seconds:.3f} s (messages {stall.before_seq}->{stall.after_seq})" if stall else "no stall"
        problems.append(
            f"expected the longest stall within {ev.stall_window} ({ev.stall_window.basis}); saw {seen}"
        )
    moved = r.first_arrival_from(ev.secondary_peer, after=ev.fault_at)
    if moved is None or moved.received_at > ev.restore_at:
        problems.append(
            f"expected messages from the client's secondary address {ev.secondary_peer} after the fault; none before the restore"
        )
    back = r.first_arrival_from(ev.primary_peer, after=ev.restore_at)
    if back is None:
        problems.append(f"expected traffic back on the primary ({ev.primary_peer}) after the restore; none arrived")
    return problems
