"""Routes through router nodes, derived from the links.

Endpoints (``client``, ``server``) do not forward; every other node is a
router. A node reaches a subnet it is not on through a neighbour on one of
its links, and from there only through routers. Each first hop that leads
to a subnet gives one route, the shortest first: metric ``100 + 10 * i``
for the i-th, so when a link goes down its route goes and the next one
takes over (the way a multihomed host keeps its return path).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

__all__ = ["Hop", "RouteEntry", "derive_routes", "reachable_links"]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

#: Metric of a node's best derived route; alternatives get 10 more each.
BASE_METRIC = 100


@dataclass(frozen=True)
class Hop:
    """A link as seen from one of its nodes: the neighbour and its address there."""

    link: str
    peer: str
    gateway: IPAddress


@dataclass(frozen=True)
class RouteEntry:
    """A route a node gets: ``to`` via ``via`` with ``metric``."""

    to: IPNetwork
    via: IPAddress
    metric: int


def _walk(start: str, first: Hop, hops: Callable[[str], Sequence[Hop]],
          is_router: Callable[[str], bool]) -> dict[str, int]:
    """Links reachable from ``start`` through ``first`` (then routers only): link -> hop count."""
    seen = {first.link: 0}
    queue: deque[tuple[str, int]] = deque([(first.peer, 1)])
    visited = {start, first.peer}
    while queue:
        node, depth = queue.popleft()
        if not is_router(node):
            continue
        for hop in hops(node):
            seen.setdefault(hop.link, depth)
            if hop.peer not in visited:
                visited.add(hop.peer)
                queue.append((hop.peer, depth + 1))
    return seen


def derive_routes(node: str, *, hops: Callable[[str], Sequence[Hop]], is_router: Callable[[str], bool],
                  subnets: Mapping[str, IPNetwork]) -> list[RouteEntry]:
    """The routes ``node`` needs to every subnet it is not on, shortest first hop first."""
    own = {hop.link for hop in hops(node)}
    candidates: dict[str, list[tuple[int, int, Hop]]] = {}
    for order, first in enumerate(hops(node)):
        for link, depth in _walk(node, first, hops, is_router).items():
            if link not in own and subnets[link].version == first.gateway.version:
                candidates.setdefault(link, []).append((depth, order, first))
    routes = []
    for link in subnets:  # file order
        for index, (_, _, first) in enumerate(sorted(candidates.get(link, []), key=lambda c: c[:2])):
            routes.append(RouteEntry(subnets[link], first.gateway, BASE_METRIC + 10 * index))
    return routes


def reachable_links(node: str, *, hops: Callable[[str], Sequence[Hop]],
                    is_router: Callable[[str], bool]) -> set[str]:
    """Every link ``node`` can send to: its own, and those behind routers."""
    found = {hop.link for hop in hops(node)}
    for first in hops(node):
        found |= set(_walk(node, first, hops, is_router))
    return found
