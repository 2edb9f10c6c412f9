"""Selective drops by SCTP chunk type: a tc u32 filter with a drop action.

The filter sits on the egress hook of a ``clsact`` qdisc, so it coexists with
any netem root qdisc on the same interface. It matches IPv4 packets without
options, or IPv6 packets without extension headers (the lab sends neither),
carrying SCTP, on the type of the FIRST chunk (IP header + 12). Chunks bundled behind another are not looked at; in the
lab's one-way traffic DATA, SACK, HEARTBEAT-ACK and INIT/INIT-ACK each
travel first in their packet.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import ConfigError, KernelError
from lab.kernel.network import Network
from lab.model.netem import Direction
from lab.model.protocol import CHUNK_TYPES

__all__ = ["CHUNK_TYPES", "ChunkDrop"]

_CLSACT_EGRESS = 0xFFFFFFF3
#: Per IP version: the ethertype, the u32 keys that match SCTP, the offset of the first chunk.
_MATCH = {
    4: (0x0800, ["0x05000000/0x0f000000+0",  # IPv4 header without options
                 "0x00840000/0x00ff0000+8"],  # protocol 132 (SCTP)
        20 + 12),
    6: (0x86DD, ["0x00008400/0x0000ff00+4"],  # next header 132 (SCTP), no extension headers
        40 + 12),
}


@dataclass(eq=False)
class ChunkDrop:
    """Drop packets whose first chunk is one of ``chunks`` on a link (egress of the sending end(s))."""

    link: str
    chunks: tuple[str, ...] = ("DATA",)
    direction: Direction = "both"
    _prio: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        unknown = [c for c in self.chunks if c not in CHUNK_TYPES]
        if unknown or not self.chunks:
            raise ConfigError(f"unknown chunk type(s) {unknown or '(none)'} (expected some of: {', '.join(CHUNK_TYPES)})")

    def describe(self) -> str:
        return f"drop {'/'.join(self.chunks)} chunks on {self.link} ({self.direction})"

    def nodes(self, net: Network) -> list[str]:
        return net.topology.senders(self.link, self.direction)

    def apply(self, net: Network) -> None:
        for node in self.nodes(net):
            ipr, index = net.ipr(node), net.ifindex(self.link, node)
            users = net.filters.setdefault((node, self.link), set())
            try:
                if not users:
                    ipr.tc("add", "clsact", index=index)
                prio = max(users, default=0) + 1
                users.add(prio)
                self._prio[node] = prio
                ethertype, keys, first = _MATCH[net.topology.subnet(self.link).version]
                for offset, chunk in enumerate(self.chunks):
                    ipr.tc("add-filter", "u32", index=index, parent=_CLSACT_EGRESS, prio=prio * 16 + offset,
                           protocol=ethertype, target=0, action="drop",
                           keys=[*keys, f"0x{CHUNK_TYPES[chunk] << 24:08x}/0xff000000+{first}"])  # first chunk's type
            except NetlinkError as err:
                raise KernelError(f"adding a u32 drop filter ({self.describe()}) on "
                                  f"{net.ifname(self.link, node)}: {err}") from err

    def undo(self, net: Network) -> None:
        for node, prio in list(self._prio.items()):
            ipr, index = net.ipr(node), net.ifindex(self.link, node)
            users = net.filters.get((node, self.link), set())
            users.discard(prio)
            del self._prio[node]
            try:
                if users:
                    ethertype = _MATCH[net.topology.subnet(self.link).version][0]
                    for offset in range(len(self.chunks)):
                        ipr.tc("del-filter", "u32", index=index, parent=_CLSACT_EGRESS, prio=prio * 16 + offset,
                               protocol=ethertype)
                else:
                    ipr.tc("del", "clsact", index=index)
            except NetlinkError as err:
                if err.code not in (errno.ENOENT, errno.EINVAL, errno.ENODEV):
                    raise KernelError(f"removing {self.describe()} from {net.ifname(self.link, node)}: {err}") from err
