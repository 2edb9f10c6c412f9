"""Faults bound to one network and timeline: ``faults.blackhole("path-a")`` and friends.

What the ``link_faults`` fixture gives a test; usable without pytest too.
Each method returns a context manager that applies the fault and undoes it
exactly (see :func:`~lab.faults.catalogue.inject` and docs/faults.md).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Literal

from lab.events import EventLog
from lab.faults.catalogue import Blackhole, Fault, Flap, Impair, LinkDown, RouteWithdrawal, inject
from lab.faults.chunks import ChunkDrop
from lab.kernel.network import Network
from lab.model.netem import Direction, NetemParams

__all__ = ["LinkFaults"]


class LinkFaults:
    """Faults bound to one network and timeline; each method returns a context manager."""

    def __init__(self, net: Network, log: EventLog) -> None:
        self.net, self.log = net, log

    def inject(self, fault: Fault) -> AbstractContextManager[Fault]:
        return inject(self.net, fault, log=self.log)

    def blackhole(self, link: str, *, direction: Direction = "both") -> AbstractContextManager[Fault]:
        return self.inject(Blackhole(link, direction=direction))

    def impair(self, link: str, *, direction: Direction = "both", **params: float) -> AbstractContextManager[Fault]:
        """netem on ``link``: the keys of a file's impairment (``delay_ms=80``, ``loss_pct=5``), validated alike."""
        return self.inject(Impair(link, NetemParams.of(params), direction=direction))

    def link_down(self, link: str, *, node: str | None = None, side: Literal["near", "far"] = "near"
                  ) -> AbstractContextManager[Fault]:
        return self.inject(LinkDown(link, node=node, side=side))

    def withdraw_route(self, link: str, *, node: str = "client") -> AbstractContextManager[Fault]:
        return self.inject(RouteWithdrawal(link, node=node))

    def drop_chunks(self, link: str, *chunks: str, direction: Direction = "both") -> AbstractContextManager[Fault]:
        return self.inject(ChunkDrop(link, chunks, direction=direction))

    def flap(self, link: str, *, count: int = 3, period: float = 2.0, duty: float = 0.5, node: str | None = None,
             side: Literal["near", "far"] = "near") -> AbstractContextManager[Fault]:
        return self.inject(Flap(link, count=count, period=period, duty=duty, node=node, side=side, log=self.log))
