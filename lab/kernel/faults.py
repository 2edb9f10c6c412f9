"""Link faults injected mid-session, each a context manager with its exact undo.

``blackhole`` drops every packet on a link: netem ``loss 100%`` on the egress
of both veth ends (netem shapes egress only, so a two-way blackhole needs
both). Leaving the context deletes exactly the qdiscs it added, restoring
the links' default queueing.
"""

from __future__ import annotations

import errno
from contextlib import ExitStack, contextmanager
from typing import Iterator, Literal

from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import KernelError
from lab.events import EventLog
from lab.kernel.network import Network

__all__ = ["blackhole", "Direction"]

Direction = Literal["both", "a-to-b", "b-to-a"]
_NETEM_HANDLE = 0x10000  # 1:


def _senders(net: Network, link: str, direction: Direction) -> list[str]:
    spec = net.topology.links[link]
    return {"both": [spec.a.node, spec.b.node], "a-to-b": [spec.a.node], "b-to-a": [spec.b.node]}[direction]


def _remove_netem(net: Network, link: str, node: str) -> None:
    try:
        net.ipr(node).tc("del", index=net.ifindex(link, node), handle=_NETEM_HANDLE, root=True)
    except NetlinkError as err:
        if err.code not in (errno.ENOENT, errno.EINVAL, errno.ENODEV):
            raise KernelError(f"removing netem from {net.ifname(link, node)}: {err}") from err


@contextmanager
def blackhole(net: Network, link: str, *, direction: Direction = "both", log: EventLog | None = None) -> Iterator[None]:
    """Drop everything sent on ``link`` in ``direction`` while the context is open."""
    if link not in net.topology.links:
        raise KernelError(f"no link {link!r} in topology {net.topology.name} (links: {', '.join(net.topology.links)})")
    applied = False
    try:
        with ExitStack() as undo:
            for node in _senders(net, link, direction):
                try:
                    net.ipr(node).tc("add", "netem", index=net.ifindex(link, node), handle=_NETEM_HANDLE, loss=100)
                except NetlinkError as err:
                    raise KernelError(f"adding netem loss 100% on {net.ifname(link, node)}: {err}") from err
                undo.callback(_remove_netem, net, link, node)
            applied = True
            if log is not None:
                log.add("lab", "fault", f"blackhole {link} ({direction})", link=link, direction=direction)
            yield
    finally:
        if applied and log is not None:
            log.add("lab", "restore", f"restored {link}", link=link)
