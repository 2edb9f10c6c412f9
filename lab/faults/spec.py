"""Live faults from their file specifications (:mod:`lab.model.faultspec`)."""

from __future__ import annotations

from lab.events import EventLog
from lab.faults.catalogue import Blackhole, Fault, Flap, Impair, LinkDown, RouteWithdrawal
from lab.faults.chunks import ChunkDrop
from lab.model.faultspec import (BlackholeFault, DropChunksFault, FaultSpec, FlapFault, ImpairFault, LinkDownFault,
                                 RouteWithdrawalFault)

__all__ = ["from_spec"]


def from_spec(spec: FaultSpec, *, log: EventLog | None = None) -> Fault:
    """The live fault a validated ``fault:`` mapping describes (``log``: where a flap records its cycles)."""
    if isinstance(spec, BlackholeFault):
        return Blackhole(spec.link, direction=spec.direction)
    if isinstance(spec, ImpairFault):
        return Impair(spec.link, spec.params(), spec.direction)
    if isinstance(spec, LinkDownFault):
        return LinkDown(spec.link, spec.node, spec.side)
    if isinstance(spec, RouteWithdrawalFault):
        return RouteWithdrawal(spec.link, spec.node)
    if isinstance(spec, FlapFault):
        return Flap(spec.link, spec.count, spec.period, spec.duty, spec.node, spec.side, log=log)
    if isinstance(spec, DropChunksFault):
        return ChunkDrop(spec.link, tuple(spec.chunks), spec.direction)
    raise TypeError(f"not a fault specification: {spec!r}")
