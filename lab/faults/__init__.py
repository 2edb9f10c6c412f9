"""Faults injected into a live lab, each undone exactly (see docs/faults.md)."""

from lab.faults.catalogue import Blackhole, Fault, Flap, Impair, LinkDown, RouteWithdrawal, inject
from lab.faults.chunks import ChunkDrop
from lab.faults.links import LinkFaults
from lab.faults.schedule import Planned, Schedule
from lab.faults.spec import from_spec

__all__ = [
    "Blackhole",
    "ChunkDrop",
    "Fault",
    "Flap",
    "Impair",
    "LinkDown",
    "LinkFaults",
    "Planned",
    "RouteWithdrawal",
    "Schedule",
    "from_spec",
    "inject",
]
