"""SCTP socket options that pysctp lacks or gets wrong, done on the raw file descriptor.

Layouts follow ``include/uapi/linux/sctp.h`` on x86_64 Linux (every size below
was checked against gcc's ``sizeof``/``offsetof``):

- ``struct sockaddr_storage`` is 128 bytes and 8-byte aligned.
- ``sctp_paddrinfo`` (152), ``sctp_paddrparams`` (156) and
  ``sctp_paddr_change`` (148) are ``packed, aligned(4)``: the address
  follows a 4-byte assoc id directly (paddr_change: its 8-byte header).
- ``sctp_paddrthlds`` (144) is NOT packed: 4 bytes of padding sit between
  ``spt_assoc_id`` and ``spt_address``, and 4 more at the end.
- ``sctp_status`` is 176 bytes, its ``sstat_primary`` at offset 24.

Options that only write, or read without input, use the stdlib
``setsockopt``/``getsockopt``. Reads whose buffer must carry input (an assoc id
and/or a peer address: SCTP_GET_PEER_ADDR_INFO, SCTP_PEER_ADDR_PARAMS,
SCTP_PEER_ADDR_THLDS, SCTP_STATUS, SCTP_EXPOSE_POTENTIALLY_FAILED_STATE) call
libc ``getsockopt`` through :mod:`ctypes`, because Python's
``getsockopt(level, opt, buflen)`` hands the kernel an uninitialised buffer.

PPIDs: RFC 6458 has the application pass ``snd_ppid`` in network byte order
and the kernel copies it to and from the wire untouched. :func:`send` and
:func:`receive` take and give host-order integers and do the swapping.

Every failure of a kernel call raises :class:`SockoptError` (a
:class:`~lab.errors.KernelError`) naming the option and the errno, except that
:class:`BlockingIOError` and :class:`TimeoutError` from :func:`send` and
:func:`receive` propagate unchanged: they are flow control, not failures.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import ipaddress
import os
import socket
import struct
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator, Protocol, Sequence

from lab.errors import KernelError
from lab.model.protocol import ASSOC_EVENTS, PADDR_EVENTS, PATH_STATES

__all__ = [
    "SockoptError",
    "PeerAddrInfo",
    "AssocStatus",
    "PeerAddrParams",
    "Notification",
    "Received",
    "RcvInfo",
    "peer_addr_info",
    "status",
    "get_peer_addr_params",
    "set_heartbeat",
    "get_thresholds",
    "set_thresholds",
    "expose_potentially_failed",
    "get_expose_potentially_failed",
    "subscribe",
    "set_recvrcvinfo",
    "send",
    "receive",
    "pack_sockaddr",
    "unpack_sockaddr",
    "unpack_paddrinfo",
    "unpack_status",
    "unpack_paddrparams",
    "pack_sndinfo",
    "parse_rcvinfo",
    "parse_notification",
    "parse_received",
    "STRUCT_SIZES",
    "NOTIFICATION_TYPES",
    "ASSOC_STATES",
    "IPPROTO_SCTP",
    "SCTP_STATUS",
    "SCTP_GET_PEER_ADDR_INFO",
    "SCTP_PEER_ADDR_PARAMS",
    "SCTP_PEER_ADDR_THLDS",
    "SCTP_RECVRCVINFO",
    "SCTP_EVENT",
    "SCTP_EXPOSE_POTENTIALLY_FAILED_STATE",
    "SCTP_SNDINFO",
    "SCTP_RCVINFO",
    "MSG_NOTIFICATION",
    "SPP_HB_ENABLE",
    "SPP_HB_DISABLE",
    "SPP_HB_DEMAND",
    "SPP_PMTUD_ENABLE",
    "SPP_PMTUD_DISABLE",
    "SPP_SACKDELAY_ENABLE",
    "SPP_SACKDELAY_DISABLE",
    "SPP_HB_TIME_IS_ZERO",
    "SCTP_DATA_IO_EVENT",
    "SCTP_ASSOC_CHANGE",
    "SCTP_PEER_ADDR_CHANGE",
    "SCTP_SEND_FAILED",
    "SCTP_REMOTE_ERROR",
    "SCTP_SHUTDOWN_EVENT",
    "SCTP_PARTIAL_DELIVERY_EVENT",
    "SCTP_ADAPTATION_INDICATION",
    "SCTP_AUTHENTICATION_EVENT",
    "SCTP_SENDER_DRY_EVENT",
    "SCTP_STREAM_RESET_EVENT",
    "SCTP_ASSOC_RESET_EVENT",
    "SCTP_STREAM_CHANGE_EVENT",
    "SCTP_SEND_FAILED_EVENT",
    "SCTP_PF_EXPOSE_UNSET",
    "SCTP_PF_EXPOSE_DISABLE",
    "SCTP_PF_EXPOSE_ENABLE",
]

IPPROTO_SCTP = 132

# Socket options (level IPPROTO_SCTP).
SCTP_PRIMARY_ADDR = 6
SCTP_PEER_ADDR_PARAMS = 9
SCTP_STATUS = 14
SCTP_GET_PEER_ADDR_INFO = 15
SCTP_PEER_ADDR_THLDS = 31
SCTP_RECVRCVINFO = 32
SCTP_EVENT = 127
SCTP_EXPOSE_POTENTIALLY_FAILED_STATE = 131

# cmsg types (level IPPROTO_SCTP).
SCTP_SNDINFO = 2
SCTP_RCVINFO = 3

#: msg_flags bit of a notification (linux/socket.h MSG_NOTIFICATION = MSG_MORE).
MSG_NOTIFICATION = 0x8000
_MSG_EOR = 0x80

# spp_flags (enum sctp_spp_flags).
SPP_HB_ENABLE = 1 << 0
SPP_HB_DISABLE = 1 << 1
SPP_HB_DEMAND = 1 << 2
SPP_PMTUD_ENABLE = 1 << 3
SPP_PMTUD_DISABLE = 1 << 4
SPP_SACKDELAY_ENABLE = 1 << 5
SPP_SACKDELAY_DISABLE = 1 << 6
SPP_HB_TIME_IS_ZERO = 1 << 7

# SCTP_EXPOSE_POTENTIALLY_FAILED_STATE values (same meaning as net.sctp.pf_expose).
SCTP_PF_EXPOSE_UNSET = 0  # no PF event; get_paddrinfo works
SCTP_PF_EXPOSE_DISABLE = 1  # no PF event; get_paddrinfo on a PF path fails with EACCES
SCTP_PF_EXPOSE_ENABLE = 2  # SCTP_ADDR_POTENTIALLY_FAILED events

# Notification types (enum sctp_sn_type).
SCTP_DATA_IO_EVENT = 0x8000
SCTP_ASSOC_CHANGE = 0x8001
SCTP_PEER_ADDR_CHANGE = 0x8002
SCTP_SEND_FAILED = 0x8003
SCTP_REMOTE_ERROR = 0x8004
SCTP_SHUTDOWN_EVENT = 0x8005
SCTP_PARTIAL_DELIVERY_EVENT = 0x8006
SCTP_ADAPTATION_INDICATION = 0x8007
SCTP_AUTHENTICATION_EVENT = 0x8008
SCTP_SENDER_DRY_EVENT = 0x8009
SCTP_STREAM_RESET_EVENT = 0x800A
SCTP_ASSOC_RESET_EVENT = 0x800B
SCTP_STREAM_CHANGE_EVENT = 0x800C
SCTP_SEND_FAILED_EVENT = 0x800D

#: Notification type -> kind name (the SCTP_ prefix dropped).
NOTIFICATION_TYPES: dict[int, str] = {
    SCTP_DATA_IO_EVENT: "DATA_IO_EVENT",
    SCTP_ASSOC_CHANGE: "ASSOC_CHANGE",
    SCTP_PEER_ADDR_CHANGE: "PEER_ADDR_CHANGE",
    SCTP_SEND_FAILED: "SEND_FAILED",
    SCTP_REMOTE_ERROR: "REMOTE_ERROR",
    SCTP_SHUTDOWN_EVENT: "SHUTDOWN_EVENT",
    SCTP_PARTIAL_DELIVERY_EVENT: "PARTIAL_DELIVERY_EVENT",
    SCTP_ADAPTATION_INDICATION: "ADAPTATION_INDICATION",
    SCTP_AUTHENTICATION_EVENT: "AUTHENTICATION_EVENT",
    SCTP_SENDER_DRY_EVENT: "SENDER_DRY_EVENT",
    SCTP_STREAM_RESET_EVENT: "STREAM_RESET_EVENT",
    SCTP_ASSOC_RESET_EVENT: "ASSOC_RESET_EVENT",
    SCTP_STREAM_CHANGE_EVENT: "STREAM_CHANGE_EVENT",
    SCTP_SEND_FAILED_EVENT: "SEND_FAILED_EVENT",
}

#: sstat_state (enum sctp_sstat_state; the kernel adds 1 to its internal state).
ASSOC_STATES = {
    0: "EMPTY",
    1: "CLOSED",
    2: "COOKIE_WAIT",
    3: "COOKIE_ECHOED",
    4: "ESTABLISHED",
    5: "SHUTDOWN_PENDING",
    6: "SHUTDOWN_SENT",
    7: "SHUTDOWN_RECEIVED",
    8: "SHUTDOWN_ACK_SENT",
}

# Struct layouts; "=" means native byte order, no implicit padding.
_SOCKADDR_STORAGE = 128
_PADDRINFO = struct.Struct("=i128siIIII")  # packed, aligned(4): 152
_PADDRPARAMS = struct.Struct("=i128sIHIIIIBx")  # packed 155, aligned(4): 156
_PADDRTHLDS = struct.Struct("=i4x128sHH4x")  # natural alignment: 144
_STATUS_HEAD = struct.Struct("=iiIHHHHI")  # 24, then sctp_paddrinfo
_STATUS_SIZE = _STATUS_HEAD.size + _PADDRINFO.size  # 176
_ASSOC_VALUE = struct.Struct("=iI")  # 8
_EVENT = struct.Struct("=iHBx")  # 8
_SNDINFO = struct.Struct("=HH4sIi")  # 16, snd_ppid as 4 network-order bytes
_RCVINFO = struct.Struct("=HHH2x4sIIIi")  # 28, rcv_ppid as 4 network-order bytes
_SN_HEADER = struct.Struct("=HHI")  # 8
_ASSOC_CHANGE = struct.Struct("=HHIHHHHi")  # 20, sac_info follows
_PADDR_CHANGE = struct.Struct("=HHI128siii")  # packed: 148
_REMOTE_ERROR = struct.Struct("=HHI2s2xi")  # 16, sre_error is __be16, sre_data follows
_SNDRCVINFO = "HHH2x4sIIIIi"  # 32
_SEND_FAILED = struct.Struct("=HHII" + _SNDRCVINFO + "i")  # 48, ssf_data follows
_SEND_FAILED_EVENT = struct.Struct("=HHII" + "HH4sIi" + "i")  # 32, ssf_data follows
_ASSOC_ID_AT_8 = struct.Struct("=HHIi")  # shutdown, sender dry: 12
_ADAPTATION = struct.Struct("=HHIIi")  # 16
_PDAPI = struct.Struct("=HHIIiII")  # 24
_AUTHKEY = struct.Struct("=HHIHHIi")  # 20

#: Sizes of the kernel structures as this module lays them out (x86_64).
STRUCT_SIZES: dict[str, int] = {
    "sockaddr_storage": _SOCKADDR_STORAGE,
    "sctp_paddrinfo": _PADDRINFO.size,
    "sctp_paddrparams": _PADDRPARAMS.size,
    "sctp_paddrthlds": _PADDRTHLDS.size,
    "sctp_status": _STATUS_SIZE,
    "sctp_assoc_value": _ASSOC_VALUE.size,
    "sctp_event": _EVENT.size,
    "sctp_sndinfo": _SNDINFO.size,
    "sctp_rcvinfo": _RCVINFO.size,
    "sctp_assoc_change": _ASSOC_CHANGE.size,
    "sctp_paddr_change": _PADDR_CHANGE.size,
    "sctp_remote_error": _REMOTE_ERROR.size,
    "sctp_send_failed": _SEND_FAILED.size,
    "sctp_send_failed_event": _SEND_FAILED_EVENT.size,
    "sctp_shutdown_event": _ASSOC_ID_AT_8.size,
}

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


class SockoptError(KernelError):
    """A raw SCTP socket option (or sendmsg/recvmsg) failed; names the option and errno."""

    def __init__(self, option: str, code: int, detail: str = "") -> None:
        self.option = option
        self.errno = code
        name = _errno.errorcode.get(code, str(code))
        where = f" ({detail})" if detail else ""
        super().__init__(f"{option}{where}: {os.strerror(code)} [{name}]")


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PeerAddrInfo:
    """struct sctp_paddrinfo: the kernel's view of one peer address (path)."""

    address: str
    port: int
    state: int
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
    state: int
    rwnd: int
    unackdata: int
    penddata: int
    instrms: int
    outstrms: int
    fragmentation_point: int
    primary: PeerAddrInfo

    @property
    def state_name(self) -> str:
        return ASSOC_STATES.get(self.state, str(self.state))


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


@dataclass(frozen=True)
class Notification:
    """A parsed SCTP notification. Fields a kind does not carry (or a short buffer lacks) are None.

    ``kind`` is the type name without ``SCTP_`` (``"ASSOC_CHANGE"``, ...), or
    ``"unknown(0x....)"``, or ``"truncated"`` when fewer than 8 bytes arrived.
    ``payload`` is raw bytes, never decoded: for SEND_FAILED(_EVENT) the
    undelivered user data, for REMOTE_ERROR the error causes, for
    ASSOC_CHANGE ``sac_info``. ``ppid`` (SEND_FAILED*) is in host order.
    """

    kind: str
    type: int = 0
    flags: int = 0
    length: int = 0
    assoc_id: int | None = None
    state: int | None = None
    error: int | None = None
    address: str | None = None
    port: int | None = None
    payload: bytes | None = None
    ppid: int | None = None
    stream: int | None = None
    truncated: bool = False

    @property
    def state_name(self) -> str | None:
        """COMM_UP, ADDR_UNREACHABLE, ... for ASSOC_CHANGE and PEER_ADDR_CHANGE."""
        if self.state is None:
            return None
        names = {SCTP_ASSOC_CHANGE: ASSOC_EVENTS, SCTP_PEER_ADDR_CHANGE: PADDR_EVENTS}.get(self.type, {})
        return names.get(self.state, str(self.state))


@dataclass(frozen=True)
class RcvInfo:
    """struct sctp_rcvinfo, ``ppid`` already in host order."""

    stream: int
    ssn: int
    flags: int
    ppid: int
    tsn: int
    cumtsn: int
    context: int
    assoc_id: int


@dataclass(frozen=True)
class Received:
    """One recvmsg() result: a (piece of a) user message, a notification, or EOF.

    ``address`` is the peer address the data came from (None for
    notifications). ``ppid``/``stream``/``tsn``/``assoc_id`` come from the
    SCTP_RCVINFO cmsg and are None unless :func:`set_recvrcvinfo` is on.
    ``complete`` is False when the message did not fit in the buffer.
    """

    data: bytes
    address: tuple[str, int] | None
    msg_flags: int
    notification: Notification | None = None
    rcvinfo: RcvInfo | None = None

    @property
    def is_notification(self) -> bool:
        return bool(self.msg_flags & MSG_NOTIFICATION)

    @property
    def eof(self) -> bool:
        """The peer shut the association down (empty read, not a notification)."""
        return not self.data and not self.is_notification

    @property
    def complete(self) -> bool:
        return bool(self.msg_flags & _MSG_EOR)

    @property
    def ppid(self) -> int | None:
        return self.rcvinfo.ppid if self.rcvinfo else None

    @property
    def stream(self) -> int | None:
        return self.rcvinfo.stream if self.rcvinfo else None

    @property
    def tsn(self) -> int | None:
        return self.rcvinfo.tsn if self.rcvinfo else None

    @property
    def assoc_id(self) -> int | None:
        return self.rcvinfo.assoc_id if self.rcvinfo else None


# --------------------------------------------------------------------------- pure packing


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


def unpack_paddrinfo(buf: bytes, offset: int = 0) -> PeerAddrInfo:
    """Parse a ``struct sctp_paddrinfo`` (152 bytes) at ``offset``."""
    assoc_id, addr, state, cwnd, srtt, rto, mtu = _PADDRINFO.unpack_from(buf, offset)
    host, port = unpack_sockaddr(addr)
    return PeerAddrInfo(host, port, state, cwnd, srtt, rto, mtu, assoc_id)


def unpack_status(buf: bytes) -> AssocStatus:
    """Parse a ``struct sctp_status`` (176 bytes)."""
    assoc_id, state, rwnd, unack, pend, instrms, outstrms, frag = _STATUS_HEAD.unpack_from(buf)
    primary = unpack_paddrinfo(buf, _STATUS_HEAD.size)
    return AssocStatus(assoc_id, state, rwnd, unack, pend, instrms, outstrms, frag, primary)


def unpack_paddrparams(buf: bytes) -> PeerAddrParams:
    """Parse a ``struct sctp_paddrparams`` (156 bytes)."""
    assoc_id, addr, hb, maxrxt, mtu, sackdelay, flags, flowlabel, dscp = _PADDRPARAMS.unpack_from(buf)
    host, port = unpack_sockaddr(addr)
    return PeerAddrParams(host, port, assoc_id, hb, maxrxt, mtu, sackdelay, flags, flowlabel, dscp)


def pack_sndinfo(*, ppid: int, stream: int = 0, flags: int = 0, context: int = 0, assoc_id: int = 0) -> bytes:
    """``struct sctp_sndinfo`` with ``snd_ppid`` in network byte order (RFC 6458 5.3.4)."""
    if not 0 <= ppid <= _U32:
        raise ValueError(f"ppid {ppid} is out of range 0-0xffffffff")
    if not 0 <= stream <= _U16:
        raise ValueError(f"stream {stream} is out of range 0-65535")
    if not 0 <= flags <= _U16:
        raise ValueError(f"flags {flags:#x} do not fit snd_flags (16 bits)")
    return _SNDINFO.pack(stream, flags, ppid.to_bytes(4, "big"), context & _U32, assoc_id)


def parse_rcvinfo(buf: bytes) -> RcvInfo:
    """Parse a ``struct sctp_rcvinfo`` (28 bytes); ``rcv_ppid`` is turned into host order."""
    sid, ssn, flags, ppid, tsn, cumtsn, context, assoc_id = _RCVINFO.unpack_from(buf)
    return RcvInfo(sid, ssn, flags, int.from_bytes(ppid, "big"), tsn, cumtsn, context, assoc_id)


def _address(raw: bytes) -> tuple[str | None, int | None]:
    try:
        return unpack_sockaddr(raw)
    except ValueError:
        return None, None


def parse_notification(buf: bytes) -> Notification:
    """Parse one notification (``union sctp_notification``). Never raises.

    ``sn_length`` bounds the variable payload; a buffer shorter than the fixed
    part of its kind gives a Notification with only the header and
    ``truncated=True``.
    """
    buf = bytes(buf)
    if len(buf) < _SN_HEADER.size:
        kind_type = struct.unpack_from("=H", buf)[0] if len(buf) >= 2 else 0
        return Notification(kind="truncated", type=kind_type, truncated=True)
    sn_type, sn_flags, sn_length = _SN_HEADER.unpack_from(buf)
    kind = NOTIFICATION_TYPES.get(sn_type, f"unknown(0x{sn_type:04x})")
    base = Notification(kind=kind, type=sn_type, flags=sn_flags, length=sn_length)
    end = min(sn_length, len(buf))

    def tail(start: int) -> bytes:
        return buf[start:end] if end > start else b""

    layout = {
        SCTP_ASSOC_CHANGE: _ASSOC_CHANGE,
        SCTP_PEER_ADDR_CHANGE: _PADDR_CHANGE,
        SCTP_REMOTE_ERROR: _REMOTE_ERROR,
        SCTP_SEND_FAILED: _SEND_FAILED,
        SCTP_SEND_FAILED_EVENT: _SEND_FAILED_EVENT,
        SCTP_SHUTDOWN_EVENT: _ASSOC_ID_AT_8,
        SCTP_SENDER_DRY_EVENT: _ASSOC_ID_AT_8,
        SCTP_ADAPTATION_INDICATION: _ADAPTATION,
        SCTP_PARTIAL_DELIVERY_EVENT: _PDAPI,
        SCTP_AUTHENTICATION_EVENT: _AUTHKEY,
    }.get(sn_type)
    if layout is None:
        return base
    if len(buf) < layout.size:
        return _replace(base, truncated=True)
    fields = layout.unpack_from(buf)
    if sn_type == SCTP_ASSOC_CHANGE:
        state, error, _out, _in, assoc_id = fields[3:]
        return _replace(base, state=state, error=error, assoc_id=assoc_id, payload=tail(layout.size))
    if sn_type == SCTP_PEER_ADDR_CHANGE:
        raw, state, error, assoc_id = fields[3:]
        host, port = _address(raw)
        return _replace(base, address=host, port=port, state=state, error=error, assoc_id=assoc_id)
    if sn_type == SCTP_REMOTE_ERROR:
        cause, assoc_id = fields[3:]
        return _replace(base, error=int.from_bytes(cause, "big"), assoc_id=assoc_id, payload=tail(layout.size))
    if sn_type == SCTP_SEND_FAILED:
        error, sid, _ssn, _flags, ppid = fields[3:8]
        return _replace(base, error=error, stream=sid, ppid=int.from_bytes(ppid, "big"),
                        assoc_id=fields[-1], payload=tail(layout.size))
    if sn_type == SCTP_SEND_FAILED_EVENT:
        error, sid, _flags, ppid = fields[3:7]
        return _replace(base, error=error, stream=sid, ppid=int.from_bytes(ppid, "big"),
                        assoc_id=fields[-1], payload=tail(layout.size))
    if sn_type == SCTP_AUTHENTICATION_EVENT:
        return _replace(base, state=fields[5], assoc_id=fields[6])  # auth_indication
    if sn_type == SCTP_PARTIAL_DELIVERY_EVENT:
        return _replace(base, state=fields[3], assoc_id=fields[4], stream=fields[5])  # pdapi_indication
    return _replace(base, assoc_id=fields[-1])  # shutdown, sender dry, adaptation


def _replace(note: Notification, **changes: object) -> Notification:
    return replace(note, **changes)  # type: ignore[arg-type]


def _peer(address: object) -> tuple[str, int] | None:
    if isinstance(address, tuple) and len(address) >= 2:
        return str(address[0]), int(address[1])
    return None


def parse_received(
    data: bytes, ancdata: Sequence[tuple[int, int, bytes]], msg_flags: int, address: object
) -> Received:
    """Build a :class:`Received` from the parts of a ``socket.recvmsg`` result."""
    rcvinfo = None
    for level, kind, payload in ancdata:
        if level == IPPROTO_SCTP and kind == SCTP_RCVINFO and len(payload) >= _RCVINFO.size:
            rcvinfo = parse_rcvinfo(payload)
    if msg_flags & MSG_NOTIFICATION:
        return Received(bytes(data), None, msg_flags, notification=parse_notification(data))
    return Received(bytes(data), _peer(address), msg_flags, rcvinfo=rcvinfo)


# --------------------------------------------------------------------------- kernel calls

_libc = ctypes.CDLL(None, use_errno=True)
_libc.getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
_libc.getsockopt.restype = ctypes.c_int


@contextmanager
def _socket_of(sock: _HasFileno) -> Iterator[socket.socket]:
    """A :class:`socket.socket` for ``sock``: itself, or a borrowed object on its fd (never closed)."""
    if isinstance(sock, socket.socket):
        yield sock
        return
    borrowed = socket.socket(fileno=sock.fileno())
    try:
        yield borrowed
    finally:
        borrowed.detach()


def _getsockopt_in(sock: _HasFileno, optname: int, name: str, request: bytes, detail: str) -> bytes:
    """getsockopt whose buffer carries input (``request``); returns what the kernel wrote."""
    buf = ctypes.create_string_buffer(request, len(request))
    optlen = ctypes.c_uint32(len(request))
    if _libc.getsockopt(sock.fileno(), IPPROTO_SCTP, optname, buf, ctypes.byref(optlen)) != 0:
        raise SockoptError(name, ctypes.get_errno(), detail)
    if optlen.value < len(request):
        raise SockoptError(name, _errno.EPROTO, f"{detail}; kernel returned {optlen.value} of {len(request)} bytes")
    return buf.raw[: optlen.value]


def _setsockopt(sock: _HasFileno, optname: int, name: str, value: bytes | int, detail: str) -> None:
    try:
        with _socket_of(sock) as s:
            s.setsockopt(IPPROTO_SCTP, optname, value)
    except OSError as err:
        raise SockoptError(name, err.errno or _errno.EIO, detail) from err


def _where(assoc_id: int, addr: str, port: int) -> str:
    return f"peer {addr} port {port}, assoc {assoc_id}"


def peer_addr_info(sock: _HasFileno, assoc_id: int, addr: str, port: int) -> PeerAddrInfo:
    """SCTP_GET_PEER_ADDR_INFO: state, cwnd, srtt, rto and mtu of the path to ``addr``:``port``.

    With pf_expose 1 (DISABLE) a path in PF state gives EACCES. On an
    AF_INET6 socket the kernel reports IPv4 peers as ``::ffff:a.b.c.d``.
    """
    request = _PADDRINFO.pack(assoc_id, pack_sockaddr(addr, port), 0, 0, 0, 0, 0)
    raw = _getsockopt_in(sock, SCTP_GET_PEER_ADDR_INFO, "SCTP_GET_PEER_ADDR_INFO", request,
                         _where(assoc_id, addr, port))
    return unpack_paddrinfo(raw)


def status(sock: _HasFileno, assoc_id: int = 0) -> AssocStatus:
    """SCTP_STATUS of the association (on a one-to-one socket ``assoc_id`` is ignored)."""
    request = _STATUS_HEAD.pack(assoc_id, 0, 0, 0, 0, 0, 0, 0).ljust(_STATUS_SIZE, b"\0")
    raw = _getsockopt_in(sock, SCTP_STATUS, "SCTP_STATUS", request, f"assoc {assoc_id}")
    return unpack_status(raw)


def get_peer_addr_params(sock: _HasFileno, assoc_id: int, addr: str, port: int) -> PeerAddrParams:
    """SCTP_PEER_ADDR_PARAMS of one peer address (heartbeat interval, pathmaxrxt, flags, ...)."""
    request = _PADDRPARAMS.pack(assoc_id, pack_sockaddr(addr, port), 0, 0, 0, 0, 0, 0, 0)
    raw = _getsockopt_in(sock, SCTP_PEER_ADDR_PARAMS, "SCTP_PEER_ADDR_PARAMS", request,
                         _where(assoc_id, addr, port))
    return unpack_paddrparams(raw)


def set_heartbeat(
    sock: _HasFileno, assoc_id: int, addr: str, port: int, *, interval_ms: int | None = None, enable: bool = True
) -> None:
    """Enable (optionally with a new interval) or disable heartbeats on one path.

    ``interval_ms=None`` keeps the current interval; ``0`` sets a zero
    heartbeat delay (SPP_HB_TIME_IS_ZERO: heartbeats every RTO). The kernel
    keeps the interval in jiffies (10 ms in the guest). Disabling ignores any
    interval, so passing one with ``enable=False`` is a ValueError.
    """
    if not enable and interval_ms is not None:
        raise ValueError("interval_ms cannot be set while disabling heartbeats (the kernel ignores it)")
    if interval_ms is not None and not 0 <= interval_ms <= _U32:
        raise ValueError(f"interval_ms {interval_ms} is out of range 0-0xffffffff")
    flags = SPP_HB_ENABLE if enable else SPP_HB_DISABLE
    if interval_ms == 0:
        flags |= SPP_HB_TIME_IS_ZERO
    value = _PADDRPARAMS.pack(assoc_id, pack_sockaddr(addr, port), interval_ms or 0, 0, 0, 0, flags, 0, 0)
    _setsockopt(sock, SCTP_PEER_ADDR_PARAMS, "SCTP_PEER_ADDR_PARAMS", value,
                f"heartbeat {'on' if enable else 'off'} interval {interval_ms} ms, {_where(assoc_id, addr, port)}")


def set_primary(sock: _HasFileno, assoc_id: int, addr: str, port: int) -> None:
    """SCTP_PRIMARY_ADDR: send new data to the peer's ``addr`` (struct sctp_prim, packed)."""
    _setsockopt(sock, SCTP_PRIMARY_ADDR, "SCTP_PRIMARY_ADDR",
                struct.pack("=i", assoc_id) + pack_sockaddr(addr, port), _where(assoc_id, addr, port))


def get_thresholds(sock: _HasFileno, assoc_id: int, addr: str, port: int) -> tuple[int, int]:
    """SCTP_PEER_ADDR_THLDS of one path: ``(pathmaxrxt, pf_retrans)``."""
    request = _PADDRTHLDS.pack(assoc_id, pack_sockaddr(addr, port), 0, 0)
    raw = _getsockopt_in(sock, SCTP_PEER_ADDR_THLDS, "SCTP_PEER_ADDR_THLDS", request, _where(assoc_id, addr, port))
    _assoc, _addr, maxrxt, pf = _PADDRTHLDS.unpack_from(raw)
    return maxrxt, pf


def set_thresholds(
    sock: _HasFileno,
    assoc_id: int,
    addr: str,
    port: int,
    *,
    path_max_retrans: int | None = None,
    pf_retrans: int | None = None,
) -> None:
    """Set either or both thresholds of one path; the other keeps its value.

    The kernel writes ``pf_retrans`` unconditionally (and ``pathmaxrxt``
    unless 0), so this reads both first and writes both back.
    """
    if path_max_retrans is not None and not 1 <= path_max_retrans <= _U16:
        raise ValueError(f"path_max_retrans {path_max_retrans} is out of range 1-65535")
    if pf_retrans is not None and not 0 <= pf_retrans <= _U16:
        raise ValueError(f"pf_retrans {pf_retrans} is out of range 0-65535")
    current_max, current_pf = get_thresholds(sock, assoc_id, addr, port)
    new_max = current_max if path_max_retrans is None else path_max_retrans
    new_pf = current_pf if pf_retrans is None else pf_retrans
    value = _PADDRTHLDS.pack(assoc_id, pack_sockaddr(addr, port), new_max, new_pf)
    _setsockopt(sock, SCTP_PEER_ADDR_THLDS, "SCTP_PEER_ADDR_THLDS", value,
                f"pathmaxrxt {new_max} pf_retrans {new_pf}, {_where(assoc_id, addr, port)}")


def expose_potentially_failed(sock: _HasFileno, level: int, *, assoc_id: int = 0) -> None:
    """SCTP_EXPOSE_POTENTIALLY_FAILED_STATE: 0 unset, 1 hide PF (EACCES), 2 send PF events."""
    if level not in (SCTP_PF_EXPOSE_UNSET, SCTP_PF_EXPOSE_DISABLE, SCTP_PF_EXPOSE_ENABLE):
        raise ValueError(f"pf_expose level {level} is not 0, 1 or 2")
    _setsockopt(sock, SCTP_EXPOSE_POTENTIALLY_FAILED_STATE, "SCTP_EXPOSE_POTENTIALLY_FAILED_STATE",
                _ASSOC_VALUE.pack(assoc_id, level), f"level {level}, assoc {assoc_id}")


def get_expose_potentially_failed(sock: _HasFileno, assoc_id: int = 0) -> int:
    """The current SCTP_EXPOSE_POTENTIALLY_FAILED_STATE level of the association (or socket)."""
    raw = _getsockopt_in(sock, SCTP_EXPOSE_POTENTIALLY_FAILED_STATE, "SCTP_EXPOSE_POTENTIALLY_FAILED_STATE",
                         _ASSOC_VALUE.pack(assoc_id, 0), f"assoc {assoc_id}")
    return int(_ASSOC_VALUE.unpack_from(raw)[1])


def subscribe(sock: _HasFileno, event_type: int, on: bool = True, assoc_id: int = 0) -> None:
    """SCTP_EVENT: turn one notification type (``SCTP_ASSOC_CHANGE``, ...) on or off.

    On a one-to-one socket this applies to its association if it has one,
    else to associations the socket will have.
    """
    if not 0 <= event_type <= _U16:
        raise ValueError(f"event type {event_type:#x} does not fit 16 bits")
    name = NOTIFICATION_TYPES.get(event_type, f"{event_type:#06x}")
    _setsockopt(sock, SCTP_EVENT, "SCTP_EVENT", _EVENT.pack(assoc_id, event_type, int(on)),
                f"{name} {'on' if on else 'off'}, assoc {assoc_id}")


def set_recvrcvinfo(sock: _HasFileno, on: bool = True) -> None:
    """SCTP_RECVRCVINFO: deliver an SCTP_RCVINFO cmsg with every received user message."""
    _setsockopt(sock, SCTP_RECVRCVINFO, "SCTP_RECVRCVINFO", int(on), "on" if on else "off")


def send(sock: _HasFileno, data: bytes, *, ppid: int, stream: int = 0, flags: int = 0, assoc_id: int = 0) -> int:
    """sendmsg with an SCTP_SNDINFO cmsg; ``ppid`` is a host-order integer. Returns bytes sent."""
    cmsg = [(IPPROTO_SCTP, SCTP_SNDINFO, pack_sndinfo(ppid=ppid, stream=stream, flags=flags, assoc_id=assoc_id))]
    try:
        with _socket_of(sock) as s:
            return s.sendmsg([data], cmsg)
    except (BlockingIOError, TimeoutError):
        raise
    except OSError as err:
        raise SockoptError("sendmsg SCTP_SNDINFO", err.errno or _errno.EIO,
                           f"{len(data)} bytes, ppid {ppid:#x}, stream {stream}") from err


#: Room for an SCTP_RCVINFO and an SCTP_NXTINFO (16 bytes) cmsg.
_ANCBUFSIZE = socket.CMSG_SPACE(_RCVINFO.size) + socket.CMSG_SPACE(16)


def receive(sock: _HasFileno, bufsize: int = 65536) -> Received:
    """recvmsg one message or notification; parse its SCTP_RCVINFO or its notification."""
    try:
        with _socket_of(sock) as s:
            data, ancdata, msg_flags, address = s.recvmsg(bufsize, _ANCBUFSIZE)
    except (BlockingIOError, TimeoutError):
        raise
    except OSError as err:
        raise SockoptError("recvmsg SCTP_RCVINFO", err.errno or _errno.EIO, f"buffer {bufsize} bytes") from err
    return parse_received(data, ancdata, msg_flags, address)
