"""netem on the egress of lab interfaces, shared by every impairment.

netem shapes egress only, and a ``change`` replaces ALL of its parameters, so
each interface keeps the set of impairments applied to it and the kernel
always gets their merge: for each parameter the largest value wins (a
blackhole's loss of 100 % beats a 5 % loss; a delay and a loss on the same
link combine). When the last impairment leaves, the qdisc is deleted and the
interface is back to its default queueing.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from lab.errors import KernelError
from lab.kernel.network import Network
from lab.model.impairment import PARAMETERS

__all__ = ["NetemParams", "NetemTable", "PARAMETERS"]

_HANDLE = 0x10000  # 1:


@dataclass(frozen=True)
class NetemParams:
    """One impairment's netem parameters (0 = not set)."""

    delay_ms: float = 0
    jitter_ms: float = 0
    loss_pct: float = 0
    loss_corr_pct: float = 0
    reorder_pct: float = 0
    duplicate_pct: float = 0
    corrupt_pct: float = 0
    rate_kbit: float = 0

    def __post_init__(self) -> None:
        for name in PARAMETERS:
            value = getattr(self, name)
            if value < 0 or (name.endswith("_pct") and value > 100):
                raise KernelError(f"netem {name}={value}: expected 0-100 for a percentage, >= 0 otherwise")
        if self.reorder_pct and not self.delay_ms:
            raise KernelError("netem reorder_pct needs delay_ms > 0 (netem reorders by not delaying some packets)")
        if self.loss_corr_pct and not self.loss_pct:
            raise KernelError("netem loss_corr_pct needs loss_pct > 0")

    def merge(self, other: NetemParams) -> NetemParams:
        return NetemParams(**{name: max(getattr(self, name), getattr(other, name)) for name in PARAMETERS})

    def describe(self) -> str:
        return " ".join(f"{name}={getattr(self, name):g}" for name in PARAMETERS if getattr(self, name)) or "none"

    def pyroute2(self) -> dict[str, Any]:
        """The arguments of ``IPRoute.tc('add'|'change', 'netem', ...)``."""
        args: dict[str, Any] = {}
        if self.delay_ms:
            args["delay"] = int(self.delay_ms * 1000)  # us
        if self.jitter_ms:
            args["jitter"] = int(self.jitter_ms * 1000)
        if self.loss_pct:
            args["loss"] = self.loss_pct
        if self.loss_corr_pct:
            args["loss_corr"] = self.loss_corr_pct
        if self.reorder_pct:
            args["prob_reorder"] = self.reorder_pct
        if self.duplicate_pct:
            args["duplicate"] = self.duplicate_pct
        if self.corrupt_pct:
            args["prob_corrupt"] = self.corrupt_pct
        if self.rate_kbit:
            args["rate"] = f"{self.rate_kbit:g}kbit"
        return args


@dataclass
class NetemTable:
    """The impairments active on each (node, link) egress of one network."""

    net: Network
    active: dict[tuple[str, str], dict[int, NetemParams]] = field(default_factory=dict)

    def set(self, node: str, link: str, owner: int, params: NetemParams) -> None:
        """Add or change ``owner``'s impairment on the node's interface on ``link``."""
        entries = self.active.setdefault((node, link), {})
        existed = bool(entries)
        entries[owner] = params
        self._program(node, link, "change" if existed else "add")

    def clear(self, node: str, link: str, owner: int) -> None:
        """Remove ``owner``'s impairment; delete the qdisc when none is left."""
        entries = self.active.get((node, link), {})
        if entries.pop(owner, None) is None:
            return
        if entries:
            self._program(node, link, "change")
            return
        del self.active[(node, link)]
        try:
            self.net.ipr(node).tc("del", index=self.net.ifindex(link, node), handle=_HANDLE, root=True)
        except NetlinkError as err:
            if err.code not in (errno.ENOENT, errno.EINVAL, errno.ENODEV):
                raise KernelError(f"removing netem from {self.net.ifname(link, node)}: {err}") from err

    def effective(self, node: str, link: str) -> NetemParams:
        merged = NetemParams()
        for params in self.active.get((node, link), {}).values():
            merged = merged.merge(params)
        return merged

    def _program(self, node: str, link: str, command: str) -> None:
        params = self.effective(node, link)
        try:
            self.net.ipr(node).tc(command, "netem", index=self.net.ifindex(link, node), handle=_HANDLE,
                                  **params.pyroute2())
        except NetlinkError as err:
            raise KernelError(
                f"{command} netem {params.describe()} on {self.net.ifname(link, node)} in {self.net.netns(node)}: {err}"
            ) from err
