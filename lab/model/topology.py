"""The topology file: which nodes exist and which links join them.

``topologies/dual-homed.yaml`` shows the format. :func:`load_topology`
validates a file completely, so every problem is one :class:`ConfigError`
naming file, line and key; the :class:`Topology` methods then derive
addresses, interfaces and peers without further checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_interface
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress, field_validator, model_validator

from lab.errors import ConfigError
from lab.model.yamlsource import KeyedValueError, load_model

__all__ = [
    "IFNAME_MAX",
    "IPAddress",
    "IPNetwork",
    "LinkEnd",
    "Link",
    "Node",
    "Topology",
    "load_topology",
    "resolve_topology_path",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

#: Longest interface name a topology may use: the lab appends ".<6-hex run
#: tag>" (7 characters) and Linux allows 15.
IFNAME_MAX = 8

_NAME = re.compile(r"[a-z][a-z0-9-]{0,15}")
_IFNAME = re.compile(r"[a-z][a-z0-9]*")


class _Model(BaseModel):
    """Frozen, no unknown keys; a required field's description completes "missing (expected ...)"."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Node(_Model):
    """A network namespace (or guest) of the lab, with sysctls to set in it."""

    sysctls: dict[str, int | str] = {}


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
                " (the lab appends '.<6-hex run tag>' and Linux allows 15)"
            )
        return name


class Link(_Model):
    """A subnet joining two nodes; ``a`` and ``b`` are its ends."""

    subnet: IPNetwork = Field(description="a subnet such as 198.18.1.0/24")
    a: LinkEnd = Field(description="a link end such as {node: client, interface: eth0}")
    b: LinkEnd = Field(description="a link end such as {node: server, interface: eth0}")

    @field_validator("subnet", mode="plain")
    @classmethod
    def _parse_subnet(cls, value: object) -> IPNetwork:
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

    @model_validator(mode="after")
    def _check(self) -> Link:
        if self.a.node == self.b.node:
            raise KeyedValueError(
                ("b", "node"), f"link from node {self.b.node!r} to itself (expected two different nodes)"
            )
        subnet = self.subnet
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

    @property
    def addresses(self) -> tuple[IPAddress, IPAddress]:
        """The addresses of ends a and b; an end without one gets the first host address not taken."""
        given = {end.address for end in self.ends}
        free = (host for host in self.subnet.hosts() if host not in given)
        a, b = (end.address if end.address is not None else next(free) for end in self.ends)
        return a, b

    def side(self, node: str) -> int:
        """0 if ``node`` is at end a, 1 if at end b; :class:`KeyError` if it is at neither."""
        for index, end in enumerate(self.ends):
            if end.node == node:
                return index
        raise KeyError(f"node {node!r} is not on this link")


class Topology(_Model):
    """Named nodes joined by named links; ``primary`` (default: the first link) is the primary path."""

    name: str = Field(description="the topology's name, e.g. dual-homed")
    description: str = ""
    primary: str | None = None
    nodes: dict[str, Node] = Field(description="a mapping of node names to nodes, e.g. client: {}")
    links: dict[str, Link] = Field(description="a mapping of link names to links, e.g. path-a: {subnet: ...}")

    @model_validator(mode="after")
    def _check(self) -> Topology:
        for section, names in (("nodes", self.nodes), ("links", self.links)):
            for name in names:
                if not _NAME.fullmatch(name):
                    raise KeyedValueError(
                        (section, name),
                        f"invalid {section[:-1]} name {name!r}"
                        " (expected a lowercase letter, then up to 15 lowercase letters, digits or '-')",
                    )
        if len(self.nodes) < 2:
            raise KeyedValueError(("nodes",), f"{len(self.nodes)} node(s) given (expected at least two)")
        if not self.links:
            raise KeyedValueError(("links",), "no links given (expected at least one)")
        self._check_link_ends()
        self._check_subnets()
        if self.primary is not None and self.primary not in self.links:
            raise KeyedValueError(
                ("primary",), f"unknown link {self.primary!r} (expected one of: {', '.join(self.links)})"
            )
        for node in self.nodes:
            if not self.links_of(node):
                raise KeyedValueError(
                    ("nodes", node), f"node {node!r} is not on any link, so it has no path to a peer"
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

    def _check_subnets(self) -> None:
        links = list(self.links.items())
        for index, (name, link) in enumerate(links):
            for other, earlier in links[:index]:
                if link.subnet.overlaps(earlier.subnet):
                    raise KeyedValueError(
                        ("links", name, "subnet"),
                        f"{link.subnet} overlaps {earlier.subnet} of link {other!r}",
                    )

    @property
    def primary_link(self) -> str:
        """The name of the primary link."""
        return self.primary if self.primary is not None else next(iter(self.links))

    def links_of(self, node: str) -> list[str]:
        """The links ``node`` is on: the primary link first, then the rest in file order."""
        order = [self.primary_link, *(name for name in self.links if name != self.primary_link)]
        return [name for name in order if node in (self.links[name].a.node, self.links[name].b.node)]

    def addresses_of(self, node: str) -> list[tuple[str, IPAddress]]:
        """``(link, address)`` for each link of ``node``, in :meth:`links_of` order."""
        return [(link, self.address(link, node)) for link in self.links_of(node)]

    def address(self, link: str, node: str) -> IPAddress:
        """The address of ``node`` on ``link`` (without prefix; see :meth:`prefixlen`)."""
        return self.links[link].addresses[self.links[link].side(node)]

    def prefixlen(self, link: str) -> int:
        return self.links[link].subnet.prefixlen

    def interface(self, link: str, node: str) -> str:
        """The name of ``node``'s interface on ``link``, as written in the file."""
        return self.links[link].ends[self.links[link].side(node)].interface

    def peer_of(self, link: str, node: str) -> str:
        """The node at the other end of ``link`` from ``node``."""
        return self.links[link].ends[1 - self.links[link].side(node)].node


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
    looked up as ``<dir>/dual-homed.yaml`` in each of the ``search`` dirs.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.name != name_or_path:
        raise ConfigError("no such file", file=path)
    for directory in search:
        if (directory / f"{name_or_path}.yaml").is_file():
            return directory / f"{name_or_path}.yaml"
    available = sorted({found.stem for directory in search for found in directory.glob("*.yaml")})
    raise ConfigError(
        f"unknown topology {name_or_path!r} (searched {', '.join(map(str, search)) or 'no directories'};"
        f" available: {', '.join(available) or 'none'})"
    )
