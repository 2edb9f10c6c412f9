"""The faults a path can suffer, each a named action with its exact undo.

Every fault is a small dataclass naming the link (and direction or side) it
acts on. :func:`inject` applies it as a context manager: it snapshots the
namespaces the fault touches, applies it, logs it, and on exit undoes it,
waits for the links to come back, and compares a fresh snapshot with the
first, so a restore that is not exact fails loudly, also after a failure or
an interrupt in the body.
"""

from __future__ import annotations

import errno
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Literal, Protocol

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import ConfigError, KernelError
from lab.events import EventKind, EventLog
from lab.faults.snapshot import Snapshot, compare, take
from lab.kernel.network import LINK_UP_TIMEOUT, Network
from lab.model.netem import Direction, NetemParams
from lab.wait import wait_until

__all__ = [
    "Fault",
    "Blackhole",
    "Impair",
    "LinkDown",
    "RouteWithdrawal",
    "Flap",
    "inject",
]



class Fault(Protocol):
    """What :func:`inject` needs of a fault."""

    link: str

    def describe(self) -> str: ...

    def nodes(self, net: Network) -> list[str]:
        """The nodes whose namespaces the fault changes."""
        ...

    def apply(self, net: Network) -> None: ...

    def undo(self, net: Network) -> None: ...


@dataclass(eq=False)
class Impair:
    """netem on a link's egress, per direction: loss, delay, jitter, reorder, duplicate, corrupt, rate.

    Change it while traffic runs with :meth:`update`; several impairments on
    one interface combine (the largest value of each parameter wins).
    """

    link: str
    params: NetemParams = field(default_factory=NetemParams)
    direction: Direction = "both"
    _net: Network | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"impair {self.link} ({self.direction}): {self.params.describe()}"

    def nodes(self, net: Network) -> list[str]:
        return net.topology.senders(self.link, self.direction)

    def apply(self, net: Network) -> None:
        self._net = net
        for node in self.nodes(net):
            net.netem.set(net.interface(self.link, node), id(self), self.params)

    def update(self, params: NetemParams) -> None:
        """Replace this impairment's parameters while it is applied."""
        self.params = params
        if self._net is not None:
            self.apply(self._net)

    def undo(self, net: Network) -> None:
        for node in self.nodes(net):
            net.netem.clear(net.interface(self.link, node), id(self))


@dataclass(eq=False)
class Blackhole(Impair):
    """Drop everything on a link (netem loss 100 %), both directions or one."""

    params: NetemParams = field(default_factory=lambda: NetemParams(loss_pct=100))

    def describe(self) -> str:
        return f"blackhole {self.link} ({self.direction})"


def _gateway_routes(ipr: IPRoute, index: int) -> list[dict[str, object]]:
    """The routes via a gateway out of interface ``index``: the kernel deletes them when it goes down."""
    specs = []
    for family in (2, 10):
        for route in ipr.get_routes(table=254, family=family):
            if route.get_attr("RTA_OIF") == index and route.get_attr("RTA_GATEWAY") is not None:
                specs.append({"dst": f"{route.get_attr('RTA_DST')}/{route['dst_len']}", "oif": index,
                              "gateway": route.get_attr("RTA_GATEWAY"), "priority": route.get_attr("RTA_PRIORITY"),
                              "proto": route["proto"], "table": 254})
    return specs


def _set_state(net: Network, node: str, link: str, state: str, ipr: IPRoute | None = None,
               routes: list[dict[str, object]] | None = None) -> list[dict[str, object]]:
    """Set the node's interface on ``link`` up or down (through ``ipr`` from a thread of its own).

    Going down returns the gateway routes the kernel is about to delete;
    coming up re-adds ``routes`` (those returned by the down).
    """
    ipr = ipr or net.ipr(node)
    try:
        (index,) = ipr.link_lookup(ifname=net.ifname(link, node))
        lost = _gateway_routes(ipr, index) if state == "down" else []
        ipr.link("set", index=index, state=state)
        for spec in routes or []:
            try:
                ipr.route("add", **spec)
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise
        return lost
    except (NetlinkError, ValueError) as err:
        raise KernelError(f"setting {net.ifname(link, node)} {state} in {net.netns(node)}: {err}") from err


def _wait_up(net: Network, link: str) -> None:
    spec = net.topology.link(link)
    for node in (spec.a.node, spec.b.node):
        wait_until(lambda node=node: net.operstate(link, node) == "UP", timeout=LINK_UP_TIMEOUT,  # type: ignore[misc]
                   what=f"{net.ifname(link, node)} in {net.netns(node)} to be up again")


@dataclass(eq=False)
class LinkDown:
    """Administratively down one interface of a link.

    ``side="near"`` downs ``node``'s own interface (its routes over it go);
    ``side="far"`` downs the peer's, so ``node``'s interface loses carrier
    (its routes stay, marked linkdown). ``node`` defaults to the link's end
    ``a``. IPv4 addresses survive; IPv6 ones do because the builder sets
    ``keep_addr_on_down``.
    """

    link: str
    node: str | None = None
    side: Literal["near", "far"] = "near"
    _routes: list[dict[str, object]] = field(default_factory=list, repr=False)

    def near(self, net: Network) -> str:
        return self.node or net.topology.link(self.link).a.node

    def target(self, net: Network) -> str:
        near = self.near(net)
        return near if self.side == "near" else net.topology.peer_of(self.link, near)

    def describe(self) -> str:
        return f"admin down {self.link} ({self.side} side of {self.node or 'end a'})"

    def nodes(self, net: Network) -> list[str]:
        return list(net.topology.link(self.link).nodes())

    def apply(self, net: Network) -> None:
        self._routes = _set_state(net, self.target(net), self.link, "down")

    def undo(self, net: Network) -> None:
        _set_state(net, self.target(net), self.link, "up", routes=self._routes)
        _wait_up(net, self.link)


@dataclass(eq=False)
class RouteWithdrawal:
    """Delete ``node``'s route to the link's subnet; undo re-adds exactly the routes removed."""

    link: str
    node: str = "client"
    _removed: list[dict[str, object]] = field(default_factory=list, repr=False)

    def describe(self) -> str:
        return f"withdraw {self.node}'s route to {self.link}"

    def nodes(self, net: Network) -> list[str]:
        return [self.node]

    def apply(self, net: Network) -> None:
        subnet = net.topology.subnet(self.link)
        ipr = net.ipr(self.node)
        for route in ipr.get_routes(table=254, family=2 if subnet.version == 4 else 10):
            if route.get_attr("RTA_DST") == str(subnet.network_address) and route["dst_len"] == subnet.prefixlen:
                spec = {"dst": f"{subnet}", "oif": route.get_attr("RTA_OIF"), "proto": route["proto"],
                        "scope": route["scope"], "table": 254}
                for attr, key in (("RTA_PREFSRC", "prefsrc"), ("RTA_GATEWAY", "gateway"), ("RTA_PRIORITY", "priority")):
                    if route.get_attr(attr) is not None:
                        spec[key] = route.get_attr(attr)
                ipr.route("del", **spec)
                self._removed.append(spec)
        if not self._removed:
            raise KernelError(f"{net.netns(self.node)} has no route to {subnet} to withdraw")

    def undo(self, net: Network) -> None:
        while self._removed:
            spec = self._removed.pop()
            try:
                net.ipr(self.node).route("add", **spec)
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise KernelError(f"restoring route {spec} in {net.netns(self.node)}: {err}") from err


@dataclass(eq=False)
class Flap:
    """A link goes down and up ``count`` times: each cycle is ``period`` s, down for ``duty`` of it.

    Runs in a thread while the context is open; undo stops it and leaves the
    link up. ``side``/``node`` choose the interface as for :class:`LinkDown`.
    """

    link: str
    count: int = 3
    period: float = 2.0
    duty: float = 0.5
    node: str | None = None
    side: Literal["near", "far"] = "near"
    log: EventLog | None = None
    _routes: list[dict[str, object]] = field(default_factory=list, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _error: list[BaseException] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.count < 1 or self.period <= 0 or not 0 < self.duty < 1:
            raise ConfigError(f"flap needs count >= 1, period > 0 and 0 < duty < 1 (got {self.count}, "
                              f"{self.period}, {self.duty})")

    @property
    def down(self) -> LinkDown:
        return LinkDown(self.link, self.node, self.side)

    def describe(self) -> str:
        return (f"flap {self.link} {self.count}x (period {self.period:g} s, down {self.duty:.0%}, "
                f"{self.side} side of {self.node or 'end a'})")

    def nodes(self, net: Network) -> list[str]:
        return self.down.nodes(net)

    def apply(self, net: Network) -> None:
        self._thread = threading.Thread(target=self._run, args=(net,), name=f"flap-{self.link}", daemon=True)
        self._thread.start()

    def _run(self, net: Network) -> None:
        target, link = self.down.target(net), self.link
        try:
            with net.entered(target):  # pyroute2 sockets belong to the thread that made them
                ipr = IPRoute()
            with ipr:
                for cycle in range(self.count):
                    self._routes = _set_state(net, target, link, "down", ipr)
                    if self.log:
                        self.log.add("lab", EventKind.FLAP, f"{link} down ({cycle + 1}/{self.count})", link=link)
                    if self._stop.wait(self.period * self.duty):
                        return
                    _set_state(net, target, link, "up", ipr, routes=self._routes)
                    self._routes = []
                    if self.log:
                        self.log.add("lab", EventKind.FLAP, f"{link} up ({cycle + 1}/{self.count})", link=link)
                    if self._stop.wait(self.period * (1 - self.duty)):
                        return
        except BaseException as err:  # re-raised by undo in the caller's thread
            self._error.append(err)

    def wait_done(self, timeout: float | None = None) -> None:
        """Wait until every cycle has run."""
        if self._thread is not None:
            self._thread.join(timeout if timeout is not None else self.count * self.period + LINK_UP_TIMEOUT)

    def undo(self, net: Network) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _set_state(net, self.down.target(net), self.link, "up", routes=self._routes)
        _wait_up(net, self.link)
        if self._error:
            raise KernelError(f"{self.describe()} failed: {self._error[0]}") from self._error[0]


@contextmanager
def inject(net: Network, fault: Fault, *, log: EventLog | None = None) -> Iterator[Fault]:
    """Apply ``fault`` for the body; undo it exactly, verified by snapshots of the link's interfaces.

    Faults on different links may overlap freely; faults on one link must
    nest (the one applied last is undone first).
    """
    net.topology.link(fault.link)  # ConfigError naming the links there are
    nodes = fault.nodes(net)

    def snapshot(node: str) -> Snapshot:  # what the fault acts on: the link's interface in the node
        return take(net.netns(node), net.ipr(node), [net.ifname(fault.link, node)])

    before = {node: snapshot(node) for node in nodes}
    applied = False
    try:
        fault.apply(net)
        applied = True
        if log is not None:
            log.add("lab", EventKind.FAULT, fault.describe(), link=fault.link, downs=isinstance(fault, (LinkDown, Flap)))
        yield fault
    finally:
        fault.undo(net)  # every undo tolerates a fault applied only in part
        for node in nodes:
            compare(before[node], snapshot(node), fault=fault.describe())
        if applied and log is not None:
            log.add("lab", EventKind.RESTORE, f"restored {fault.link} ({fault.describe()})", link=fault.link)
