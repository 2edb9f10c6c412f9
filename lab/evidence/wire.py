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
:attr:`Chunk.frame` is the packet's number in its file as Wireshark shows it,
and :meth:`Wire.where` names files and packet numbers for a report.

Several associations may share the captures (one after another on the same
ports, or a capture that starts in the middle of one):
:meth:`Wire.associations` tells them apart by ports and verification tags.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
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

__all__ = ["Chunk", "Heading", "Handshake", "HeartbeatCount", "Role", "Wire", "WireAssociation", "read_capture",
           "SHUTDOWN_KINDS"]

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
_T_BIT_KINDS = (SCTPChunkAbort, SCTPChunkShutdownComplete)
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
    frame: int = 0  #: 1-based packet number in its pcap file (as Wireshark numbers it); 0: not read from a file
    sport: int = 0  #: SCTP source port
    dport: int = 0  #: SCTP destination port
    #: the common header's verification tag: the receiver's tag (0 on an INIT), or the
    #: sender's own when :attr:`t_bit` is set
    vtag: int = 0
    init_tag: int | None = None  #: INIT / INIT-ACK: the initiate tag (the tag the sender chose)
    #: HEARTBEAT / HEARTBEAT-ACK: an 8-byte digest of the heartbeat information
    #: parameter(s), equal in a HEARTBEAT and the HEARTBEAT-ACK that echoes it
    hb_info: bytes | None = None
    t_bit: bool = False  #: ABORT / SHUTDOWN-COMPLETE: the T bit (the vtag is the sender's own tag)


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


Role = Literal["client", "server"]


@dataclass(frozen=True)
class WireAssociation:
    """One SCTP association in the captures, told apart by its ports and verification tags.

    The client is the end that sent the INIT when the capture holds it
    (``handshake``), else the receiver of the INIT-ACK when only that was
    captured. Without either, the client is the end on the higher port
    (the listening port is usually the lower, well-known one: 2905, 3868,
    36412), and on equal ports the sender of the first chunk captured.
    A tag is the one that end chose (its INIT or INIT-ACK initiate tag), so
    the vtag of packets *to* it; None when no packet to it was captured.
    The addresses are those seen sending or receiving for that end, plus
    those it advertised in its INIT or INIT-ACK.
    """

    client_port: int
    server_port: int
    client_tag: int | None
    server_tag: int | None
    handshake: bool  #: the INIT was captured
    client_addresses: tuple[str, ...]
    server_addresses: tuple[str, ...]
    chunks: tuple[Chunk, ...] = field(repr=False)  #: every copy of every chunk, sorted by time

    def sender(self, chunk: Chunk) -> Role | None:
        """Which end sent ``chunk`` (by port, or by address when both ends use the same port)."""
        if self.client_port != self.server_port:
            ends: dict[int, Role] = {self.client_port: "client", self.server_port: "server"}
            return ends.get(chunk.sport)
        if chunk.src in self.client_addresses and chunk.src not in self.server_addresses:
            return "client"
        return "server" if chunk.src in self.server_addresses else None


def _chunks_of(packet: Packet, at: float, point: str, local: frozenset[str], frame: int = 0) -> list[Chunk]:
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
    sport, dport, vtag = int(sctp.sport), int(sctp.dport), int(sctp.tag)
    found: list[Chunk] = []
    layer = sctp.payload
    while isinstance(layer, Packet) and type(layer).__name__.startswith("SCTPChunk"):
        cls = type(layer)
        kind = _KINDS.get(cls) or layer.name or cls.__name__
        tsn = cum_tsn = init_tag = None
        hb_info: bytes | None = None
        addresses: tuple[str, ...] = ()
        if cls is SCTPChunkData:
            tsn = layer.tsn
        elif cls is SCTPChunkSACK:
            cum_tsn = layer.cumul_tsn_ack
        elif cls is SCTPChunkInit or cls is SCTPChunkInitAck:
            init_tag = int(layer.init_tag)
            addresses = tuple(
                canonical(param.addr) for param in (layer.params or ()) if isinstance(param, _ADDRESS_PARAMS)
            )
        elif cls is SCTPChunkHeartbeatReq or cls is SCTPChunkHeartbeatAck:
            info = b"".join(bytes(param) for param in (layer.params or ()))
            hb_info = hashlib.blake2b(info, digest_size=8).digest() if info else None
        t_bit = cls in _T_BIT_KINDS and bool(layer.TCB)
        found.append(Chunk(at, point, direction, src, dst, kind, tsn, cum_tsn, addresses, frame, sport, dport, vtag,
                           init_tag, hb_info, t_bit))
        layer = layer.payload
    return found


def read_capture(point: CapturePoint) -> list[Chunk]:
    """Every chunk of every SCTP packet (IPv4 and IPv6) in ``point``'s pcap, in file order.

    Each chunk carries its packet's number in the file (:attr:`Chunk.frame`,
    counting every packet, SCTP or not, from 1 as Wireshark does).

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
        for frame, packet in enumerate(reader, 1):
            try:
                chunks.extend(_chunks_of(packet, float(packet.time), name, local, frame))
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
    files: dict[str, str] = field(default_factory=dict)  #: capture point name -> its pcap file

    def __post_init__(self) -> None:
        self.chunks = sorted(self.chunks, key=lambda chunk: chunk.at)

    @classmethod
    def from_points(cls, points: Iterable[CapturePoint]) -> Wire:
        """Read every point's pcap once."""
        chunks: list[Chunk] = []
        senders: dict[str, str] = {}
        files: dict[str, str] = {}
        for point in points:
            chunks.extend(read_capture(point))
            senders[point.name] = point.node
            files[point.name] = str(point.path)
        return cls(chunks, senders, files)

    def where(self, chunks: Iterable[Chunk], *, most: int = 8) -> str:
        """Files and packet numbers of ``chunks``, per file in order of first mention.

        E.g. ``path-a-client.pcap #12, #15; path-b-server.pcap #3``; past
        ``most`` numbers in one file the rest is counted, not listed.
        """
        frames: dict[str, set[int]] = {}
        for chunk in chunks:
            numbers = frames.setdefault(chunk.point, set())
            if chunk.frame:
                numbers.add(chunk.frame)
        parts = []
        for point, numbers in frames.items():
            name = Path(self.files[point]).name if point in self.files else f"{point}.pcap"
            shown = [f"#{n}" for n in sorted(numbers)[:most]]
            if len(numbers) > most:
                shown.append(f"... ({len(numbers)} packets)")
            parts.append(" ".join([name, ", ".join(shown)]) if shown else name)
        return "; ".join(parts)

    def associations(self) -> list[WireAssociation]:
        """Every association in the captures, in order of its first chunk (see :class:`WireAssociation`).

        A new INIT initiate tag on the same ports starts a new association;
        without the handshake, the tags come from the packets' vtags in each
        direction.
        """
        return [group.freeze() for group in _group(self.chunks)]

    def association(self, association: WireAssociation) -> Wire:
        """A Wire of that association's chunks only (same senders and files)."""
        return Wire(list(association.chunks), dict(self.senders), dict(self.files))

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


@dataclass
class _End:
    """One end of an association being grouped: its port, its tag once known, its addresses."""

    port: int
    tag: int | None
    addresses: dict[str, None] = field(default_factory=dict)


@dataclass
class _Group:
    ends: tuple[_End, _End]
    client: int | None = None  #: index of the INIT's sender (or the INIT-ACK's receiver) once known
    handshake: bool = False
    first_sender: int = 0
    chunks: list[Chunk] = field(default_factory=list)

    def end(self, port: int, tag: int | None, peer_port: int) -> int | None:
        """Index of the end on ``port`` with ``tag`` whose peer is on ``peer_port``."""
        for i, end in enumerate(self.ends):
            if end.port == port and end.tag == tag and self.ends[1 - i].port == peer_port:
                return i
        return None

    def freeze(self) -> WireAssociation:
        client = self.client
        if client is None:
            a, b = self.ends
            client = self.first_sender if a.port == b.port else (0 if a.port > b.port else 1)
        c, s = self.ends[client], self.ends[1 - client]
        return WireAssociation(c.port, s.port, c.tag, s.tag, self.handshake, tuple(c.addresses), tuple(s.addresses),
                               tuple(self.chunks))


def _group(chunks: Iterable[Chunk]) -> list[_Group]:
    """Split time-ordered chunks into associations (see :meth:`Wire.associations`)."""
    groups: list[_Group] = []

    def known(port: int, tag: int | None, peer_port: int) -> tuple[_Group, int] | None:
        for group in reversed(groups):  # the latest association first
            i = group.end(port, tag, peer_port)
            if i is not None:
                return group, i
        return None

    def unknown(port: int, peer_port: int, address: str) -> tuple[_Group, int] | None:
        """The latest end on ``port`` whose tag is not known yet, preferring one known to own ``address``."""
        found = [(group, i) for group in reversed(groups) if (i := group.end(port, None, peer_port)) is not None]
        return next((hit for hit in found if address in hit[0].ends[hit[1]].addresses), found[0] if found else None)

    def new(port: int, tag: int | None, peer_port: int) -> tuple[_Group, int]:
        groups.append(_Group((_End(port, tag), _End(peer_port, None))))
        return groups[-1], 0

    for chunk in chunks:
        sport, dport = chunk.sport, chunk.dport
        if chunk.kind == "INIT":  # the sender's own tag
            group, i = known(sport, chunk.init_tag, dport) or new(sport, chunk.init_tag, dport)
            group.client, group.handshake, sender = i, True, i
        elif chunk.t_bit:  # ABORT / SHUTDOWN-COMPLETE reflecting the sender's own tag
            group, sender = known(sport, chunk.vtag, dport) or _tag(unknown(sport, dport, chunk.src), chunk.vtag) \
                or new(sport, chunk.vtag, dport)
        else:  # the receiver's tag
            hit = known(dport, chunk.vtag, sport) or _tag(unknown(dport, sport, chunk.dst), chunk.vtag) \
                or new(dport, chunk.vtag, sport)
            group, sender = hit[0], 1 - hit[1]
            if chunk.kind == "INIT-ACK" and group.ends[sender].tag is None:
                group.ends[sender].tag = chunk.init_tag
            if chunk.kind == "INIT-ACK" and group.client is None:
                group.client = 1 - sender
        if not group.chunks:
            group.first_sender = sender
        group.chunks.append(chunk)
        group.ends[sender].addresses.setdefault(chunk.src)
        group.ends[1 - sender].addresses.setdefault(chunk.dst)
        for address in chunk.addresses:
            group.ends[sender].addresses.setdefault(address)
    return groups


def _tag(hit: tuple[_Group, int] | None, tag: int) -> tuple[_Group, int] | None:
    """Learn the tag of the end ``hit`` names (a capture that started after the handshake)."""
    if hit is not None:
        hit[0].ends[hit[1]].tag = tag
    return hit
