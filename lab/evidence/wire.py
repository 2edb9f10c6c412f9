"""What actually crossed the links: SCTP chunks dissected from the lab's pcaps.

Each capture file is read once with scapy's SCTP layers; only a small
:class:`Chunk` record per chunk is kept, never the packets. Both ends of a
link capture the same packet, so every query that counts packets picks one
end: a chunk is counted where it *left* its sender (``direction="out"``) or
where it *arrived* (``direction="in"``), never both. At a router's end of a
link the endpoints' packets are only passing (``direction="through"``).

Caveat for fault tests: netem drops on a sender's egress happen before the
capture tap, so a packet netem dropped there is seen nowhere, not even
leaving its sender. A packet dropped on the *receiver's* side (netem on the
far end's egress does not apply to it; ``iptables`` INPUT drops do) is seen
leaving and arriving.

Timestamps (:attr:`Chunk.at`) are pcap wall-clock times; convert the lab's
``time.monotonic()`` instants with :meth:`lab.evidence.capture.Captures.to_wall`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Literal

import scapy.layers.l2  # noqa: F401  (registers Ethernet and Linux cooked captures as pcap link types)
from scapy.error import Scapy_Exception
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.sctp import (
    SCTP,
    SCTPChunkAbort,
    SCTPChunkCookieAck,
    SCTPChunkCookieEcho,
    SCTPChunkData,
    SCTPChunkError,
    SCTPChunkHeartbeatAck,
    SCTPChunkHeartbeatReq,
    SCTPChunkInit,
    SCTPChunkInitAck,
    SCTPChunkParamIPv4Addr,
    SCTPChunkParamIPv6Addr,
    SCTPChunkSACK,
    SCTPChunkShutdown,
    SCTPChunkShutdownAck,
    SCTPChunkShutdownComplete,
)
from scapy.packet import Packet
from scapy.utils import PcapReader

from lab.errors import LabError
from lab.evidence.capture import CapturePoint
from lab.sctp.addresses import canonical

__all__ = [
    "Chunk",
    "Heading",
    "Handshake",
    "HeartbeatCount",
    "Wire",
    "read_capture",
    "SHUTDOWN_KINDS",
]

Heading = Literal["out", "in", "through"]

# Looked up by EXACT class: scapy's HEARTBEAT-ACK subclasses HEARTBEAT,
# INIT-ACK subclasses INIT and COOKIE-ECHO subclasses ERROR, so an
# isinstance() chain would misname them unless ordered with care.
_KINDS: dict[type[Packet], str] = {
    SCTPChunkInit: "INIT",
    SCTPChunkInitAck: "INIT-ACK",
    SCTPChunkCookieEcho: "COOKIE-ECHO",
    SCTPChunkCookieAck: "COOKIE-ACK",
    SCTPChunkData: "DATA",
    SCTPChunkSACK: "SACK",
    SCTPChunkHeartbeatReq: "HEARTBEAT",
    SCTPChunkHeartbeatAck: "HEARTBEAT-ACK",
    SCTPChunkAbort: "ABORT",
    SCTPChunkShutdown: "SHUTDOWN",
    SCTPChunkShutdownAck: "SHUTDOWN-ACK",
    SCTPChunkShutdownComplete: "SHUTDOWN-COMPLETE",
    SCTPChunkError: "ERROR",
}
_ADDRESS_PARAMS = (SCTPChunkParamIPv4Addr, SCTPChunkParamIPv6Addr)
SHUTDOWN_KINDS = frozenset({"SHUTDOWN", "SHUTDOWN-ACK", "SHUTDOWN-COMPLETE"})


@dataclass(frozen=True)
class Chunk:
    """One SCTP chunk as seen at one capture point."""

    at: float  #: pcap timestamp (wall clock, seconds)
    point: str  #: capture point name, e.g. ``path-a-client``
    direction: Heading  #: ``out`` if the IP source is the point's local address, else ``in``
    src: str  #: IP source address
    dst: str  #: IP destination address
    kind: str  #: ``INIT``, ``DATA``, ``HEARTBEAT-ACK``, ... or scapy's chunk class name
    tsn: int | None = None  #: DATA only
    cum_tsn: int | None = None  #: SACK only
    #: INIT / INIT-ACK address parameters (IPv4 and IPv6) exactly as listed.
    #: The IP source is a transport address of the sender too (RFC 9260
    #: §5.1.2) even when it is not listed: see :class:`Handshake`.
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Handshake:
    """The four-way handshake of the first association in the capture.

    ``init_addresses`` / ``init_ack_addresses`` are the transport addresses
    each side announced: the packet's IP source first, then the listed
    address parameters (RFC 9260 §5.1.2: the source address is one of the
    sender's addresses whether or not it is listed).
    """

    init_src: str | None
    init_addresses: tuple[str, ...]
    init_ack_src: str | None
    init_ack_addresses: tuple[str, ...]
    cookie_echo: bool
    cookie_ack: bool

    @property
    def complete(self) -> bool:
        """INIT, INIT-ACK, COOKIE-ECHO and COOKIE-ACK were all sent."""
        return self.init_src is not None and self.init_ack_src is not None and self.cookie_echo and self.cookie_ack


@dataclass(frozen=True)
class HeartbeatCount:
    """Heartbeats on one (local, remote) address pair, counted at the heartbeat's sender."""

    sent: int  #: HEARTBEAT local->remote seen leaving local
    acked: int  #: HEARTBEAT-ACK remote->local seen arriving at local

    @property
    def unanswered(self) -> int:
        return max(0, self.sent - self.acked)


def _chunks_of(packet: Packet, at: float, point: str, local: frozenset[str]) -> list[Chunk]:
    sctp = packet.getlayer(SCTP)  # exact class: SCTP quoted inside an ICMP error is SCTPerror
    if sctp is None:
        return []
    ip = sctp.underlayer
    while ip is not None and not isinstance(ip, (IP, IPv6)):  # skip IPv6 extension headers
        ip = ip.underlayer
    if ip is None:
        return []
    src, dst = canonical(ip.src), canonical(ip.dst)
    # at a router's end of a link, a packet between the endpoints is only passing through
    direction: Heading = "out" if src in local else "in" if dst in local else "through"
    found: list[Chunk] = []
    layer = sctp.payload
    while isinstance(layer, Packet) and type(layer).__name__.startswith("SCTPChunk"):
        cls = type(layer)
        kind = _KINDS.get(cls) or layer.name or cls.__name__
        tsn = cum_tsn = None
        addresses: tuple[str, ...] = ()
        if cls is SCTPChunkData:
            tsn = layer.tsn
        elif cls is SCTPChunkSACK:
            cum_tsn = layer.cumul_tsn_ack
        elif cls is SCTPChunkInit or cls is SCTPChunkInitAck:
            addresses = tuple(
                canonical(param.addr) for param in (layer.params or ()) if isinstance(param, _ADDRESS_PARAMS)
            )
        found.append(Chunk(at, point, direction, src, dst, kind, tsn, cum_tsn, addresses))
        layer = layer.payload
    return found


def read_capture(point: CapturePoint) -> list[Chunk]:
    """Every chunk of every SCTP packet (IPv4 and IPv6) in ``point``'s pcap, in file order.

    Non-SCTP packets are skipped; bytes scapy cannot dissect as a chunk
    (a truncated packet, an unknown chunk type) end that packet's chunk list.
    A missing, empty or non-pcap file raises :class:`~lab.errors.LabError`.
    """
    name, local = point.name, frozenset(canonical(a) for a in point.local)
    try:
        reader = PcapReader(str(point.path))
    except (OSError, Scapy_Exception) as err:
        raise LabError(f"capture {name}: cannot read {point.path}: {err}") from err
    chunks: list[Chunk] = []
    with reader:
        for packet in reader:
            try:
                chunks.extend(_chunks_of(packet, float(packet.time), name, local))
            except (AttributeError, TypeError, ValueError, IndexError):  # a malformed packet is no evidence
                continue
    return chunks


@dataclass
class Wire:
    """All chunks of a set of captures, sorted by time, and the queries tests assert on.

    ``senders`` maps a capture point's name to its node; it tells which
    endpoint sent a chunk seen leaving that point (TSNs are per sender).
    """

    chunks: list[Chunk]
    senders: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.chunks = sorted(self.chunks, key=lambda chunk: chunk.at)

    @classmethod
    def from_points(cls, points: Iterable[CapturePoint]) -> Wire:
        """Read every point's pcap once."""
        chunks: list[Chunk] = []
        senders: dict[str, str] = {}
        for point in points:
            chunks.extend(read_capture(point))
            senders[point.name] = point.node
        return cls(chunks, senders)

    def _sent(self, kind: str) -> list[Chunk]:
        return [c for c in self.chunks if c.kind == kind and c.direction == "out"]

    def handshake(self) -> Handshake:
        """The first association's handshake, each packet counted where it left its sender."""
        init = next(iter(self._sent("INIT")), None)
        if init is None:
            return Handshake(None, (), None, (), False, False)
        client = _transport_addresses(init)
        ack = next((c for c in self._sent("INIT-ACK") if c.at >= init.at and c.dst in client), None)
        if ack is None:
            return Handshake(init.src, client, None, (), False, False)
        server = _transport_addresses(ack)
        echo = next(
            (c for c in self._sent("COOKIE-ECHO") if c.at >= ack.at and c.src in client and c.dst in server), None
        )
        cookie_ack = echo is not None and any(
            c.at >= echo.at and c.src in server and c.dst in client for c in self._sent("COOKIE-ACK")
        )
        return Handshake(init.src, client, ack.src, server, echo is not None, cookie_ack)

    def heartbeat_matrix(self) -> dict[tuple[str, str], HeartbeatCount]:
        """Per (local, remote) pair: HEARTBEATs sent and HEARTBEAT-ACKs received, at the local end.

        Both endpoints send heartbeats, so pairs of both appear, in order of
        first appearance.
        """
        sent: Counter[tuple[str, str]] = Counter()
        acked: Counter[tuple[str, str]] = Counter()
        order: dict[tuple[str, str], None] = {}
        for c in self.chunks:
            if c.kind == "HEARTBEAT" and c.direction == "out":
                key = (c.src, c.dst)
                sent[key] += 1
            elif c.kind == "HEARTBEAT-ACK" and c.direction == "in":
                key = (c.dst, c.src)
                acked[key] += 1
            else:
                continue
            order.setdefault(key)
        return {key: HeartbeatCount(sent=sent[key], acked=acked[key]) for key in order}

    def data(self, src: str | None = None, dst: str | None = None, *, direction: Heading = "in") -> list[Chunk]:
        """DATA chunks from ``src`` to ``dst`` (None: any), as they arrived (``in``) or left (``out``)."""
        return [
            c
            for c in self.chunks
            if c.kind == "DATA"
            and c.direction == direction
            and (src is None or c.src == src)
            and (dst is None or c.dst == dst)
        ]

    def retransmissions(self) -> list[Chunk]:
        """Each repeat of a DATA TSN leaving its sender (the first transmission is not included)."""
        seen: set[tuple[str, int | None]] = set()
        repeats: list[Chunk] = []
        for c in self.data(direction="out"):
            key = (self.senders.get(c.point, c.src), c.tsn)
            if key in seen:
                repeats.append(c)
            else:
                seen.add(key)
        return repeats

    def first_data(
        self, src: str | None, dst: str | None, *, after: float, direction: Heading = "in"
    ) -> Chunk | None:
        """The first DATA chunk ``src`` -> ``dst`` strictly after ``after`` (pcap time)."""
        return next((c for c in self.data(src, dst, direction=direction) if c.at > after), None)

    def last_data(
        self, src: str | None, dst: str | None, *, before: float, direction: Heading = "in"
    ) -> Chunk | None:
        """The last DATA chunk ``src`` -> ``dst`` strictly before ``before`` (pcap time)."""
        return next((c for c in reversed(self.data(src, dst, direction=direction)) if c.at < before), None)

    def aborts(self, *, direction: Heading = "out") -> list[Chunk]:
        """ABORT chunks, by default where they left their sender (each once)."""
        return [c for c in self.chunks if c.kind == "ABORT" and c.direction == direction]

    def shutdowns(self, *, direction: Heading = "out") -> list[Chunk]:
        """SHUTDOWN, SHUTDOWN-ACK and SHUTDOWN-COMPLETE chunks, by default where they left their sender."""
        return [c for c in self.chunks if c.kind in SHUTDOWN_KINDS and c.direction == direction]


def _transport_addresses(chunk: Chunk) -> tuple[str, ...]:
    return tuple(dict.fromkeys((chunk.src, *chunk.addresses)))
