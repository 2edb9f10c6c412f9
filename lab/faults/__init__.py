"""Faults injected into a live lab, each undone exactly (see docs/faults.md)."""

from lab.faults.catalogue import Blackhole, Direction, Fault, Flap, Impair, LinkDown, RouteWithdrawal, inject
from lab.faults.netem import PARAMETERS, NetemParams

__all__ = [
    "Blackhole",
    "Direction",
    "Fault",
    "Flap",
    "Impair",
    "LinkDown",
    "NetemParams",
    "PARAMETERS",
    "RouteWithdrawal",
    "inject",
]
