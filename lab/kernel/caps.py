"""What the running kernel can do for the lab, and where the lab should run.

The probe builds nothing in the caller's namespace: it runs in a throwaway
thread that moves into a fresh anonymous network namespace, which the kernel
frees when the thread ends.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Literal

from lab.errors import CapabilityError

__all__ = ["KernelCaps", "probe", "in_guest", "KernelMode", "NEEDS", "PACKAGES"]

KernelMode = Literal["auto", "host", "guest"]

#: What a kernel test of the lab needs.
NEEDS = ("netns", "veth", "sctp", "netem")

#: Where a missing capability comes from, for error messages.
PACKAGES = {
    "netns": "root (CAP_SYS_ADMIN) and a kernel with CONFIG_NET_NS",
    "veth": "the veth module (CONFIG_VETH)",
    "sctp": "the sctp module (CONFIG_IP_SCTP; RHEL: kernel-modules-extra, not blacklisted)",
    "netem": "the sch_netem module (CONFIG_NET_SCH_NETEM)",
}

_CLONE_NEWNET = 0x40000000
_IPPROTO_SCTP = 132


def in_guest() -> bool:
    """True inside the lab's User-Mode Linux guest."""
    return os.environ.get("SCTPLAB_IN_GUEST") == "1"


@dataclass(frozen=True)
class KernelCaps:
    """The result of probing the running kernel."""

    release: str
    guest: bool
    missing: dict[str, str] = field(default_factory=dict)

    def lacks(self, needs: tuple[str, ...] = NEEDS) -> dict[str, str]:
        """The needed capabilities that are missing, each with the reason."""
        return {need: self.missing[need] for need in needs if need in self.missing}

    def can(self, needs: tuple[str, ...] = NEEDS) -> bool:
        return not self.lacks(needs)

    def describe(self) -> str:
        """One line: which kernel, and what it lacks."""
        kind = "User-Mode Linux guest" if self.guest else "host"
        if self.can():
            return f"{kind} kernel {self.release} (SCTP, netem, veth, namespaces)"
        lacking = ", ".join(f"{k} ({v})" for k, v in self.missing.items())
        return f"{kind} kernel {self.release} lacks {lacking}"

    def require(self, needs: tuple[str, ...] = NEEDS) -> None:
        """Raise :class:`CapabilityError` naming what is missing and where it comes from."""
        lacking = self.lacks(needs)
        if lacking:
            parts = [f"{k}: {v}; needs {PACKAGES[k]}" for k, v in lacking.items()]
            raise CapabilityError(f"kernel {self.release} cannot run the lab: " + "; ".join(parts))


def _errno_text(err: OSError) -> str:
    return errno.errorcode.get(err.errno or 0, str(err.errno)) + f" {err.strerror}"


def _probe_in_fresh_netns(missing: dict[str, str]) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        reason = "cannot create a network namespace: " + os.strerror(code)
        for need in NEEDS:
            missing[need] = reason
        return
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, _IPPROTO_SCTP).close()
    except OSError as err:
        missing["sctp"] = "socket(IPPROTO_SCTP) failed: " + _errno_text(err)
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        try:
            ipr.link("add", ifname="probe0", kind="veth", peer={"ifname": "probe1"})
        except NetlinkError as err:
            missing["veth"] = f"cannot create a veth pair: {os.strerror(err.code)}"
        (lo,) = ipr.link_lookup(ifname="lo")
        try:
            ipr.tc("add", "netem", index=lo, handle="1:", loss=0)
        except NetlinkError as err:
            missing["netem"] = f"cannot add a netem qdisc: {os.strerror(err.code)}"


@functools.cache
def probe() -> KernelCaps:
    """Probe the running kernel once per process."""
    missing: dict[str, str] = {}
    worker = threading.Thread(target=_probe_in_fresh_netns, args=(missing,), name="caps-probe")
    worker.start()
    worker.join()
    return KernelCaps(release=os.uname().release, guest=in_guest(), missing=missing)
