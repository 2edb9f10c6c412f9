"""The topology file: nodes (the two endpoints and any routers), links, paths.

``topologies/*.yaml`` show the format and docs/topology-format.md lists every
key. :func:`load_topology` validates a file completely, so every problem is
one :class:`ConfigError` naming file, line and key; the :class:`Topology`
methods then derive subnets, addresses, paths and routes without further
checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_interface, ip_network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, PrivateAttr, field_validator, model_validator

from lab.errors import ConfigError
from lab.model.catalog import find
from lab.model.impairment import LinkImpairment
from lab.model.netem import Direction
from lab.model.routing import Hop, RouteEntry, derive_routes, reachable_links
from lab.model.yamlsource import KeyedValueError, load_model

__all__ = [
    "ENDPOINTS",
    "IFNAME_MAX",
    "IPAddress",
    "IPNetwork",
    "LinkEnd",
    "Link",
    "Node",
    "PathSpec",
    "RouteSpec",
    "Topology",
    "load_topology",
    "resolve_topology_path",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

#: The two SCTP endpoints every topology has; any other node is a router.
ENDPOINTS = ("client", "server")

#: Longest interface name a topology may use: the lab appends "-<6-hex run
#: tag>" (7 characters) and Linux allows 15.
IFNAME_MAX = 8

_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")
_IFNAME = re.compile(r"[a-z][a-z0-9]*")


def _parse_subnet(value: object) -> IPNetwork:
    """A subnet written as address/prefix without host bits; ValueError naming what is wrong."""
    if isinstance(value, (IPv4Network, IPv6Network)):
        return value
    try:
        given = ip_interface(value) if isinstance(value, str) else None
    except ValueError:
        given = None
    if given is None:
        raise ValueError(f"{value!r} is not a subnet (expected an address/prefix such as 198.18.1.0/24)")
    if given.ip != given.network.network_address:
        raise ValueError(f"{value} has host bits set (expected {given.network})")
    return given.network


def _auto_subnets() -> dict[int, list[IPNetwork]]:
    """Where subnets come from when a link gives none: /24s of 198.18.0.0/15, /64s of 2001:db8::/32."""
    v4 = [ip_network(f"198.{18 + n // 256}.{n % 256}.0/24") for n in range(1, 512)]
    v6 = [ip_network(f"2001:db8:{n:x}::/64") for n in range(1, 512)]
    return {4: v4, 6: v6}


class _Model(BaseModel):
    """Frozen, no unknown keys; a required field's description completes "missing (expected ...)"."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteSpec(_Model):
    """A static route of a node: ``to`` a subnet ``via`` a neighbour's address."""

    to: IPNetwork = Field(description="a subnet such as 198.18.11.0/24")
    via: IPvAnyAddress = Field(description="the address of a neighbour on one of the node's links")
    metric: int = Field(default=100, ge=0, le=65535)

    @field_validator("to", mode="plain")
    @classmethod
    def _subnet(cls, value: object) -> IPNetwork:
        return _parse_subnet(value)


class Node(_Model):
    """A network namespace of the lab: sysctls to set in it and, optionally, its routes.

    Without ``routes`` the lab derives them from the links (see lab/model/routing.py).
    """

    sysctls: dict[str, int | str] = {}
    routes: list[RouteSpec] | None = None


class LinkEnd(_Model):
    """One end of a link: an interface of a node, optionally with a fixed host address (no prefix)."""

    node: str = Field(description="the name of a node")
    interface: str = Field(description="an interface name such as eth0")
    address: IPvAnyAddress | None = None

    @field_validator("interface")
    @classmethod
    def _check_interface(cls, name: str) -> str:
        if not _IFNAME.fullmatch(name):
            raise ValueError(
                f"invalid interface name {name!r}"
                " (expected a lowercase letter, then lowercase letters or digits, e.g. eth0)"
            )
        if len(name) > IFNAME_MAX:
            raise ValueError(
                f"interface name {name!r} is longer than {IFNAME_MAX} characters"
                " (the lab appends '-<6-hex run tag>' and Linux allows 15)"
            )
        return name


class Link(_Model):
    """A subnet joining two nodes; ``a`` and ``b`` are its ends.

    Without ``subnet`` the lab allocates the next free /24 of 198.18.0.0/15
    (``family: 6``: /64 of 2001:db8::/32). ``impair`` is netem built in.
    """

    subnet: IPNetwork | None = None
    family: Literal[4, 6] | None = None
    a: LinkEnd = Field(description="a link end such as {node: client, interface: eth0}")
    b: LinkEnd = Field(description="a link end such as {node: server, interface: eth0}")
    impair: LinkImpairment | None = None

    @field_validator("subnet", mode="plain")
    @classmethod
    def _subnet(cls, value: object) -> IPNetwork:
        return _parse_subnet(value)

    @model_validator(mode="after")
    def _check(self) -> Link:
        if self.a.node == self.b.node:
            raise KeyedValueError(
                ("b", "node"), f"link from node {self.b.node!r} to itself (expected two different nodes)"
            )
        subnet = self.subnet
        if subnet is None:
            for side, end in zip("ab", self.ends):
                if end.address is not None:
                    raise KeyedValueError((side, "address"), f"{end.address} is given but the link has no subnet"
                                          " (expected a subnet: key next to the address, or no address)")
            return self
        if self.family is not None and self.family != subnet.version:
            raise KeyedValueError(("family",), f"family {self.family} but subnet {subnet} is IPv{subnet.version}"
                                  " (expected the family of the subnet, or no family key)")
        if subnet.num_addresses < 4:
            raise KeyedValueError(
                ("subnet",),
                f"{subnet} is too small for two hosts"
                f" (expected a prefix of /{subnet.max_prefixlen - 2} or shorter)",
            )
        hosts = f"expected a host address from {subnet.network_address + 1} to {subnet.broadcast_address - 1}"
        for side, end in zip("ab", self.ends):
            if end.address is not None and (problem := _address_problem(end.address, subnet)):
                raise KeyedValueError((side, "address"), f"{end.address} {problem} ({hosts})")
        if self.a.address is not None and self.a.address == self.b.address:
            raise KeyedValueError(
                ("b", "address"), f"{self.b.address} is already the address of end a ({hosts})"
            )
        return self

    @property
    def ends(self) -> tuple[LinkEnd, LinkEnd]:
        return self.a, self.b

    def nodes(self) -> tuple[str, str]:
        return self.a.node, self.b.node

    def side(self, node: str) -> int:
        """0 if ``node`` is at end a, 1 if at end b; :class:`KeyError` if it is at neither."""
        for index, end in enumerate(self.ends):
            if end.node == node:
                return index
        raise KeyError(f"node {node!r} is not on this link")


class PathSpec(_Model):
    """A path of the association: the client's link and the server's link it runs between."""

    client: str = Field(description="the name of a link of the client")
    server: str = Field(description="the name of a link of the server")


class Topology(_Model):
    """The two endpoints, any routers, the links joining them and the paths of the association.

    ``paths`` default to one per link that joins client and server directly,
    or, when one endpoint is single-homed, one per link of the other one.
    ``primary`` (default: the first path) is the path the client starts on.
    """

    name: str = Field(description="the topology's name, e.g. dual-homed")
    description: str = ""
    primary: str | None = None
    nodes: dict[str, Node] = Field(description="a mapping of node names to nodes, e.g. client: {}")
    links: dict[str, Link] = Field(description="a mapping of link names to links, e.g. path-a: {subnet: ...}")
    paths: dict[str, PathSpec] = {}
    _subnets: dict[str, IPNetwork] = PrivateAttr(default_factory=dict)
    _paths: dict[str, PathSpec] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Topology:
        for section, names in (("nodes", self.nodes), ("links", self.links), ("paths", self.paths)):
            for name in names:
                if not _NAME.fullmatch(name):
                    raise KeyedValueError(
                        (section, name),
                        f"invalid {section[:-1]} name {name!r}"
                        " (expected a lowercase letter, then up to 15 lowercase letters, digits or '-')",
                    )
        for endpoint in ENDPOINTS:
            if endpoint not in self.nodes:
                raise KeyedValueError(("nodes",), f"no node {endpoint!r} (expected the SCTP endpoints client"
                                      " and server; any other node is a router)")
        if not self.links:
            raise KeyedValueError(("links",), "no links given (expected at least one)")
        self._check_link_ends()
        self._allocate_subnets()
        for node in self.nodes:
            if not self.links_of(node):
                raise KeyedValueError(
                    ("nodes", node), f"node {node!r} is not on any link, so it has no path to a peer"
                )
        self._check_routes()
        self._paths = dict(self.paths) if self.paths else self._derive_paths()
        self._check_paths()
        if self.primary is not None and self.primary not in self._paths:
            raise KeyedValueError(
                ("primary",), f"unknown path {self.primary!r} (expected one of: {', '.join(self._paths)})"
            )
        return self

    def _check_link_ends(self) -> None:
        user: dict[tuple[str, str], str] = {}  # (node, interface) -> the link end using it
        for name, link in self.links.items():
            for side, end in zip("ab", link.ends):
                if end.node not in self.nodes:
                    raise KeyedValueError(
                        ("links", name, side, "node"),
                        f"unknown node {end.node!r} (expected one of: {', '.join(self.nodes)})",
                    )
                port = (end.node, end.interface)
                if port in user:
                    raise KeyedValueError(
                        ("links", name, side, "interface"),
                        f"interface {end.interface!r} of node {end.node!r} is already used by {user[port]}",
                    )
                user[port] = f"links.{name}.{side}"

    def _allocate_subnets(self) -> None:
        given = [(name, link.subnet) for name, link in self.links.items() if link.subnet is not None]
        for index, (name, subnet) in enumerate(given):
            for other, earlier in given[:index]:
                if subnet.overlaps(earlier):
                    raise KeyedValueError(("links", name, "subnet"), f"{subnet} overlaps {earlier} of link {other!r}")
        taken = [subnet for _, subnet in given]
        pool = _auto_subnets()
        for name, link in self.links.items():
            if link.subnet is not None:
                self._subnets[name] = link.subnet
                continue
            subnet = next(s for s in pool[link.family or 4] if not any(s.overlaps(t) for t in taken))
            taken.append(subnet)
            self._subnets[name] = subnet

    def _check_routes(self) -> None:
        for name, node in self.nodes.items():
            own = {link: self._subnets[link] for link in self.links_of(name)}
            for index, route in enumerate(node.routes or []):
                if not any(route.via in subnet for subnet in own.values()):
                    raise KeyedValueError(("nodes", name, "routes", index, "via"),
                                          f"{route.via} is not on a subnet of node {name!r} (expected an address in "
                                          f"{', '.join(map(str, own.values()))})")
                if route.to.version != route.via.version:
                    raise KeyedValueError(("nodes", name, "routes", index, "via"),
                                          f"{route.via} is IPv{route.via.version} but {route.to} is IPv{route.to.version}")

    def _derive_paths(self) -> dict[str, PathSpec]:
        direct = [name for name, link in self.links.items() if set(link.nodes()) == set(ENDPOINTS)]
        if direct:
            return {name: PathSpec(client=name, server=name) for name in direct}
        client, server = self.links_of("client"), self.links_of("server")
        if len(client) == 1:
            return {link: PathSpec(client=client[0], server=link) for link in server}
        if len(server) == 1:
            return {link: PathSpec(client=link, server=server[0]) for link in client}
        raise KeyedValueError(("paths",), "missing: client and server share no link and both have several, so the"
                              " paths are not obvious (expected paths: {<name>: {client: <link>, server: <link>}})")

    def _check_paths(self) -> None:
        for name, path in self._paths.items():
            for side in ENDPOINTS:
                link = getattr(path, side)
                if link not in self.links or side not in self.links[link].nodes():
                    raise KeyedValueError(("paths", name, side), f"{link!r} is not a link of the {side} (expected one "
                                          f"of: {', '.join(self.links_of(side))})")
            if self._subnets[path.client].version != self._subnets[path.server].version:
                raise KeyedValueError(("paths", name), f"client link {path.client!r} is IPv"
                                      f"{self._subnets[path.client].version} but server link {path.server!r} is IPv"
                                      f"{self._subnets[path.server].version} (expected one family per path)")
            for side, here, there in (("client", path.client, path.server), ("server", path.server, path.client)):
                if there not in reachable_links(side, hops=self.hops, is_router=self.is_router):
                    raise KeyedValueError(("paths", name), f"the {side} cannot reach link {there!r} from link "
                                          f"{here!r} (expected routers joining them)")

    # -- derived facts ---------------------------------------------------------------------------------------

    @property
    def path_map(self) -> dict[str, PathSpec]:
        """Every path by name (given or derived), the primary first."""
        first = self.primary_path
        return {first: self._paths[first], **{n: p for n, p in self._paths.items() if n != first}}

    @property
    def primary_path(self) -> str:
        """The name of the primary path."""
        return self.primary if self.primary is not None else next(iter(self._paths))

    @property
    def routers(self) -> list[str]:
        return [node for node in self.nodes if node not in ENDPOINTS]

    def is_router(self, node: str) -> bool:
        return node not in ENDPOINTS

    def link(self, name: str) -> Link:
        """The link called ``name``; :class:`ConfigError` naming the links there are otherwise."""
        found = self.links.get(name)
        if found is None:
            raise ConfigError(f"no link {name!r} in topology {self.name} (expected one of: {', '.join(self.links)})",
                              key="link")
        return found

    def senders(self, link: str, direction: Direction) -> list[str]:
        """The nodes whose egress on ``link`` carries ``direction`` (``a-to-b``: end a's)."""
        spec = self.link(link)
        return {"both": [spec.a.node, spec.b.node], "a-to-b": [spec.a.node], "b-to-a": [spec.b.node]}[direction]

    def subnet(self, link: str) -> IPNetwork:
        """The link's subnet, given or allocated."""
        return self._subnets[link]

    def prefixlen(self, link: str) -> int:
        return self._subnets[link].prefixlen

    def link_addresses(self, link: str) -> tuple[IPAddress, IPAddress]:
        """The addresses of ends a and b; an end without one gets the first host address not taken."""
        ends = self.links[link].ends
        given = {end.address for end in ends}
        free = (host for host in self._subnets[link].hosts() if host not in given)
        a, b = (end.address if end.address is not None else next(free) for end in ends)
        return a, b

    def links_of(self, node: str) -> list[str]:
        """The links ``node`` is on: those of the primary path first, then the others in path and file order."""
        order = list(self.links)
        if self._paths:
            order = [link for path in self.path_map.values() for link in (path.client, path.server)] + order
        return [name for name in dict.fromkeys(order) if name in self.links and node in self.links[name].nodes()]

    def addresses_of(self, node: str) -> list[tuple[str, IPAddress]]:
        """``(link, address)`` for each link of ``node``, in :meth:`links_of` order."""
        return [(link, self.address(link, node)) for link in self.links_of(node)]

    def address(self, link: str, node: str) -> IPAddress:
        """The address of ``node`` on ``link`` (without prefix; see :meth:`prefixlen`)."""
        return self.link_addresses(link)[self.links[link].side(node)]

    def path_addresses(self, path: str) -> tuple[IPAddress, IPAddress]:
        """The client's and the server's address on ``path``."""
        spec = self._paths[path]
        return self.address(spec.client, "client"), self.address(spec.server, "server")

    def interface(self, link: str, node: str) -> str:
        """The name of ``node``'s interface on ``link``, as written in the file."""
        return self.links[link].ends[self.links[link].side(node)].interface

    def peer_of(self, link: str, node: str) -> str:
        """The node at the other end of ``link`` from ``node``."""
        return self.links[link].ends[1 - self.links[link].side(node)].node

    def hops(self, node: str) -> list[Hop]:
        """Each link of ``node`` (file order) with the neighbour there and its address."""
        return [Hop(link, self.peer_of(link, node), self.address(link, self.peer_of(link, node)))
                for link in self.links if node in self.links[link].nodes()]

    def routes_of(self, node: str) -> list[RouteEntry]:
        """The node's static routes: as given in the file, or derived from the links."""
        given = self.nodes[node].routes
        if given is not None:
            return [RouteEntry(r.to, r.via, r.metric) for r in given]
        return derive_routes(node, hops=self.hops, is_router=self.is_router, subnets=self._subnets)


def _address_problem(address: IPAddress, subnet: IPNetwork) -> str | None:
    """Why ``address`` cannot be a host address in ``subnet``, or None if it can."""
    if address.version != subnet.version:
        return f"is an IPv{address.version} address but subnet {subnet} is IPv{subnet.version}"
    if address not in subnet:
        return f"is outside subnet {subnet}"
    if address == subnet.network_address:
        return f"is the network address of {subnet}"
    if address == subnet.broadcast_address:
        return f"is the broadcast address of {subnet}"
    return None


def load_topology(path: str | Path) -> Topology:
    """Load and fully validate the topology file at ``path``; :class:`ConfigError` on any problem."""
    return load_model(Path(path), Topology)


def resolve_topology_path(name_or_path: str, search: Sequence[Path]) -> Path:
    """The topology file meant by ``name_or_path``.

    An existing file is used as is; a bare name such as ``dual-homed`` is
    looked up as ``<dir>/dual-homed.yaml`` in each of the ``search`` dirs,
    then among the topologies the package ships (:mod:`lab.model.catalog`).
    """
    return find("topology", name_or_path, search)
