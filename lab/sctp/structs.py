"""The kernel's SCTP socket option structures, packed and parsed; no socket calls.

:mod:`lab.sctp.sockopt` makes the calls; what sendmsg/recvmsg carry
(SNDINFO, RCVINFO, notifications) is :mod:`lab.sctp.messages`. Layouts follow
``include/uapi/linux/sctp.h`` on x86_64 Linux (every size below was checked
against gcc's ``sizeof``/``offsetof``):

- ``struct sockaddr_storage`` is 128 bytes and 8-byte aligned.
- ``sctp_paddrinfo`` (152), ``sctp_paddrparams`` (156) and ``sctp_prim``
  (132) are ``packed, aligned(4)``: the address follows a 4-byte assoc id
  directly.
- ``sctp_paddrthlds`` (144) is NOT packed: 4 bytes of padding sit between
  ``spt_assoc_id`` and ``spt_address``, and 4 more at the end.
- ``sctp_status`` is 176 bytes, its ``sstat_primary`` at offset 24.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from dataclasses import dataclass

from lab.kernel.sctpproc import SCTP_STATES
from lab.model.protocol import PATH_STATES

__all__ = [
    "PeerAddrInfo",
    "AssocStatus",
    "PeerAddrParams",
    "SSTAT_STATES",
    "STRUCT_SIZES",
    "IPPROTO_SCTP",
    "SPP_HB_ENABLE",
    "SPP_HB_DISABLE",
    "SCTP_PF_EXPOSE_DISABLE",
    "SCTP_PF_EXPOSE_ENABLE",
    "pack_sockaddr",
    "unpack_sockaddr",
    "pack_paddrinfo",
    "unpack_paddrinfo",
    "pack_status",
    "unpack_status",
    "pack_paddrparams",
    "unpack_paddrparams",
    "pack_paddrthlds",
    "unpack_paddrthlds",
    "pack_prim",
    "pack_assoc_value",
    "unpack_assoc_value",
]

IPPROTO_SCTP = 132

# spp_flags (enum sctp_spp_flags).
SPP_HB_ENABLE = 1 << 0
SPP_HB_DISABLE = 1 << 1
_SPP_HB_TIME_IS_ZERO = 1 << 7

# SCTP_EXPOSE_POTENTIALLY_FAILED_STATE values (same meaning as net.sctp.pf_expose); 0 is unset.
SCTP_PF_EXPOSE_DISABLE = 1  # no PF event; get_paddrinfo on a PF path fails with EACCES
SCTP_PF_EXPOSE_ENABLE = 2  # SCTP_ADDR_POTENTIALLY_FAILED events

#: SCTP_STATUS ``sstat_state`` (enum sctp_sstat_state): the kernel's enum sctp_state
#: (:data:`lab.kernel.sctpproc.SCTP_STATES`, the /proc ``ST`` column) plus one, 0 being EMPTY.
SSTAT_STATES: dict[int, str] = {0: "EMPTY", **{code + 1: name for code, name in SCTP_STATES.items()}}

# Struct layouts; "=" means native byte order, no implicit padding.
_SOCKADDR_STORAGE = 128
_PADDRINFO = struct.Struct("=i128siIIII")  # packed, aligned(4): 152
_PADDRPARAMS = struct.Struct("=i128sIHIIIIBx")  # packed 155, aligned(4): 156
_PADDRTHLDS = struct.Struct("=i4x128sHH4x")  # natural alignment: 144
_STATUS_HEAD = struct.Struct("=iiIHHHHI")  # 24, then sctp_paddrinfo
_STATUS_SIZE = _STATUS_HEAD.size + _PADDRINFO.size  # 176
_PRIM = struct.Struct("=i128s")  # packed: 132
_ASSOC_VALUE = struct.Struct("=iI")  # 8

#: Sizes of the structures as this module lays them out (x86_64).
STRUCT_SIZES: dict[str, int] = {
    "sockaddr_storage": _SOCKADDR_STORAGE,
    "sctp_paddrinfo": _PADDRINFO.size,
    "sctp_paddrparams": _PADDRPARAMS.size,
    "sctp_paddrthlds": _PADDRTHLDS.size,
    "sctp_status": _STATUS_SIZE,
    "sctp_prim": _PRIM.size,
    "sctp_assoc_value": _ASSOC_VALUE.size,
}

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PeerAddrInfo:
    """struct sctp_paddrinfo: the kernel's view of one peer address (path)."""

    address: str
    port: int
    state: int  # PATH_STATES: INACTIVE, PF, ACTIVE, UNCONFIRMED
    cwnd: int
    srtt_ms: int
    rto_ms: int
    mtu: int
    assoc_id: int = 0

    @property
    def state_name(self) -> str:
        return PATH_STATES.get(self.state, str(self.state))


@dataclass(frozen=True)
class AssocStatus:
    """struct sctp_status. ``primary`` is the primary path, not necessarily the active one."""

    assoc_id: int
    state: int  # SSTAT_STATES
    rwnd: int
    unackdata: int
    penddata: int
    instrms: int
    outstrms: int
    fragmentation_point: int
    primary: PeerAddrInfo

    @property
    def state_name(self) -> str:
        return SSTAT_STATES.get(self.state, str(self.state))


@dataclass(frozen=True)
class PeerAddrParams:
    """struct sctp_paddrparams for one peer address."""

    address: str
    port: int
    assoc_id: int
    hbinterval_ms: int
    pathmaxrxt: int
    pathmtu: int
    sackdelay_ms: int
    flags: int
    ipv6_flowlabel: int
    dscp: int

    @property
    def heartbeat_enabled(self) -> bool:
        return bool(self.flags & SPP_HB_ENABLE)


# --------------------------------------------------------------------------- addresses


def pack_sockaddr(addr: str, port: int) -> bytes:
    """A 128-byte ``sockaddr_storage`` holding ``sockaddr_in`` or ``sockaddr_in6``.

    IPv6 scopes may be given as ``fe80::1%eth0`` or ``fe80::1%3``.
    """
    if not 0 <= port <= _U16:
        raise ValueError(f"port {port} is out of range 0-65535")
    ip = ipaddress.ip_address(addr)
    if isinstance(ip, ipaddress.IPv4Address):
        raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + ip.packed
    else:
        scope = ip.scope_id
        scope_id = 0 if not scope else int(scope) if scope.isdigit() else socket.if_nametoindex(scope)
        raw = (
            struct.pack("=H", socket.AF_INET6)
            + struct.pack("!HI", port, 0)
            + ip.packed
            + struct.pack("=I", scope_id)
        )
    return raw.ljust(_SOCKADDR_STORAGE, b"\0")


def unpack_sockaddr(buf: bytes) -> tuple[str, int]:
    """``(address, port)`` from a ``sockaddr_in``/``sockaddr_in6`` (or storage); ValueError otherwise.

    Addresses are formatted by ``inet_ntop`` (as pysctp does): IPv4-mapped
    IPv6 addresses read ``::ffff:198.18.1.2``. A nonzero IPv6 scope id is
    appended as ``%N``.
    """
    if len(buf) < 2:
        raise ValueError(f"sockaddr of {len(buf)} bytes is too short")
    (family,) = struct.unpack_from("=H", buf)
    if family == socket.AF_INET:
        if len(buf) < 8:
            raise ValueError(f"sockaddr_in of {len(buf)} bytes is too short")
        (port,) = struct.unpack_from("!H", buf, 2)
        return socket.inet_ntop(socket.AF_INET, bytes(buf[4:8])), port
    if family == socket.AF_INET6:
        if len(buf) < 28:
            raise ValueError(f"sockaddr_in6 of {len(buf)} bytes is too short")
        (port,) = struct.unpack_from("!H", buf, 2)
        (scope_id,) = struct.unpack_from("=I", buf, 24)
        host = socket.inet_ntop(socket.AF_INET6, bytes(buf[8:24]))
        return (f"{host}%{scope_id}" if scope_id else host), port
    raise ValueError(f"unsupported address family {family}")


# --------------------------------------------------------------------------- socket option values


def pack_paddrinfo(assoc_id: int, addr: str, port: int) -> bytes:
    """The SCTP_GET_PEER_ADDR_INFO request: a ``struct sctp_paddrinfo`` naming the path."""
    return _PADDRINFO.pack(assoc_id, pack_sockaddr(addr, port), 0, 0, 0, 0, 0)


def unpack_paddrinfo(buf: bytes, offset: int = 0) -> PeerAddrInfo:
    """Parse a ``struct sctp_paddrinfo`` (152 bytes) at ``offset``."""
    assoc_id, addr, state, cwnd, srtt, rto, mtu = _PADDRINFO.unpack_from(buf, offset)
    host, port = unpack_sockaddr(addr)
    return PeerAddrInfo(host, port, state, cwnd, srtt, rto, mtu, assoc_id)


def pack_status(assoc_id: int) -> bytes:
    """The SCTP_STATUS request: a ``struct sctp_status`` naming the association."""
    return _STATUS_HEAD.pack(assoc_id, 0, 0, 0, 0, 0, 0, 0).ljust(_STATUS_SIZE, b"\0")


def unpack_status(buf: bytes) -> AssocStatus:
    """Parse a ``struct sctp_status`` (176 bytes)."""
    assoc_id, state, rwnd, unack, pend, instrms, outstrms, frag = _STATUS_HEAD.unpack_from(buf)
    primary = unpack_paddrinfo(buf, _STATUS_HEAD.size)
    return AssocStatus(assoc_id, state, rwnd, unack, pend, instrms, outstrms, frag, primary)


def pack_paddrparams(assoc_id: int, addr: str, port: int, *, hbinterval_ms: int | None = None,
                     heartbeat: bool | None = None) -> bytes:
    """A ``struct sctp_paddrparams`` for one path: a read request, or a heartbeat setting.

    ``heartbeat`` True/False sets SPP_HB_ENABLE/SPP_HB_DISABLE (None: neither,
    as for a read). ``hbinterval_ms=None`` keeps the current interval; ``0``
    sets SPP_HB_TIME_IS_ZERO (heartbeats every RTO).
    """
    if hbinterval_ms is not None and not 0 <= hbinterval_ms <= _U32:
        raise ValueError(f"hbinterval_ms {hbinterval_ms} is out of range 0-0xffffffff")
    flags = 0 if heartbeat is None else SPP_HB_ENABLE if heartbeat else SPP_HB_DISABLE
    if hbinterval_ms == 0:
        flags |= _SPP_HB_TIME_IS_ZERO
    return _PADDRPARAMS.pack(assoc_id, pack_sockaddr(addr, port), hbinterval_ms or 0, 0, 0, 0, flags, 0, 0)


def unpack_paddrparams(buf: bytes) -> PeerAddrParams:
    """Parse a ``struct sctp_paddrparams`` (156 bytes)."""
    assoc_id, addr, hb, maxrxt, mtu, sackdelay, flags, flowlabel, dscp = _PADDRPARAMS.unpack_from(buf)
    host, port = unpack_sockaddr(addr)
    return PeerAddrParams(host, port, assoc_id, hb, maxrxt, mtu, sackdelay, flags, flowlabel, dscp)


def pack_paddrthlds(assoc_id: int, addr: str, port: int, path_max_retrans: int = 0, pf_retrans: int = 0) -> bytes:
    """A ``struct sctp_paddrthlds`` for one path (all zero but the path: a read request)."""
    return _PADDRTHLDS.pack(assoc_id, pack_sockaddr(addr, port), path_max_retrans, pf_retrans)


def unpack_paddrthlds(buf: bytes) -> tuple[int, int]:
    """``(pathmaxrxt, pf_retrans)`` of a ``struct sctp_paddrthlds``."""
    _assoc, _addr, maxrxt, pf = _PADDRTHLDS.unpack_from(buf)
    return maxrxt, pf


def pack_prim(assoc_id: int, addr: str, port: int) -> bytes:
    """``struct sctp_prim`` (packed) for SCTP_PRIMARY_ADDR."""
    return _PRIM.pack(assoc_id, pack_sockaddr(addr, port))


def pack_assoc_value(assoc_id: int, value: int) -> bytes:
    """``struct sctp_assoc_value``."""
    return _ASSOC_VALUE.pack(assoc_id, value)


def unpack_assoc_value(buf: bytes) -> int:
    """``assoc_value`` of a ``struct sctp_assoc_value``."""
    return int(_ASSOC_VALUE.unpack_from(buf)[1])
