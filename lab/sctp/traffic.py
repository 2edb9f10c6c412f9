"""The test traffic: the message format and what the receiver checks.

Every message is ASCII, ``SEQ <10 digits> T <send time, 6 decimals> `` padded
with ``.`` to the requested size. It must stay valid UTF-8: pysctp 0.7.3
segfaults on a SEND_FAILED notification whose payload is not.
:func:`analyse` turns the receiver's arrivals into a :class:`DeliveryReport`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["encode", "decode", "Arrival", "Stall", "PeerChange", "DeliveryReport", "analyse"]

_SEQ_LIMIT = 10**10
_MESSAGE = re.compile(rb"SEQ (\d{10}) T (\d+\.\d{6}) \.*")


def encode(seq: int, sent_at: float, size: int) -> bytes:
    """Message ``seq`` stamped with ``sent_at`` (s), padded with ``.`` to exactly ``size`` bytes."""
    if not 0 <= seq < _SEQ_LIMIT:
        raise ValueError(f"sequence number {seq} out of range 0..{_SEQ_LIMIT - 1}")
    if not (math.isfinite(sent_at) and sent_at >= 0):
        raise ValueError(f"send time {sent_at} is not a finite number >= 0")
    header = f"SEQ {seq:010d} T {sent_at:.6f} ".encode("ascii")
    if size < len(header):
        raise ValueError(f"message size {size} is too small: this header needs at least {len(header)} bytes")
    return header + b"." * (size - len(header))


def decode(payload: bytes) -> tuple[int, float]:
    """``(seq, sent_at)`` of a message made by :func:`encode`; ValueError if it is malformed."""
    match = _MESSAGE.fullmatch(payload)
    if match is None:
        raise ValueError(f"not a test message: {payload[:40]!r}{'...' if len(payload) > 40 else ''}")
    return int(match[1]), float(match[2])


@dataclass(frozen=True)
class Arrival:
    """One message as the receiver got it; ``peer`` is the source IP it came from."""

    seq: int
    sent_at: float
    received_at: float
    peer: str


@dataclass(frozen=True)
class Stall:
    """The gap between two consecutive deliveries (new messages) at the receiver."""

    seconds: float
    start: float
    end: float
    before_seq: int
    after_seq: int


@dataclass(frozen=True)
class PeerChange:
    """Messages started arriving from ``new`` at ``at`` (with message ``seq``); ``old`` is None at first."""

    at: float
    seq: int
    old: str | None
    new: str


@dataclass(frozen=True)
class DeliveryReport:
    """What the receiver got out of ``sent`` messages (seq 0..sent-1).

    ``delivered`` counts distinct messages. A message is ``reordered`` when its
    first copy arrived after a higher seq. Latencies and stalls use the first
    copy of each message; ``peer_counts`` and ``peer_changes`` every copy.
    Latencies are None when nothing arrived.
    """

    sent: int
    delivered: int
    lost: tuple[int, ...]
    duplicated: tuple[int, ...]
    reordered: tuple[int, ...]
    latency_min: float | None
    latency_avg: float | None
    latency_max: float | None
    peer_counts: Mapping[str, int]
    peer_changes: tuple[PeerChange, ...]
    stalls: tuple[Stall, ...] = field(repr=False)
    arrivals: tuple[Arrival, ...] = field(repr=False)

    @property
    def longest_stall(self) -> Stall | None:
        """The longest gap between consecutive deliveries (None with fewer than two)."""
        return max(self.stalls, key=lambda s: s.seconds, default=None)

    def stalls_over(self, threshold: float) -> tuple[Stall, ...]:
        """Every gap between consecutive deliveries longer than ``threshold`` s, in order."""
        return tuple(s for s in self.stalls if s.seconds > threshold)

    def first_arrival_from(self, peer: str, after: float = -math.inf) -> Arrival | None:
        """The first arrival (any copy) from ``peer`` received after time ``after``."""
        return next((a for a in self.arrivals if a.peer == peer and a.received_at > after), None)

    def summary(self) -> str:
        """One line: counts and the longest stall."""
        stall = self.longest_stall
        return (
            f"sent={self.sent} delivered={self.delivered} lost={len(self.lost)}"
            f" duplicated={len(self.duplicated)} reordered={len(self.reordered)}"
            f" longest stall={'none' if stall is None else f'{stall.seconds:.3f} s'}"
        )


def analyse(sent: int, arrivals: Sequence[Arrival], *, streams: int = 1) -> DeliveryReport:
    """Check ``arrivals`` (in receive order) against ``sent`` messages numbered 0..sent-1.

    Message n travelled on stream ``n % streams``; SCTP orders each stream on
    its own, so a message is reordered when it arrives after a later one of
    its own stream.
    """
    copies = Counter(a.seq for a in arrivals)
    outside = sorted(seq for seq in copies if not 0 <= seq < sent)
    if outside:
        raise ValueError(f"arrivals with seq {outside[:5]} outside 0..{sent - 1}")
    first: list[Arrival] = []
    reordered: list[int] = []
    highest: dict[int, int] = {}  # stream -> highest seq so far
    seen: set[int] = set()
    for a in arrivals:
        if a.seq in seen:
            continue
        seen.add(a.seq)
        first.append(a)
        stream = a.seq % streams
        if a.seq < highest.get(stream, -1):
            reordered.append(a.seq)
        highest[stream] = max(highest.get(stream, -1), a.seq)
    latencies = [a.received_at - a.sent_at for a in first]
    changes: list[PeerChange] = []
    for a in arrivals:
        old = changes[-1].new if changes else None
        if a.peer != old:
            changes.append(PeerChange(at=a.received_at, seq=a.seq, old=old, new=a.peer))
    return DeliveryReport(
        sent=sent,
        delivered=len(first),
        lost=tuple(seq for seq in range(sent) if seq not in seen),
        duplicated=tuple(sorted(seq for seq, n in copies.items() if n > 1)),
        reordered=tuple(reordered),
        latency_min=min(latencies, default=None),
        latency_avg=sum(latencies) / len(latencies) if latencies else None,
        latency_max=max(latencies, default=None),
        peer_counts=MappingProxyType(dict(Counter(a.peer for a in arrivals))),
        peer_changes=tuple(changes),
        stalls=tuple(
            Stall(b.received_at - a.received_at, a.received_at, b.received_at, a.seq, b.seq)
            for a, b in zip(first, first[1:])
        ),
        arrivals=tuple(arrivals),
    )
