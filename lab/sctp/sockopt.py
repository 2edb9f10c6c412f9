"""SCTP socket calls that pysctp lacks or gets wrong, made on the raw socket.

The structures are packed and parsed by :mod:`lab.sctp.structs` (socket
options) and :mod:`lab.sctp.messages` (sendmsg/recvmsg); this module only
makes the calls. Every function takes the :class:`socket.socket` (for a
pysctp socket, its ``sock()``).

Options that only write, or read without input, use the stdlib
``setsockopt``/``getsockopt``. Reads whose buffer must carry input (an assoc id
and/or a peer address: SCTP_GET_PEER_ADDR_INFO, SCTP_PEER_ADDR_PARAMS,
SCTP_PEER_ADDR_THLDS, SCTP_STATUS, SCTP_EXPOSE_POTENTIALLY_FAILED_STATE) call
libc ``getsockopt`` through :mod:`ctypes`, because Python's
``getsockopt(level, opt, buflen)`` hands the kernel an uninitialised buffer.

Every failure of a kernel call raises :class:`SockoptError` (a
:class:`~lab.errors.KernelError`) naming the option and the errno, except that
:class:`BlockingIOError` and :class:`TimeoutError` from :func:`send` and
:func:`receive` propagate unchanged: they are flow control, not failures.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import socket

from lab.errors import KernelError
from lab.sctp import messages, structs
from lab.sctp.messages import Received
from lab.sctp.structs import IPPROTO_SCTP, AssocStatus, PeerAddrInfo, PeerAddrParams

__all__ = [
    "SockoptError",
    "peer_addr_info",
    "status",
    "set_primary",
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
]

# Socket options (level IPPROTO_SCTP).
_SCTP_PRIMARY_ADDR = 6
_SCTP_PEER_ADDR_PARAMS = 9
_SCTP_STATUS = 14
_SCTP_GET_PEER_ADDR_INFO = 15
_SCTP_PEER_ADDR_THLDS = 31
_SCTP_RECVRCVINFO = 32
_SCTP_EVENT = 127
_SCTP_EXPOSE_POTENTIALLY_FAILED_STATE = 131

#: cmsg type (level IPPROTO_SCTP) of the struct sctp_sndinfo sent with a message.
_SCTP_SNDINFO = 2


class SockoptError(KernelError):
    """A raw SCTP socket option (or sendmsg/recvmsg) failed; names the option and errno."""

    def __init__(self, option: str, code: int, detail: str = "") -> None:
        self.option = option
        self.errno = code
        name = _errno.errorcode.get(code, str(code))
        where = f" ({detail})" if detail else ""
        super().__init__(f"{option}{where}: {os.strerror(code)} [{name}]")


_libc = ctypes.CDLL(None, use_errno=True)
_libc.getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
_libc.getsockopt.restype = ctypes.c_int


def _getsockopt_in(sock: socket.socket, optname: int, name: str, request: bytes, detail: str) -> bytes:
    """getsockopt whose buffer carries input (``request``); returns what the kernel wrote."""
    buf = ctypes.create_string_buffer(request, len(request))
    optlen = ctypes.c_uint32(len(request))
    if _libc.getsockopt(sock.fileno(), IPPROTO_SCTP, optname, buf, ctypes.byref(optlen)) != 0:
        raise SockoptError(name, ctypes.get_errno(), detail)
    if optlen.value < len(request):
        raise SockoptError(name, _errno.EPROTO, f"{detail}; kernel returned {optlen.value} of {len(request)} bytes")
    return buf.raw[: optlen.value]


def _setsockopt(sock: socket.socket, optname: int, name: str, value: bytes | int, detail: str) -> None:
    try:
        sock.setsockopt(IPPROTO_SCTP, optname, value)
    except OSError as err:
        raise SockoptError(name, err.errno or _errno.EIO, detail) from err


def _where(assoc_id: int, addr: str, port: int) -> str:
    return f"peer {addr} port {port}, assoc {assoc_id}"


def peer_addr_info(sock: socket.socket, assoc_id: int, addr: str, port: int) -> PeerAddrInfo:
    """SCTP_GET_PEER_ADDR_INFO: state, cwnd, srtt, rto and mtu of the path to ``addr``:``port``.

    With pf_expose 1 (DISABLE) a path in PF state gives EACCES. On an
    AF_INET6 socket the kernel reports IPv4 peers as ``::ffff:a.b.c.d``.
    """
    raw = _getsockopt_in(sock, _SCTP_GET_PEER_ADDR_INFO, "SCTP_GET_PEER_ADDR_INFO",
                         structs.pack_paddrinfo(assoc_id, addr, port), _where(assoc_id, addr, port))
    return structs.unpack_paddrinfo(raw)


def status(sock: socket.socket, assoc_id: int = 0) -> AssocStatus:
    """SCTP_STATUS of the association (on a one-to-one socket ``assoc_id`` is ignored)."""
    raw = _getsockopt_in(sock, _SCTP_STATUS, "SCTP_STATUS", structs.pack_status(assoc_id), f"assoc {assoc_id}")
    return structs.unpack_status(raw)


def set_primary(sock: socket.socket, assoc_id: int, addr: str, port: int) -> None:
    """SCTP_PRIMARY_ADDR: send new data to the peer's ``addr``."""
    _setsockopt(sock, _SCTP_PRIMARY_ADDR, "SCTP_PRIMARY_ADDR", structs.pack_prim(assoc_id, addr, port),
                _where(assoc_id, addr, port))


def get_peer_addr_params(sock: socket.socket, assoc_id: int, addr: str, port: int) -> PeerAddrParams:
    """SCTP_PEER_ADDR_PARAMS of one peer address (heartbeat interval, pathmaxrxt, flags, ...)."""
    raw = _getsockopt_in(sock, _SCTP_PEER_ADDR_PARAMS, "SCTP_PEER_ADDR_PARAMS",
                         structs.pack_paddrparams(assoc_id, addr, port), _where(assoc_id, addr, port))
    return structs.unpack_paddrparams(raw)


def set_heartbeat(
    sock: socket.socket, assoc_id: int, addr: str, port: int, *, interval_ms: int | None = None, enable: bool = True
) -> None:
    """Enable (optionally with a new interval) or disable heartbeats on one path.

    ``interval_ms=None`` keeps the current interval; ``0`` sets a zero
    heartbeat delay (SPP_HB_TIME_IS_ZERO: heartbeats every RTO). The kernel
    keeps the interval in jiffies (10 ms in the guest). Disabling ignores any
    interval, so passing one with ``enable=False`` is a ValueError.
    """
    if not enable and interval_ms is not None:
        raise ValueError("interval_ms cannot be set while disabling heartbeats (the kernel ignores it)")
    value = structs.pack_paddrparams(assoc_id, addr, port, hbinterval_ms=interval_ms, heartbeat=enable)
    _setsockopt(sock, _SCTP_PEER_ADDR_PARAMS, "SCTP_PEER_ADDR_PARAMS", value,
                f"heartbeat {'on' if enable else 'off'} interval {interval_ms} ms, {_where(assoc_id, addr, port)}")


def get_thresholds(sock: socket.socket, assoc_id: int, addr: str, port: int) -> tuple[int, int]:
    """SCTP_PEER_ADDR_THLDS of one path: ``(pathmaxrxt, pf_retrans)``."""
    raw = _getsockopt_in(sock, _SCTP_PEER_ADDR_THLDS, "SCTP_PEER_ADDR_THLDS",
                         structs.pack_paddrthlds(assoc_id, addr, port), _where(assoc_id, addr, port))
    return structs.unpack_paddrthlds(raw)


def set_thresholds(
    sock: socket.socket,
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
    if path_max_retrans is not None and not 1 <= path_max_retrans <= 0xFFFF:
        raise ValueError(f"path_max_retrans {path_max_retrans} is out of range 1-65535")
    if pf_retrans is not None and not 0 <= pf_retrans <= 0xFFFF:
        raise ValueError(f"pf_retrans {pf_retrans} is out of range 0-65535")
    current_max, current_pf = get_thresholds(sock, assoc_id, addr, port)
    new_max = current_max if path_max_retrans is None else path_max_retrans
    new_pf = current_pf if pf_retrans is None else pf_retrans
    value = structs.pack_paddrthlds(assoc_id, addr, port, new_max, new_pf)
    _setsockopt(sock, _SCTP_PEER_ADDR_THLDS, "SCTP_PEER_ADDR_THLDS", value,
                f"pathmaxrxt {new_max} pf_retrans {new_pf}, {_where(assoc_id, addr, port)}")


def expose_potentially_failed(sock: socket.socket, level: int, *, assoc_id: int = 0) -> None:
    """SCTP_EXPOSE_POTENTIALLY_FAILED_STATE: 0 unset, 1 hide PF (EACCES), 2 send PF events."""
    if level not in (0, structs.SCTP_PF_EXPOSE_DISABLE, structs.SCTP_PF_EXPOSE_ENABLE):
        raise ValueError(f"pf_expose level {level} is not 0, 1 or 2")
    _setsockopt(sock, _SCTP_EXPOSE_POTENTIALLY_FAILED_STATE, "SCTP_EXPOSE_POTENTIALLY_FAILED_STATE",
                structs.pack_assoc_value(assoc_id, level), f"level {level}, assoc {assoc_id}")


def get_expose_potentially_failed(sock: socket.socket, assoc_id: int = 0) -> int:
    """The current SCTP_EXPOSE_POTENTIALLY_FAILED_STATE level of the association (or socket)."""
    raw = _getsockopt_in(sock, _SCTP_EXPOSE_POTENTIALLY_FAILED_STATE, "SCTP_EXPOSE_POTENTIALLY_FAILED_STATE",
                         structs.pack_assoc_value(assoc_id, 0), f"assoc {assoc_id}")
    return structs.unpack_assoc_value(raw)


def subscribe(sock: socket.socket, kind: str, on: bool = True, assoc_id: int = 0) -> None:
    """SCTP_EVENT: turn one notification kind (``"ASSOC_CHANGE"``, ...) on or off.

    On a one-to-one socket this applies to its association if it has one,
    else to associations the socket will have.
    """
    _setsockopt(sock, _SCTP_EVENT, "SCTP_EVENT", messages.pack_event(kind, on, assoc_id),
                f"{kind} {'on' if on else 'off'}, assoc {assoc_id}")


def set_recvrcvinfo(sock: socket.socket, on: bool = True) -> None:
    """SCTP_RECVRCVINFO: deliver an SCTP_RCVINFO cmsg with every received user message."""
    _setsockopt(sock, _SCTP_RECVRCVINFO, "SCTP_RECVRCVINFO", int(on), "on" if on else "off")


def send(sock: socket.socket, data: bytes, *, ppid: int, stream: int = 0, flags: int = 0, assoc_id: int = 0) -> int:
    """sendmsg with an SCTP_SNDINFO cmsg; ``ppid`` is a host-order integer. Returns bytes sent."""
    cmsg = [(IPPROTO_SCTP, _SCTP_SNDINFO,
             messages.pack_sndinfo(ppid=ppid, stream=stream, flags=flags, assoc_id=assoc_id))]
    try:
        return sock.sendmsg([data], cmsg)
    except (BlockingIOError, TimeoutError):
        raise
    except OSError as err:
        raise SockoptError("sendmsg SCTP_SNDINFO", err.errno or _errno.EIO,
                           f"{len(data)} bytes, ppid {ppid:#x}, stream {stream}") from err


def receive(sock: socket.socket, bufsize: int = 65536) -> Received:
    """recvmsg one message or notification; parse its SCTP_RCVINFO or its notification."""
    try:
        data, ancdata, msg_flags, address = sock.recvmsg(bufsize, messages.RECV_ANCILLARY_SIZE)
    except (BlockingIOError, TimeoutError):
        raise
    except OSError as err:
        raise SockoptError("recvmsg SCTP_RCVINFO", err.errno or _errno.EIO, f"buffer {bufsize} bytes") from err
    return messages.parse_received(data, ancdata, msg_flags, address)
