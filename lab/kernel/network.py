"""Builds a topology into live namespaces and veth links, and tears it down.

Every object is registered for undo right after it is created, so a failure
or Ctrl-C half-way unwinds what exists, in reverse order. Names carry the
run's tag: namespaces are ``sctplab-<tag>-<node>``, interfaces
``<interface>-<tag>``; nothing is ever created in the caller's namespace.
"""

from __future__ import annotations

import errno
import os
import secrets
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from ipaddress import IPv4Address, IPv6Address
from typing import Iterator

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import KernelError
from lab.kernel import netns, sysctl
from lab.kernel.qdisc import Interface, NetemTable
from lab.model.topology import Topology
from lab.wait import wait_until

__all__ = ["Network", "build", "new_tag", "owner_of", "NETNS_PREFIX", "LINK_UP_TIMEOUT", "OWNERS"]

NETNS_PREFIX = "sctplab-"
#: ``<tag>`` files holding the pid of the process that built the tag's
#: namespaces, so ``sctplab clean`` can tell a live run from a killed one.
OWNERS = Path("/run/sctplab/owners")
#: Both ends of a fresh veth report carrier within milliseconds; this bounds
#: the wait even in a slow guest.
LINK_UP_TIMEOUT = 10.0


def new_tag() -> str:
    """A run tag (6 hex digits) that no existing namespace uses."""
    while True:
        tag = secrets.token_hex(3)
        if not any(name.startswith(f"{NETNS_PREFIX}{tag}-") for name in netns.names()):
            return tag


def owner_of(tag: str) -> int | None:
    """The pid recorded as building ``tag``'s namespaces, if any."""
    try:
        return int((OWNERS / tag).read_text())
    except (OSError, ValueError):
        return None


def _own(tag: str) -> Path:
    OWNERS.mkdir(parents=True, exist_ok=True)
    path = OWNERS / tag
    path.write_text(f"{os.getpid()}\n")
    return path


@dataclass
class Network:
    """A topology built into the kernel: names, netlink sockets, addresses."""

    topology: Topology
    tag: str
    _ipr: dict[str, IPRoute] = field(default_factory=dict, repr=False)
    #: netem on every interface: the links' built-in impairments and those faults add
    netem: NetemTable = field(default_factory=NetemTable, repr=False)
    #: chunk-drop filter priorities in use per (node, link) (the clsact qdisc goes with the last)
    filters: dict[tuple[str, str], set[int]] = field(default_factory=dict, repr=False)

    def netns(self, node: str) -> str:
        """Name of the node's network namespace."""
        return f"{NETNS_PREFIX}{self.tag}-{node}"

    def ifname(self, link: str, node: str) -> str:
        """Kernel name of the node's interface on the link."""
        return f"{self.topology.interface(link, node)}-{self.tag}"

    def ipr(self, node: str) -> IPRoute:
        """The node's netlink socket (use it from one thread at a time)."""
        return self._ipr[node]

    def ifindex(self, link: str, node: str) -> int:
        found = self.ipr(node).link_lookup(ifname=self.ifname(link, node))
        if not found:
            raise KernelError(f"interface {self.ifname(link, node)} not found in {self.netns(node)}")
        return int(found[0])

    def interface(self, link: str, node: str) -> Interface:
        """The node's live interface on ``link`` (through the node's netlink socket: one thread at a time)."""
        return Interface(self.ipr(node), self.ifindex(link, node), self.ifname(link, node), self.netns(node))

    def address(self, link: str, node: str) -> IPv4Address | IPv6Address:
        return self.topology.address(link, node)

    def addresses(self, node: str) -> list[IPv4Address | IPv6Address]:
        """The node's addresses, primary link first."""
        return [addr for _, addr in self.topology.addresses_of(node)]

    def entered(self, node: str):  # type: ignore[no-untyped-def]
        """Context manager: the calling thread runs inside the node's namespace."""
        return netns.entered(self.netns(node))

    def operstate(self, link: str, node: str) -> str:
        (msg,) = self.ipr(node).get_links(self.ifindex(link, node))
        return str(msg.get("IFLA_OPERSTATE"))


def _netlink(what: str, err: NetlinkError) -> KernelError:
    return KernelError(f"{what}: {os.strerror(err.code) if err.code else err}")


def _delete_link(ipr: IPRoute, ifname: str) -> None:
    try:
        found = ipr.link_lookup(ifname=ifname)
        if found:
            ipr.link("del", index=found[0])
    except NetlinkError as err:
        if err.code not in (errno.ENODEV, errno.ENOENT):
            raise _netlink(f"deleting {ifname}", err) from err


#: Set in every namespace before its interfaces exist: IPv6 addresses usable at
#: once (no duplicate address detection on a lab link) and kept on admin down.
_IPV6_DEFAULTS = {"net.ipv6.conf.default.accept_dad": 0, "net.ipv6.conf.all.accept_dad": 0,
                  "net.ipv6.conf.default.keep_addr_on_down": 1}
#: Set in router namespaces: they forward both families.
_ROUTER_SYSCTLS = {"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": 1}


@contextmanager
def build(topology: Topology, *, tag: str | None = None) -> Iterator[Network]:
    """Build ``topology``; yield the live :class:`Network`; tear it down on exit.

    Order: namespaces (sysctls: IPv6 defaults, forwarding on routers, the
    file's own), links with their addresses, then routes, then the links'
    built-in impairments.
    """
    net = Network(topology=topology, tag=tag or new_tag())
    with ExitStack() as undo:
        undo.callback(_own(net.tag).unlink, missing_ok=True)
        for node, node_spec in topology.nodes.items():
            name = net.netns(node)
            netns.create(name)
            undo.callback(netns.remove, name)
            with netns.entered(name):
                ipr = IPRoute()
                defaults = {k: v for k, v in _IPV6_DEFAULTS.items() if sysctl.exists(k)}
                if topology.is_router(node):
                    defaults |= _ROUTER_SYSCTLS
                for key, value in {**defaults, **node_spec.sysctls}.items():
                    sysctl.write(key, value)
            undo.callback(ipr.close)
            net._ipr[node] = ipr
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        for link, spec in topology.links.items():
            _build_link(net, undo, link, spec.a.node, spec.b.node)
        for link, spec in topology.links.items():
            for node in (spec.a.node, spec.b.node):
                wait_until(
                    lambda: net.operstate(link, node) == "UP",
                    timeout=LINK_UP_TIMEOUT,
                    what=f"{net.ifname(link, node)} in {net.netns(node)} to be up",
                )
        for node in topology.nodes:
            _add_routes(net, node)
        _impair_links(net, undo)
        yield net


def _add_routes(net: Network, node: str) -> None:
    """The node's static routes (they go with its namespace)."""
    for route in net.topology.routes_of(node):
        try:
            net.ipr(node).route("add", dst=str(route.to), gateway=str(route.via), priority=route.metric)
        except NetlinkError as err:
            raise _netlink(f"adding route to {route.to} via {route.via} in {net.netns(node)}", err) from err


#: The owner of a link's built-in netem in :attr:`Network.netem` (faults own theirs by object id).
BUILT_IN = 0


def _impair_links(net: Network, undo: ExitStack) -> None:
    """netem the topology file builds into links; faults combine with it and restore to it."""
    for link, spec in net.topology.links.items():
        if spec.impair is not None:
            for node in net.topology.senders(link, spec.impair.direction):
                iface = net.interface(link, node)
                net.netem.set(iface, BUILT_IN, spec.impair.params())
                undo.callback(net.netem.clear, iface, BUILT_IN)


def _build_link(net: Network, undo: ExitStack, link: str, a: str, b: str) -> None:
    ipr_a, ipr_b = net.ipr(a), net.ipr(b)
    name_a, name_b = net.ifname(link, a), net.ifname(link, b)
    peer_ns = os.open(netns.path_of(net.netns(b)), os.O_RDONLY)
    try:
        ipr_a.link("add", ifname=name_a, kind="veth", peer={"ifname": name_b, "net_ns_fd": peer_ns})
    except NetlinkError as err:
        raise _netlink(f"creating veth {name_a} <-> {name_b} for link {link}", err) from err
    finally:
        os.close(peer_ns)
    undo.callback(_delete_link, ipr_a, name_a)
    prefixlen = net.topology.prefixlen(link)
    for ipr, node, ifname in ((ipr_a, a, name_a), (ipr_b, b, name_b)):
        index = ipr.link_lookup(ifname=ifname)[0]
        try:
            ipr.addr("add", index=index, address=str(net.address(link, node)), prefixlen=prefixlen)
            ipr.link("set", index=index, state="up")
        except NetlinkError as err:
            raise _netlink(f"configuring {ifname} in {net.netns(node)}", err) from err
