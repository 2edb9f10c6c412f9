"""The egress queueing of a lab interface: netem, shared by every impairment on it.

netem shapes egress only, and a ``change`` replaces ALL of its parameters, so
each interface keeps the set of impairments applied to it and the kernel
always gets their merge: for each parameter the largest value wins (a
blackhole's loss of 100 % beats a 5 % loss; a delay and a loss on the same
link combine). When the last impairment leaves, the qdisc is deleted and the
interface is back to its default queueing. A network keeps one
:class:`NetemTable` (``Network.netem``) for the impairments built into its
links and those faults add.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import KernelError
from lab.model.netem import NetemParams

__all__ = ["Interface", "NetemTable"]

_HANDLE = 0x10000  # 1:


@dataclass(frozen=True)
class Interface:
    """A live interface: the netlink socket of its namespace, its index, and its names for messages."""

    ipr: IPRoute
    index: int
    name: str
    netns: str

    @property
    def key(self) -> str:
        """Unique among a network's interfaces (names repeat across namespaces)."""
        return f"{self.netns}/{self.name}"


@dataclass
class NetemTable:
    """The impairments active on each interface of one network, by owner."""

    active: dict[str, dict[int, NetemParams]] = field(default_factory=dict)  # by Interface.key

    def set(self, iface: Interface, owner: int, params: NetemParams) -> None:
        """Add or change ``owner``'s impairment on ``iface``."""
        entries = self.active.setdefault(iface.key, {})
        existed = bool(entries)
        entries[owner] = params
        self._program(iface, "change" if existed else "add")

    def clear(self, iface: Interface, owner: int) -> None:
        """Remove ``owner``'s impairment; delete the qdisc when none is left."""
        entries = self.active.get(iface.key, {})
        if entries.pop(owner, None) is None:
            return
        if entries:
            self._program(iface, "change")
            return
        del self.active[iface.key]
        try:
            iface.ipr.tc("del", index=iface.index, handle=_HANDLE, root=True)
        except NetlinkError as err:
            if err.code not in (errno.ENOENT, errno.EINVAL, errno.ENODEV):
                raise KernelError(f"removing netem from {iface.name}: {err}") from err

    def effective(self, iface: Interface) -> NetemParams:
        """The merge of every impairment on ``iface``."""
        merged = NetemParams()
        for params in self.active.get(iface.key, {}).values():
            merged = merged.merge(params)
        return merged

    def _program(self, iface: Interface, command: str) -> None:
        params = self.effective(iface)
        try:
            iface.ipr.tc(command, "netem", index=iface.index, handle=_HANDLE, **params.pyroute2())
        except NetlinkError as err:
            raise KernelError(f"{command} netem {params.describe()} on {iface.name} in {iface.netns}: {err}") from err
