"""Known multihoming misconfigurations of an SCTP stack, found black-box from its captures.

:func:`find` splits the wire into associations (:meth:`Wire.associations`)
and runs every detector of the catalogue (:data:`FINDINGS`) over each. A
:class:`Finding` says what was seen, in which packets (:meth:`Wire.where`)
and about which addresses; :meth:`Finding.check` makes it a failed
:class:`~lab.report.model.Check` for a report.

Each chunk is counted once: where it left its sender (``direction="out"``),
else, if the sender's end was not captured, where it arrived (``in``), else
passing a router. Whether a chunk *reached* its receiver is read the other
way round (``in`` first). An address counts as captured when some capture
point saw a packet leave it or arrive at it.

The detectors, per association; "an end" is either end, its "peer" the other:

- ``advertised-foreign-address``: the INIT (INIT-ACK) lists an address, or
  comes from one, outside the expected addresses of the end that sent it.
- ``single-homed-end``: an end expected to have 2+ addresses advertised one
  (its source address, no other address parameter).
- ``init-ack-from-other-address``: the INIT-ACK's source is none of the
  destinations of the INITs sent before it.
- ``heartbeat-ack-from-other-address``: a HEARTBEAT-ACK's source differs from
  the destination of the HEARTBEAT it echoes (matched by heartbeat info; an
  ACK without info answers the sender's latest earlier HEARTBEAT).
- ``peer-address-never-heartbeated``: an end sent no HEARTBEAT, DATA or
  handshake chunk to an address its peer advertised (only addresses among
  the peer's expected ones: the others' paths are not captured).
- ``peer-address-never-confirmed``: an end sent HEARTBEATs to a peer address
  (at least :data:`ANSWER_TIME` s before the association's last captured
  chunk) and that address was never confirmed: no HEARTBEAT-ACK from it
  echoing one of them reached the end, and the handshake did not confirm it
  (RFC 9260 §5.4: the COOKIE-ECHO's destination once the COOKIE-ACK came
  back, for the initiator; the COOKIE-ECHO's source, for the responder).
- ``no-failover``: an end sent one TSN to one address ``retransmit_limit``
  times or more while another peer address was *alive*.
- ``abort-with-confirmed-alternative``: an end sent an ABORT while a peer
  address other than the destination of its last DATA (or of the ABORT,
  without DATA) was *alive*.

A peer address is *alive* at a time for an end when a HEARTBEAT-ACK from it,
echoing one of the end's HEARTBEATs to it, reached the end before that time,
and since the last such ACK the end sent it no HEARTBEAT that went
unanswered and no DATA whose TSN was sent again before that time.

The handshake findings (the first three and ``peer-address-never-heartbeated``)
need the INIT and INIT-ACK in the capture; without them they are not reported.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from lab.evidence.wire import Chunk, Role, Wire, WireAssociation
from lab.report.model import Check
from lab.sctp.addresses import canonical

__all__ = ["ANSWER_TIME", "FINDINGS", "Finding", "FindingKind", "find"]

#: A HEARTBEAT counts as unanswered only if the capture of its association
#: goes on for at least this many seconds after it.
ANSWER_TIME = 1.0
#: Chunks that show an end used (or probed) a peer address.
_USED = frozenset({"HEARTBEAT", "DATA", "INIT", "INIT-ACK", "COOKIE-ECHO", "COOKIE-ACK"})


@dataclass(frozen=True)
class FindingKind:
    """One known misconfiguration: what it is, why it happens, how to fix it."""

    id: str  #: stable identifier, e.g. ``no-failover``
    title: str
    explanation: str  #: one line: what was seen and why it matters
    cause: str  #: the likely cause
    fix: str
    expected: str  #: what a correctly multihomed stack does instead (a check's "expected")


_CATALOGUE = (
    FindingKind(
        "advertised-foreign-address", "Foreign address advertised",
        "The INIT or INIT-ACK offers the peer an address that is not one of this end's signalling addresses "
        "(a loopback, management or NAT-internal address); the peer heartbeats it and may send traffic there.",
        "The socket is bound to the wildcard address (INADDR_ANY / in6addr_any), so the stack advertises every "
        "address of the host.",
        "Bind exactly the signalling addresses with sctp_bindx() (or the stack's local address list) instead of "
        "the wildcard address.",
        "each end to advertise only its own signalling addresses in its INIT or INIT-ACK"),
    FindingKind(
        "single-homed-end", "Only one address advertised",
        "An end that has several signalling addresses offered its peer only one, so the association has a "
        "single path towards it and cannot fail over.",
        "The socket was bound with bind() to one address instead of sctp_bindx() of all of them: the host is "
        "multihomed, the association is not.",
        "Bind every signalling address with sctp_bindx(SCTP_BINDX_ADD_ADDR) (or list them all in the stack's "
        "configuration) before listen() or connect().",
        "a multihomed end to advertise all its addresses (address parameters in its INIT or INIT-ACK)"),
    FindingKind(
        "init-ack-from-other-address", "INIT-ACK from another address",
        "The INIT-ACK left from an address the INIT was not sent to; firewalls, NAT and strict peers drop such "
        "a reply, so the association may not come up on that path.",
        "The responder lets the routing table choose the reply's source address (a wildcard bind, or no route "
        "per signalling address) instead of answering from the address the INIT reached.",
        "Bind the listening socket to its signalling addresses (sctp_bindx) and route each address out of its "
        "own interface (source-based routing).",
        "the INIT-ACK to come from the address the INIT was sent to"),
    FindingKind(
        "heartbeat-ack-from-other-address", "HEARTBEAT-ACK from another address",
        "The answer to a heartbeat on one path came back from another address, so the probe does not test "
        "that path both ways and a one-way failure of it goes unnoticed.",
        "The peer chooses the reply's source address by the routing table (a wildcard bind, no route per "
        "signalling address) instead of answering from the probed address.",
        "Route each signalling address out of its own interface (source-based routing) and bind the "
        "signalling addresses explicitly.",
        "each HEARTBEAT-ACK to come from the address its HEARTBEAT was sent to"),
    FindingKind(
        "peer-address-never-heartbeated", "Peer address never probed",
        "An address the peer advertised was never heartbeated nor used, so that path is never verified and a "
        "failover to it would be blind.",
        "Heartbeats are disabled on that path (SCTP_PEER_ADDR_PARAMS with SPP_HB_DISABLE, or no heartbeat "
        "interval), or the stack ignores the peer's address parameters (single-homed implementation).",
        "Enable heartbeats on every path (SPP_HB_ENABLE with a finite heartbeat interval) and make the stack "
        "use every address the peer advertises.",
        "each end to heartbeat every address its peer advertised"),
    FindingKind(
        "peer-address-never-confirmed", "Peer address never confirmed",
        "Heartbeats to a peer address were never answered from it, so that path never became usable as an "
        "alternative.",
        "The address is not reachable from this end: no route to it, a firewall dropping SCTP on that path, or "
        "the peer advertised an address it cannot be reached on (see advertised-foreign-address).",
        "Make the path routable both ways (routes, firewall rules allowing SCTP), or stop the peer advertising "
        "that address.",
        "every heartbeated peer address to be confirmed by a HEARTBEAT-ACK from it"),
    FindingKind(
        "no-failover", "No failover of retransmissions",
        "DATA was retransmitted again and again to a failing address while another address of the peer was "
        "confirmed and alive: traffic stalls instead of moving to the alternative path.",
        "Retransmissions are pinned to the primary path (no alternate-path retransmission), or the path is "
        "declared failed too late (a high path max retrans, no potentially-failed state).",
        "Retransmit on an alternative address (RFC 9260 §6.4) and lower the path max retrans or enable the "
        "potentially-failed state (RFC 7829; Linux net.sctp.pf_retrans) so the stack moves sooner.",
        "retransmissions to move to a confirmed alternative address instead of repeating on a failing one"),
    FindingKind(
        "abort-with-confirmed-alternative", "Abort with a working alternative",
        "The association was aborted although another path to the peer was confirmed and had not failed: one "
        "path's outage took the whole association down.",
        "The association max retrans is not above the path max retrans (the association gives up before the "
        "path fails over), or the application aborts on the first send error or path event.",
        "Set the association max retrans (sasoc_asocmaxrxt) to at least the number of paths times the path "
        "max retrans (spp_pathmaxrxt), and do not abort on SCTP_PEER_ADDR_CHANGE or a failed send.",
        "the association to fail over to a confirmed alternative path rather than abort"),
)
#: The catalogue, keyed by id, in a fixed order.
FINDINGS: Mapping[str, FindingKind] = MappingProxyType({kind.id: kind for kind in _CATALOGUE})


@dataclass(frozen=True)
class Finding:
    """One misconfiguration seen on the wire, with its evidence."""

    kind: FindingKind
    detail: str  #: what was seen, with times and addresses
    where: str  #: capture files and packet numbers (:meth:`Wire.where`)
    addresses: tuple[str, ...] = ()  #: the addresses it is about

    def check(self) -> Check:
        """A failed check: a correct stack's behaviour expected, this seen."""
        return Check(name=f"finding {self.kind.id}", passed=False, expected=self.kind.expected, seen=self.detail,
                     where=self.where)

    def sentence(self) -> str:
        """``<id>: <detail> (<where>)``."""
        return f"{self.kind.id}: {self.detail}" + (f" ({self.where})" if self.where else "")


def find(wire: Wire, *, client: Sequence[str], server: Sequence[str], retransmit_limit: int = 3) -> list[Finding]:
    """Every finding of the catalogue in ``wire``, association by association, in catalogue order.

    ``client`` / ``server``: the addresses each end is expected to have (the
    topology's); an end of an association is the client when the addresses
    it sent from are among ``client``, else the server when among ``server``.
    """
    captured = frozenset({c.src for c in wire.chunks if c.direction == "out"}
                         | {c.dst for c in wire.chunks if c.direction == "in"})
    expected = (frozenset(canonical(a) for a in client), frozenset(canonical(a) for a in server))
    found: list[Finding] = []
    for association in wire.associations():
        ctx = _Context(wire.association(association), association, captured, expected, retransmit_limit)
        for detector in _DETECTORS:
            found.extend(detector(ctx))
    return found


def _once(chunks: Iterable[Chunk], captured: frozenset[str], near: Literal["out", "in"]) -> list[Chunk]:
    """Each chunk once: the copy at ``near``'s end, else the other end's, else one router's."""
    through: dict[tuple[str, str], str] = {}
    kept = []
    for c in chunks:
        if c.direction == near:
            kept.append(c)
        elif c.direction != "through":
            if (c.src if near == "out" else c.dst) not in captured:
                kept.append(c)
        elif c.src not in captured and c.dst not in captured and through.setdefault((c.src, c.dst), c.point) == c.point:
            kept.append(c)
    return kept


_ROLES: tuple[Role, Role] = ("client", "server")


def _other(role: Role) -> Role:
    return "server" if role == "client" else "client"


class _Context:
    """One association: its chunks counted once, who sent what, heartbeats matched to their answers."""

    def __init__(self, wire: Wire, association: WireAssociation, captured: frozenset[str],
                 expected: tuple[frozenset[str], frozenset[str]], retransmit_limit: int) -> None:
        self.wire, self.association, self.retransmit_limit = wire, association, retransmit_limit
        self.sent = _once(association.chunks, captured, "out")
        self.received = _once(association.chunks, captured, "in")
        self.start = association.chunks[0].at if association.chunks else 0.0
        self.end = association.chunks[-1].at if association.chunks else 0.0
        self.kinds: dict[tuple[Role, str], list[Chunk]] = {}
        for c in self.sent:
            self.kinds.setdefault((self.role(c), c.kind), []).append(c)
        self.heartbeats: dict[Role, list[Chunk]] = {role: self.by(role, "HEARTBEAT") for role in _ROLES}
        #: (sender, heartbeat info; None: any) -> its HEARTBEATs and their times
        self.probes: dict[tuple[Role, bytes | None], tuple[list[Chunk], list[float]]] = {}
        for role in _ROLES:
            self.probes[(role, None)] = (self.heartbeats[role], [hb.at for hb in self.heartbeats[role]])
            for hb in self.heartbeats[role]:
                if hb.hb_info is not None:
                    hbs, times = self.probes.setdefault((role, hb.hb_info), ([], []))
                    hbs.append(hb)
                    times.append(hb.at)
        answered: set[Chunk] = set()
        self.confirmations: dict[Role, list[tuple[float, str, Chunk]]] = {role: [] for role in _ROLES}
        for ack in self.received:
            probe = self.answer(ack) if ack.kind == "HEARTBEAT-ACK" else None
            if probe is not None:
                answered.add(probe)
                if probe.dst == ack.src:
                    self.confirmations[_other(self.role(ack))].append((ack.at, ack.src, ack))
        #: per end and peer address, when it sent a HEARTBEAT there that was never answered
        self.unanswered: dict[tuple[Role, str], list[float]] = {}
        for role in _ROLES:
            for hb in self.heartbeats[role]:
                if hb not in answered:
                    self.unanswered.setdefault((role, hb.dst), []).append(hb.at)
        #: per end and peer address: when it sent DATA there whose TSN was sent again, and for each
        #: the earliest time one of them, or a later one, was sent again
        self.resent: dict[tuple[Role, str], tuple[list[float], list[float]]] = {}
        for role in _ROLES:
            sent: dict[int | None, list[float]] = {}
            for c in self.by(role, "DATA"):
                sent.setdefault(c.tsn, []).append(c.at)
            for c in self.by(role, "DATA"):
                times = sent[c.tsn]
                later = bisect_right(times, c.at)
                if later < len(times):
                    first, again = self.resent.setdefault((role, c.dst), ([], []))
                    first.append(c.at)
                    again.append(times[later])
        for first, again in self.resent.values():
            for i in range(len(again) - 2, -1, -1):
                again[i] = min(again[i], again[i + 1])
        self.expected: dict[Role, frozenset[str]] = {}
        self.names: dict[Role, str] = {}
        for role in _ROLES:
            sources = {c.src for c in self.sent if self.role(c) == role}
            client, server = (len(sources & e) for e in expected)
            topology = "client" if client >= server and client else "server" if server else None
            self.expected[role] = expected[0] if topology == "client" else expected[1] if topology else frozenset()
            port = association.client_port if role == "client" else association.server_port
            self.names[role] = f"the {topology}" if topology else f"the end on port {port}"
        self.init = next((c for c in self.sent if c.kind == "INIT"), None)
        self.init_ack = next((c for c in self.sent if c.kind == "INIT-ACK"), None)

    def role(self, chunk: Chunk) -> Role:
        return self.association.sender(chunk) or "client"

    def by(self, role: Role, kind: str) -> list[Chunk]:
        """The ``kind`` chunks ``role`` sent, in time order."""
        return self.kinds.get((role, kind), [])

    def at(self, chunk: Chunk) -> str:
        return f"+{chunk.at - self.start:.3f} s"

    def answer(self, ack: Chunk) -> Chunk | None:
        """The HEARTBEAT that ``ack`` echoes: same heartbeat info, else (no info) the latest one before it."""
        hbs, times = self.probes.get((_other(self.role(ack)), ack.hb_info), ([], []))
        index = bisect_right(times, ack.at)
        return hbs[index - 1] if index else None

    def handshake_confirmed(self, role: Role) -> list[tuple[float, str, Chunk]]:
        """RFC 9260 §5.4: what the handshake confirmed for ``role``."""
        if role == "client":
            echo = next(iter(self.by("client", "COOKIE-ECHO")), None)
            back = echo and next((c for c in self.received if c.kind == "COOKIE-ACK" and c.at >= echo.at), None)
            return [(back.at, echo.dst, back)] if echo and back else []
        return [(c.at, c.src, c) for c in self.received if c.kind == "COOKIE-ECHO"][:1]

    def alive(self, role: Role, at: float, but: str) -> list[tuple[str, Chunk]]:
        """Peer addresses other than ``but`` alive for ``role`` at ``at``, with the ACK that confirmed each last."""
        last: dict[str, Chunk] = {}
        for when, address, ack in self.confirmations[role]:
            if when < at and address != but:
                last[address] = ack
        return [(address, ack) for address, ack in last.items() if not self.failed(role, address, ack.at, at)]

    def failed(self, role: Role, address: str, since: float, until: float) -> bool:
        """Between the two times, ``role`` sent ``address`` an unanswered HEARTBEAT, or DATA it sent again."""
        heartbeats = self.unanswered.get((role, address), [])
        if bisect_right(heartbeats, since) < bisect_left(heartbeats, until):
            return True
        first, again = self.resent.get((role, address), ([], []))
        after = bisect_right(first, since)
        return after < len(first) and again[after] < until

    def finding(self, kind: str, detail: str, evidence: Iterable[Chunk], addresses: Iterable[str]) -> Finding:
        return Finding(FINDINGS[kind], detail, self.wire.where(evidence), tuple(dict.fromkeys(addresses)))


def _advertised(chunk: Chunk) -> list[str]:
    return list(dict.fromkeys((chunk.src, *chunk.addresses)))


def _handshake(ctx: _Context) -> list[tuple[Role, Chunk]]:
    """(the end that sent it, the INIT or INIT-ACK) for those captured."""
    found: list[tuple[Role, Chunk]] = []
    if ctx.init is not None:
        found.append(("client", ctx.init))
    if ctx.init_ack is not None:
        found.append(("server", ctx.init_ack))
    return found


def _foreign(ctx: _Context) -> list[Finding]:
    found = []
    for role, chunk in _handshake(ctx):
        own = ctx.expected[role]
        foreign = [a for a in _advertised(chunk) if own and a not in own]
        if foreign:
            found.append(ctx.finding(
                "advertised-foreign-address",
                f"the {chunk.kind} from {chunk.src} at {ctx.at(chunk)} advertised {', '.join(foreign)}, not among "
                f"{ctx.names[role]}'s addresses ({', '.join(sorted(own))})", [chunk], foreign))
    return found


def _single_homed(ctx: _Context) -> list[Finding]:
    found = []
    for role, chunk in _handshake(ctx):
        own, advertised = ctx.expected[role], _advertised(chunk)
        if len(own) >= 2 and len(advertised) == 1:
            missing = sorted(own - set(advertised))
            found.append(ctx.finding(
                "single-homed-end",
                f"{ctx.names[role]} advertised only {advertised[0]} in its {chunk.kind} at {ctx.at(chunk)} (no "
                f"other address parameter), not {', '.join(missing)}", [chunk], [*advertised, *missing]))
    return found


def _init_ack_source(ctx: _Context) -> list[Finding]:
    ack = ctx.init_ack
    if ctx.init is None or ack is None:
        return []
    inits = [c for c in ctx.by("client", "INIT") if c.at <= ack.at] or [ctx.init]
    destinations = list(dict.fromkeys(c.dst for c in inits))
    if ack.src in destinations:
        return []
    return [ctx.finding("init-ack-from-other-address",
                        f"the INIT went to {', '.join(destinations)} but the INIT-ACK came from {ack.src} "
                        f"(to {ack.dst}, at {ctx.at(ack)})", [*inits, ack], [*destinations, ack.src])]


def _heartbeat_ack_source(ctx: _Context) -> list[Finding]:
    pairs: dict[tuple[Role, str, str], list[Chunk]] = {}
    for ack in ctx.sent:
        hb = ctx.answer(ack) if ack.kind == "HEARTBEAT-ACK" else None
        if hb is not None and hb.dst != ack.src:
            pairs.setdefault((ctx.role(hb), hb.dst, ack.src), []).extend((hb, ack))
    found = []
    for (role, probed, source), evidence in pairs.items():
        acks = evidence[1::2]
        found.append(ctx.finding(
            "heartbeat-ack-from-other-address",
            f"{len(acks)} HEARTBEAT-ACK(s) answering {ctx.names[role]}'s HEARTBEATs to {probed} came from "
            f"{source} (first at {ctx.at(acks[0])})", evidence, [probed, source]))
    return found


def _never_heartbeated(ctx: _Context) -> list[Finding]:
    found = []
    for role, chunk in _handshake(ctx):  # ``chunk`` advertised the addresses of ``role``'s peer
        peer, prober = role, _other(role)
        expected = ctx.expected[peer]
        used = {c.dst for c in ctx.sent if c.kind in _USED and ctx.role(c) == prober}
        for address in _advertised(chunk):
            if (not expected or address in expected) and address not in used:
                found.append(ctx.finding(
                    "peer-address-never-heartbeated",
                    f"{ctx.names[prober]} never sent a HEARTBEAT or DATA to {address}, which {ctx.names[peer]} "
                    f"advertised in its {chunk.kind} at {ctx.at(chunk)}", [chunk], [address]))
    return found


def _never_confirmed(ctx: _Context) -> list[Finding]:
    found = []
    for role in _ROLES:
        confirmed = {address for _, address, _ in [*ctx.confirmations[role], *ctx.handshake_confirmed(role)]}
        probed: dict[str, list[Chunk]] = {}
        for hb in ctx.heartbeats[role]:
            probed.setdefault(hb.dst, []).append(hb)
        for address, hbs in probed.items():
            if address in confirmed or not any(ctx.end - hb.at >= ANSWER_TIME for hb in hbs):
                continue
            elsewhere = sorted({c.src for c in ctx.received if c.kind == "HEARTBEAT-ACK"
                                and (probe := ctx.answer(c)) is not None and probe.dst == address})
            found.append(ctx.finding(
                "peer-address-never-confirmed",
                f"{ctx.names[role]} sent {len(hbs)} HEARTBEAT(s) to {address} from {ctx.at(hbs[0])} on; none was "
                f"acknowledged from {address}" + (f" (answered from {', '.join(elsewhere)})" if elsewhere else ""),
                hbs, [address]))
    return found


def _no_failover(ctx: _Context) -> list[Finding]:
    found = []
    limit = max(ctx.retransmit_limit, 1)
    for role in _ROLES:
        sends: dict[tuple[int | None, str], list[Chunk]] = {}
        for c in ctx.by(role, "DATA"):
            sends.setdefault((c.tsn, c.dst), []).append(c)
        stuck: dict[str, list[tuple[list[Chunk], list[tuple[str, Chunk]]]]] = {}
        for (_, address), chunks in sends.items():
            alive = ctx.alive(role, chunks[limit - 1].at, address) if len(chunks) >= limit else []
            if alive:
                stuck.setdefault(address, []).append((chunks, alive))
        for address, cases in stuck.items():
            chunks, alive = cases[0]
            more = f"; {len(cases)} TSNs in all" if len(cases) > 1 else ""
            found.append(ctx.finding(
                "no-failover",
                f"{ctx.names[role]} sent TSN {chunks[0].tsn} {len(chunks)} times to {address} ({ctx.at(chunks[0])} "
                f"to {ctx.at(chunks[-1])}) while {_alive(ctx, alive)} confirmed and alive{more}",
                [*chunks, *(ack for _, ack in alive)], [address, *(a for a, _ in alive)]))
    return found


def _abort(ctx: _Context) -> list[Finding]:
    found = []
    for role in _ROLES:
        data = ctx.by(role, "DATA")
        for abort in ctx.by(role, "ABORT"):
            last = next((c for c in reversed(data) if c.at < abort.at), None)
            path = last.dst if last is not None else abort.dst
            alive = ctx.alive(role, abort.at, path)
            if alive:
                found.append(ctx.finding(
                    "abort-with-confirmed-alternative",
                    f"{ctx.names[role]} sent an ABORT to {abort.dst} at {ctx.at(abort)} while {_alive(ctx, alive)} "
                    f"confirmed and had not failed; its last DATA went to {path}",
                    [abort, *([last] if last else []), *(ack for _, ack in alive)], [path, *(a for a, _ in alive)]))
    return found


def _alive(ctx: _Context, alive: list[tuple[str, Chunk]]) -> str:
    listed = ", ".join(f"{address} (HEARTBEAT-ACK at {ctx.at(ack)})" for address, ack in alive)
    return listed + (" was" if len(alive) == 1 else " were")


#: In catalogue order.
_DETECTORS = (_foreign, _single_homed, _init_ack_source, _heartbeat_ack_source, _never_heartbeated,
              _never_confirmed, _no_failover, _abort)
