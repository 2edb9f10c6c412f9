"""What sendmsg and recvmsg carry on an SCTP socket, packed and parsed; no socket calls.

The SCTP_SNDINFO cmsg sent with a message, the SCTP_RCVINFO cmsg received with
one, and the notifications (``union sctp_notification``) read in its place,
laid out as ``include/uapi/linux/sctp.h`` has them on x86_64 Linux (sizes
checked against gcc's ``sizeof``; ``sctp_paddr_change`` is ``packed,
aligned(4)``: 148 bytes). Socket option structures are :mod:`lab.sctp.structs`.

PPIDs: RFC 6458 has the application pass ``snd_ppid`` in network byte order
and the kernel copies it to and from the wire untouched. :func:`pack_sndinfo`
takes and the parsers give host-order integers.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, replace
from typing import Sequence

from lab.model.protocol import ASSOC_EVENTS, PADDR_EVENTS
from lab.sctp.structs import IPPROTO_SCTP, unpack_sockaddr

__all__ = [
    "Notification",
    "RcvInfo",
    "Received",
    "NOTIFICATION_TYPES",
    "STRUCT_SIZES",
    "SCTP_RCVINFO",
    "MSG_NOTIFICATION",
    "RECV_ANCILLARY_SIZE",
    "pack_event",
    "pack_sndinfo",
    "parse_notification",
    "parse_received",
]

#: cmsg type (level IPPROTO_SCTP) of the struct sctp_rcvinfo that comes with received data.
SCTP_RCVINFO = 3

#: msg_flags bit of a notification (linux/socket.h MSG_NOTIFICATION = MSG_MORE).
MSG_NOTIFICATION = 0x8000
_MSG_EOR = 0x80

#: Notification type (enum sctp_sn_type) -> kind name (the SCTP_ prefix dropped).
NOTIFICATION_TYPES: dict[int, str] = {
    0x8000: "DATA_IO_EVENT",
    0x8001: "ASSOC_CHANGE",
    0x8002: "PEER_ADDR_CHANGE",
    0x8003: "SEND_FAILED",
    0x8004: "REMOTE_ERROR",
    0x8005: "SHUTDOWN_EVENT",
    0x8006: "PARTIAL_DELIVERY_EVENT",
    0x8007: "ADAPTATION_INDICATION",
    0x8008: "AUTHENTICATION_EVENT",
    0x8009: "SENDER_DRY_EVENT",
    0x800A: "STREAM_RESET_EVENT",
    0x800B: "ASSOC_RESET_EVENT",
    0x800C: "STREAM_CHANGE_EVENT",
    0x800D: "SEND_FAILED_EVENT",
}
_TYPE_CODES = {kind: code for code, kind in NOTIFICATION_TYPES.items()}

# Struct layouts; "=" means native byte order, no implicit padding.
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

#: Sizes of the structures as this module lays them out (x86_64).
STRUCT_SIZES: dict[str, int] = {
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

#: recvmsg ancillary buffer with room for an SCTP_RCVINFO and an SCTP_NXTINFO (16 bytes) cmsg.
RECV_ANCILLARY_SIZE = socket.CMSG_SPACE(_RCVINFO.size) + socket.CMSG_SPACE(16)

_U16 = 0xFFFF
_U32 = 0xFFFFFFFF


# --------------------------------------------------------------------------- results


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
        names = {"ASSOC_CHANGE": ASSOC_EVENTS, "PEER_ADDR_CHANGE": PADDR_EVENTS}.get(self.kind, {})
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
    SCTP_RCVINFO cmsg and are None unless SCTP_RECVRCVINFO is on.
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


# --------------------------------------------------------------------------- sent with messages


def pack_event(kind: str, on: bool, assoc_id: int = 0) -> bytes:
    """``struct sctp_event`` turning one notification kind (``"ASSOC_CHANGE"``, ...) on or off."""
    if kind not in _TYPE_CODES:
        raise ValueError(f"unknown notification kind {kind!r} (expected one of {', '.join(_TYPE_CODES)})")
    return _EVENT.pack(assoc_id, _TYPE_CODES[kind], int(on))


def pack_sndinfo(*, ppid: int, stream: int = 0, flags: int = 0, context: int = 0, assoc_id: int = 0) -> bytes:
    """``struct sctp_sndinfo`` with ``snd_ppid`` in network byte order (RFC 6458 5.3.4)."""
    if not 0 <= ppid <= _U32:
        raise ValueError(f"ppid {ppid} is out of range 0-0xffffffff")
    if not 0 <= stream <= _U16:
        raise ValueError(f"stream {stream} is out of range 0-65535")
    if not 0 <= flags <= _U16:
        raise ValueError(f"flags {flags:#x} do not fit snd_flags (16 bits)")
    return _SNDINFO.pack(stream, flags, ppid.to_bytes(4, "big"), context & _U32, assoc_id)


# --------------------------------------------------------------------------- received messages


def _rcvinfo(buf: bytes) -> RcvInfo:
    sid, ssn, flags, ppid, tsn, cumtsn, context, assoc_id = _RCVINFO.unpack_from(buf)
    return RcvInfo(sid, ssn, flags, int.from_bytes(ppid, "big"), tsn, cumtsn, context, assoc_id)


def _address(raw: bytes) -> tuple[str | None, int | None]:
    try:
        return unpack_sockaddr(raw)
    except ValueError:
        return None, None


_LAYOUTS = {
    "ASSOC_CHANGE": _ASSOC_CHANGE,
    "PEER_ADDR_CHANGE": _PADDR_CHANGE,
    "REMOTE_ERROR": _REMOTE_ERROR,
    "SEND_FAILED": _SEND_FAILED,
    "SEND_FAILED_EVENT": _SEND_FAILED_EVENT,
    "SHUTDOWN_EVENT": _ASSOC_ID_AT_8,
    "SENDER_DRY_EVENT": _ASSOC_ID_AT_8,
    "ADAPTATION_INDICATION": _ADAPTATION,
    "PARTIAL_DELIVERY_EVENT": _PDAPI,
    "AUTHENTICATION_EVENT": _AUTHKEY,
}


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
    layout = _LAYOUTS.get(kind)
    if layout is None:
        return base
    if len(buf) < layout.size:
        return replace(base, truncated=True)
    fields = layout.unpack_from(buf)
    end = min(sn_length, len(buf))
    payload = buf[layout.size:end] if end > layout.size else b""
    if kind == "ASSOC_CHANGE":
        state, error, _out, _in, assoc_id = fields[3:]
        return replace(base, state=state, error=error, assoc_id=assoc_id, payload=payload)
    if kind == "PEER_ADDR_CHANGE":
        raw, state, error, assoc_id = fields[3:]
        host, port = _address(raw)
        return replace(base, address=host, port=port, state=state, error=error, assoc_id=assoc_id)
    if kind == "REMOTE_ERROR":
        cause, assoc_id = fields[3:]
        return replace(base, error=int.from_bytes(cause, "big"), assoc_id=assoc_id, payload=payload)
    if kind in ("SEND_FAILED", "SEND_FAILED_EVENT"):
        # sctp_sndrcvinfo: sid, ssn, flags, ppid...; sctp_sndinfo: sid, flags, ppid...
        error, sid, ppid = fields[3], fields[4], fields[7 if kind == "SEND_FAILED" else 6]
        return replace(base, error=error, stream=sid, ppid=int.from_bytes(ppid, "big"), assoc_id=fields[-1],
                       payload=payload)
    if kind == "AUTHENTICATION_EVENT":
        return replace(base, state=fields[5], assoc_id=fields[6])  # auth_indication
    if kind == "PARTIAL_DELIVERY_EVENT":
        return replace(base, state=fields[3], assoc_id=fields[4], stream=fields[5])  # pdapi_indication
    return replace(base, assoc_id=fields[-1])  # shutdown, sender dry, adaptation


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
            rcvinfo = _rcvinfo(payload)
    if msg_flags & MSG_NOTIFICATION:
        return Received(bytes(data), None, msg_flags, notification=parse_notification(data))
    return Received(bytes(data), _peer(address), msg_flags, rcvinfo=rcvinfo)
