"""Faults injected into a live lab, each undone exactly (see docs/faults.md)."""

from lab.faults.catalogue import Blackhole, Direction, Fault, Flap, Impair, LinkDown, RouteWithdrawal, inject
from lab.faults.chunks import CHUNK_TYPES, ChunkDrop
from lab.faults.netem import PARAMETERS, NetemParams
from lab.faults.schedule import Planned, Schedule

__all__ = [
    "Blackhole",
    "CHUNK_TYPES",
    "ChunkDrop",
    "Direction",
    "Fault",
    "Flap",
    "Impair",
    "LinkDown",
    "NetemParams",
    "PARAMETERS",
    "Planned",
    "RouteWithdrawal",
    "Schedule",
    "inject",
]
