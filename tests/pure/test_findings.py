"""The findings catalogue: known multihoming misconfigurations found in synthetic pcaps.

The captures mimic the dual-homed topology: the client (198.18.1.1 on
path-a, 198.18.2.1 on path-b, or 2001:db8:1::1 / 2001:db8:2::1) talks to the
server (198.18.1.2 / 198.18.2.2, or 2001:db8:1::2 / 2001:db8:2::2) on port
3868 from port 40000. A packet is written to its sender's file (leaving) and,
unless it is lost, to its receiver's (arriving); each file's packets are
numbered from 1, as Wireshark numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.layers.sctp import (
    SCTP,
    SCTPChunkAbort,
    SCTPChunkCookieAck,
    SCTPChunkCookieEcho,
    SCTPChunkData,
    SCTPChunkHeartbeatAck,
    SCTPChunkHeartbeatReq,
    SCTPChunkInit,
    SCTPChunkInitAck,
    SCTPChunkParamHeartbeatInfo,
    SCTPChunkParamIPv4Addr,
    SCTPChunkParamIPv6Addr,
    SCTPChunkSACK,
    SCTPChunkShutdownComplete,
)
from scapy.packet import Packet
from scapy.utils import wrpcap

from lab.evidence.capture import CapturePoint
from lab.evidence.wire import Wire, WireAssociation
from lab.judge.findings import FINDINGS, Finding, FindingKind, find

T0 = 1_700_000_000.0
HOP = 0.0001
CPORT, SPORT = 40000, 3868
CTAG, STAG = 0x1111, 0x2222  # the tags the client and the server choose

V4 = {"client": ("198.18.1.1", "198.18.2.1"), "server": ("198.18.1.2", "198.18.2.2")}
V6 = {"client": ("2001:db8:1::1", "2001:db8:2::1"), "server": ("2001:db8:1::2", "2001:db8:2::2")}
C_A, C_B = V4["client"]
S_A, S_B = V4["server"]
MAC = {"client": "02:00:00:00:00:01", "server": "02:00:00:00:00:02"}  # given: scapy would resolve them
FOREIGN = "198.19.0.1"  # another of the host's addresses (management, say), not a signalling address


def where_of(node: str, link: str, *frames: int) -> str:
    return f"{link}-{node}.pcap " + ", ".join(f"#{n}" for n in frames)


@dataclass
class Lab:
    """Synthetic captures on both ends of path-a and path-b; ``send`` returns the packet's number per file."""

    directory: Path
    family: dict[str, tuple[str, str]] = field(default_factory=lambda: V4)
    cport: int = CPORT
    sport: int = SPORT
    packets: dict[str, list[Packet]] = field(default_factory=dict)

    def node(self, address: str) -> str:
        return "client" if address in self.family["client"] else "server"

    def link(self, address: str) -> str:
        return "path-a" if address in (self.family["client"][0], self.family["server"][0]) else "path-b"

    def send(self, at: float, src: str, dst: str, *chunks: Packet, arrives: bool = True,
             tag: int | None = None, ports: tuple[int, int] | None = None) -> dict[str, int]:
        client = self.node(src) == "client"
        sport, dport = ports or ((self.cport, self.sport) if client else (self.sport, self.cport))
        if tag is None:  # an INIT carries 0, any other packet the receiver's tag
            tag = 0 if type(chunks[0]) is SCTPChunkInit else STAG if client else CTAG
        sctp: Packet = SCTP(sport=sport, dport=dport, tag=tag)
        for chunk in chunks:
            sctp = sctp / chunk
        ip = IPv6(src=src, dst=dst) if ":" in src else IP(src=src, dst=dst)
        link = self.link(src)
        frames = {}
        for node, when in [(self.node(src), at), *([(self.node(dst), at + HOP)] if arrives else [])]:
            packet = Ether(src=MAC[self.node(src)], dst=MAC[self.node(dst)]) / ip.copy() / sctp.copy()
            packet.time = T0 + when
            name = f"{link}-{node}"
            self.packets.setdefault(name, []).append(packet)
            frames[name] = len(self.packets[name])
        return frames

    def points(self) -> list[CapturePoint]:
        points = []
        for i, link in enumerate(("path-a", "path-b")):
            for node in ("client", "server"):
                local = frozenset({V4[node][i], V6[node][i]})
                points.append(CapturePoint(link, node, "eth0", "ns", self.directory / f"{link}-{node}.pcap", local))
        return points

    def wire(self) -> Wire:
        points = self.points()
        for point in points:
            wrpcap(str(point.path), self.packets.get(point.name, []), linktype=1)
        return Wire.from_points(points)

    def findings(self, **kwargs: int) -> list[Finding]:
        return find(self.wire(), client=self.family["client"], server=self.family["server"], **kwargs)


def params(*addresses: str) -> list[Packet]:
    return [SCTPChunkParamIPv6Addr(addr=a) if ":" in a else SCTPChunkParamIPv4Addr(addr=a) for a in addresses]


def init(*addresses: str, tag: int = CTAG) -> SCTPChunkInit:
    return SCTPChunkInit(init_tag=tag, a_rwnd=65536, n_out_streams=10, n_in_streams=10, init_tsn=1,
                         params=params(*addresses))


def init_ack(*addresses: str, tag: int = STAG) -> SCTPChunkInitAck:
    return SCTPChunkInitAck(init_tag=tag, a_rwnd=65536, n_out_streams=10, n_in_streams=10, init_tsn=1,
                            params=params(*addresses))


def hb(info: str) -> SCTPChunkHeartbeatReq:
    return SCTPChunkHeartbeatReq(params=[SCTPChunkParamHeartbeatInfo(data=info.encode())])


def hb_ack(info: str) -> SCTPChunkHeartbeatAck:
    return SCTPChunkHeartbeatAck(params=[SCTPChunkParamHeartbeatInfo(data=info.encode())])


def data(tsn: int) -> SCTPChunkData:
    return SCTPChunkData(tsn=tsn, stream_id=0, stream_seq=tsn & 0xFFFF, proto_id=0, beginning=1, ending=1, data=b"m")


def sack(tsn: int) -> SCTPChunkSACK:
    return SCTPChunkSACK(cumul_tsn_ack=tsn, a_rwnd=65536)


def handshake(lab: Lab, *, init_params: tuple[str, ...] | None = None, ack_params: tuple[str, ...] | None = None,
              ack_from: str | None = None, at: float = 0.0) -> None:
    """INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK on path-a; by default each lists both of its end's addresses."""
    (c_a, c_b), (s_a, s_b) = lab.family["client"], lab.family["server"]
    lab.send(at, c_a, s_a, init(*(init_params if init_params is not None else (c_a, c_b))))
    source = ack_from or s_a
    lab.send(at + 0.001, source, c_a if source == s_a else c_b,
             init_ack(*(ack_params if ack_params is not None else (s_a, s_b))))
    lab.send(at + 0.002, c_a, s_a, SCTPChunkCookieEcho(cookie=b"c" * 32))
    lab.send(at + 0.003, s_a, c_a, SCTPChunkCookieAck())


def heartbeats(lab: Lab, at: float, *, skip: tuple[str, ...] = ()) -> None:
    """Each end heartbeats each peer address (the one on the same link) and gets the answer from it."""
    for i in range(2):
        for node, peer in (("client", "server"), ("server", "client")):
            src, dst = lab.family[node][i], lab.family[peer][i]
            if dst in skip:
                continue
            info = f"{src}>{dst}"
            lab.send(at, src, dst, hb(info))
            lab.send(at + 0.001, dst, src, hb_ack(info))
            at += 0.01


def healthy(lab: Lab) -> None:
    handshake(lab)
    heartbeats(lab, 0.010)
    (c_a, _), (s_a, _) = lab.family["client"], lab.family["server"]
    for i, at in enumerate((0.100, 2.000), 1):
        lab.send(at, c_a, s_a, data(i))
        lab.send(at + 0.001, s_a, c_a, sack(i))


def ids(findings: list[Finding]) -> list[str]:
    return [f.kind.id for f in findings]


def test_the_catalogue_has_fixed_ids_and_says_what_to_do() -> None:
    assert list(FINDINGS) == [
        "advertised-foreign-address", "single-homed-end", "init-ack-from-other-address",
        "heartbeat-ack-from-other-address", "peer-address-never-heartbeated", "peer-address-never-confirmed",
        "no-failover", "abort-with-confirmed-alternative",
    ]
    for key, kind in FINDINGS.items():
        assert isinstance(kind, FindingKind) and kind.id == key
        assert all([kind.title, kind.explanation, kind.cause, kind.fix, kind.expected])
    with pytest.raises(TypeError):
        FINDINGS["x"] = FINDINGS["no-failover"]  # type: ignore[index]


@pytest.mark.parametrize("family", [V4, V6], ids=["ipv4", "ipv6"])
def test_a_healthy_dual_homed_exchange_has_no_finding(tmp_path: Path, family: dict[str, tuple[str, str]]) -> None:
    lab = Lab(tmp_path, family)
    healthy(lab)
    assert lab.findings() == []
    (association,) = lab.wire().associations()
    assert association.handshake and (association.client_tag, association.server_tag) == (CTAG, STAG)


def test_advertised_foreign_addresses_from_a_wildcard_bind(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab, init_params=(C_A, C_B, FOREIGN), ack_params=(S_A, S_B, "2001:db8:ff::2"))
    heartbeats(lab, 0.010)  # nobody heartbeats the foreign addresses: their paths are not captured, not reported
    foreign, foreign_ack = lab.findings()
    assert foreign.kind.id == foreign_ack.kind.id == "advertised-foreign-address"
    assert foreign.addresses == (FOREIGN,) and foreign_ack.addresses == ("2001:db8:ff::2",)
    assert foreign.where == "path-a-client.pcap #1"  # the INIT, where it left the client
    assert foreign_ack.where == "path-a-server.pcap #2"  # the INIT-ACK, where it left the server
    assert "the client's addresses (198.18.1.1, 198.18.2.1)" in foreign.detail
    check = foreign.check()
    assert (check.name, check.passed, check.where) == ("finding advertised-foreign-address", False, foreign.where)
    assert check.expected == FINDINGS["advertised-foreign-address"].expected and FOREIGN in check.seen
    assert foreign.sentence() == f"advertised-foreign-address: {foreign.detail} (path-a-client.pcap #1)"


def test_single_homed_end_advertises_one_address(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab, ack_params=())  # the server bind()s S_A only
    heartbeats(lab, 0.010, skip=(S_B,))  # so the client knows no S_B
    (finding,) = lab.findings()
    assert finding.kind.id == "single-homed-end"
    assert finding.addresses == (S_A, S_B)  # the one advertised, then the one missing
    assert finding.where == "path-a-server.pcap #2"
    assert "the server advertised only 198.18.1.2 in its INIT-ACK" in finding.detail


def test_init_ack_from_another_address(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab, ack_from=S_B)  # INIT to S_A, INIT-ACK from S_B (to C_B)
    heartbeats(lab, 0.010)
    (finding,) = lab.findings()
    assert finding.kind.id == "init-ack-from-other-address"
    assert finding.addresses == (S_A, S_B)
    assert finding.where == "path-a-client.pcap #1; path-b-server.pcap #1"
    assert "the INIT went to 198.18.1.2 but the INIT-ACK came from 198.18.2.2" in finding.detail


def test_heartbeat_ack_from_another_address_ipv6(tmp_path: Path) -> None:
    lab = Lab(tmp_path, V6)
    (c_a, c_b), (s_a, s_b) = V6["client"], V6["server"]
    handshake(lab)
    lab.send(0.010, c_a, s_a, hb("a"))
    lab.send(0.011, s_a, c_a, hb_ack("a"))
    hb_b = lab.send(0.020, c_b, s_b, hb("b"))
    ack_b = lab.send(0.021, s_a, c_a, hb_ack("b"))  # answers the path-b probe on path-a
    for at, src, dst, info in [(0.03, s_a, c_a, "s-a"), (0.04, s_b, c_b, "s-b")]:  # the server's, answered
        lab.send(at, src, dst, hb(info))
        lab.send(at + 0.001, dst, src, hb_ack(info))
    lab.send(2.0, c_a, s_a, data(1))
    other, unconfirmed = lab.findings()
    assert other.kind.id == "heartbeat-ack-from-other-address"
    assert other.addresses == (s_b, s_a)
    assert other.where == f"path-b-client.pcap #{hb_b['path-b-client']}; path-a-server.pcap #{ack_b['path-a-server']}"
    assert other.where == "path-b-client.pcap #1; path-a-server.pcap #7"
    assert f"HEARTBEATs to {s_b} came from {s_a}" in other.detail
    assert unconfirmed.kind.id == "peer-address-never-confirmed" and unconfirmed.addresses == (s_b,)
    assert f"(answered from {s_a})" in unconfirmed.detail


def test_peer_address_never_heartbeated(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab)
    heartbeats(lab, 0.010, skip=(S_B,))  # the client ignores the server's second address
    (finding,) = lab.findings()
    assert finding.kind.id == "peer-address-never-heartbeated"
    assert finding.addresses == (S_B,)
    assert finding.where == "path-a-server.pcap #2"  # the INIT-ACK that advertised it
    assert "the client never sent a HEARTBEAT or DATA to 198.18.2.2" in finding.detail


def test_peer_address_never_confirmed(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab)
    heartbeats(lab, 0.010, skip=(S_B,))
    for at in (0.1, 0.6, 1.6):
        lab.send(at, C_B, S_B, hb(f"b{at}"), arrives=False)  # path-b does not reach the server
    lab.send(3.0, C_A, S_A, data(1))
    (finding,) = lab.findings()
    assert finding.kind.id == "peer-address-never-confirmed"
    assert finding.addresses == (S_B,)
    assert finding.where == "path-b-client.pcap #3, #4, #5"  # #1, #2: the server's heartbeat and its answer
    assert "the client sent 3 HEARTBEAT(s) to 198.18.2.2" in finding.detail


def test_a_heartbeat_at_the_end_of_the_capture_is_not_yet_unanswered(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab)
    heartbeats(lab, 0.010, skip=(S_B,))
    lab.send(0.5, C_B, S_B, hb("late"), arrives=False)
    lab.send(0.6, C_A, S_A, data(1))  # the capture ends 0.1 s after the heartbeat
    assert lab.findings() == []


def failing_primary(lab: Lab, moves_after: int | None, *, alternative_fails: bool = False) -> list[dict[str, int]]:
    """S_B confirmed by heartbeat, then path-a fails under DATA TSN 5; returns the sends of TSN 5 to S_A."""
    handshake(lab)
    heartbeats(lab, 0.010)
    if alternative_fails:
        lab.send(0.5, C_B, S_B, hb("again"), arrives=False)
    sends = []
    for attempt, at in enumerate((1.0, 2.0, 3.0, 4.0)):
        if moves_after is not None and attempt >= moves_after:
            lab.send(at, C_B, S_B, data(5))
            lab.send(at + 0.001, S_B, C_B, sack(5))
            break
        sends.append(lab.send(at, C_A, S_A, data(5), arrives=False))
    return sends


def test_no_failover_retransmits_to_the_failed_address(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    sends = failing_primary(lab, moves_after=None)
    (finding,) = lab.findings()
    assert finding.kind.id == "no-failover"
    assert finding.addresses == (S_A, S_B)
    frames = ", ".join(f"#{s['path-a-client']}" for s in sends)
    assert finding.where == f"path-a-client.pcap {frames}; path-b-client.pcap #2"  # + the HEARTBEAT-ACK from S_B
    assert finding.where == "path-a-client.pcap #9, #10, #11, #12; path-b-client.pcap #2"
    assert "the client sent TSN 5 4 times to 198.18.1.2" in finding.detail
    assert lab.findings(retransmit_limit=5) == []


def test_failover_after_one_timeout_or_without_a_live_alternative_is_no_finding(tmp_path: Path) -> None:
    lab = Lab(tmp_path / "moves")
    lab.directory.mkdir()
    failing_primary(lab, moves_after=1)
    assert lab.findings() == []
    lab = Lab(tmp_path / "both-fail")
    lab.directory.mkdir()
    failing_primary(lab, moves_after=None, alternative_fails=True)  # S_B's last heartbeat went unanswered
    assert lab.findings() == []


def test_abort_with_a_confirmed_alternative(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab)
    heartbeats(lab, 0.010)
    last = lab.send(0.5, C_A, S_A, data(1))
    abort = lab.send(1.0, C_A, S_A, SCTPChunkAbort())
    (finding,) = lab.findings()
    assert finding.kind.id == "abort-with-confirmed-alternative"
    assert finding.addresses == (S_A, S_B)
    assert finding.where == (f"path-a-client.pcap #{last['path-a-client']}, #{abort['path-a-client']}; "
                             "path-b-client.pcap #2")
    assert "the client sent an ABORT to 198.18.1.2 at +1.000 s while 198.18.2.2" in finding.detail


def test_abort_after_the_alternative_failed_too_is_no_finding(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    handshake(lab)
    heartbeats(lab, 0.010)
    lab.send(0.5, C_A, S_A, data(1))
    lab.send(0.6, C_B, S_B, hb("lost"), arrives=False)
    lab.send(0.7, C_A, S_A, data(1), arrives=False)
    lab.send(0.8, C_A, S_A, data(1), arrives=False)
    lab.send(0.9, C_A, S_A, SCTPChunkAbort())
    assert lab.findings() == []


# --- associations -------------------------------------------------------------


def test_two_associations_on_the_same_ports_one_after_the_other(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    healthy(lab)
    lab.send(2.5, C_A, S_A, SCTPChunkAbort())  # ends the first (while S_B is confirmed: a finding)
    lab.send(3.0, C_A, S_A, init(C_A, C_B, tag=0x3333))
    lab.send(3.001, S_A, C_A, init_ack(tag=0x4444), tag=0x3333)  # the second association's server is single-homed
    lab.send(3.002, C_A, S_A, SCTPChunkCookieEcho(cookie=b"c"), tag=0x4444)
    lab.send(3.003, S_A, C_A, SCTPChunkCookieAck(), tag=0x3333)
    lab.send(3.010, C_A, S_A, data(1), tag=0x4444)
    lab.send(3.011, S_A, C_A, sack(1), tag=0x3333)
    wire = lab.wire()
    first, second = wire.associations()
    assert (first.client_tag, first.server_tag, second.client_tag, second.server_tag) == (CTAG, STAG, 0x3333, 0x4444)
    assert (first.client_port, first.server_port) == (second.client_port, second.server_port) == (CPORT, SPORT)
    assert first.handshake and second.handshake
    assert {c.vtag for c in second.chunks} == {0, 0x3333, 0x4444}
    assert len(first.chunks) + len(second.chunks) == len(wire.chunks)
    assert second.client_addresses == (C_A, C_B) and second.server_addresses == (S_A,)
    part = wire.association(second)
    assert part.files == wire.files and part.senders == wire.senders and part.chunks == list(second.chunks)
    assert part.handshake().init_ack_addresses == (S_A,)
    findings = lab.findings()  # each association judged on its own
    assert ids(findings) == ["abort-with-confirmed-alternative",  # the first association
                             "single-homed-end", "peer-address-never-heartbeated"]  # the second: no S_B, no C_B
    assert findings[1].where == "path-a-server.pcap #15"  # the second INIT-ACK


def test_a_capture_that_starts_mid_association(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.send(0.0, C_A, S_A, data(7))  # no handshake, and the client never heartbeats S_B
    lab.send(0.001, S_A, C_A, sack(7))
    lab.send(0.01, S_B, C_B, hb("s"))
    lab.send(0.011, C_B, S_B, hb_ack("s"))
    for at in (1.0, 2.0, 3.0):
        lab.send(at, S_A, C_A, data(900), arrives=False)
    (association,) = lab.wire().associations()
    assert association == WireAssociation(CPORT, SPORT, CTAG, STAG, False, (C_A, C_B), (S_A, S_B), association.chunks)
    assert len(association.chunks) == 11
    findings = lab.findings()
    assert ids(findings) == ["no-failover"]  # handshake findings need the handshake: none reported
    assert findings[0].addresses == (C_A, C_B) and "the server sent TSN 900 3 times" in findings[0].detail


def test_equal_ports_tell_the_ends_apart_by_tag_and_address(tmp_path: Path) -> None:
    lab = Lab(tmp_path, cport=2905, sport=2905)  # M3UA peers often both use 2905
    lab.send(0.0, S_A, C_A, data(1))  # mid-association: the server speaks first
    lab.send(0.001, C_A, S_A, sack(1))
    lab.send(0.002, C_B, S_B, data(50))
    lab.send(0.003, S_B, C_B, sack(50))
    (association,) = lab.wire().associations()
    assert (association.client_port, association.server_port) == (2905, 2905)
    assert association.client_addresses == (S_A, S_B)  # the first sender counts as the client
    assert (association.client_tag, association.server_tag) == (STAG, CTAG)
    assert [association.sender(c) for c in association.chunks if c.direction == "out"] == [
        "client", "server", "server", "client"]


def test_tbit_chunks_carry_the_senders_own_tag(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    healthy(lab)
    lab.send(2.5, S_A, C_A, SCTPChunkShutdownComplete(TCB=1), tag=STAG)  # reflected: the server's own tag
    lab.send(2.6, C_A, S_A, SCTPChunkAbort(TCB=1), tag=CTAG)
    wire = lab.wire()
    (association,) = wire.associations()
    tbits = [c for c in association.chunks if c.t_bit]
    assert len(tbits) == 4 and {association.sender(c) for c in tbits} == {"client", "server"}


def test_where_groups_packet_numbers_per_file(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    for i in range(12):
        lab.send(i * 0.1, C_A, S_A, data(i), data(i + 100))  # two chunks in one packet: one number
    wire = lab.wire()
    out = [c for c in wire.chunks if c.direction == "out"]
    assert wire.where(out[:4]) == "path-a-client.pcap #1, #2"
    assert wire.where(out) == "path-a-client.pcap #1, #2, #3, #4, #5, #6, #7, #8, ... (12 packets)"
    assert wire.where(wire.chunks[:6]) == "path-a-client.pcap #1, #2; path-a-server.pcap #1"  # per file
    assert wire.where([]) == ""
    assert Wire(out[:1]).where(out[:1]) == "path-a-client.pcap #1"  # no files known: the point's name


def test_the_scenario_files_know_every_finding_of_the_catalogue() -> None:
    from lab.judge.findings import FINDINGS
    from lab.model.expect import FINDING_IDS

    assert tuple(FINDINGS) == FINDING_IDS
