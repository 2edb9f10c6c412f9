"""Wire evidence: dissecting synthetic pcaps, and the pure parts of the capture module.

The synthetic captures mimic the dual-homed topology: both ends of path-a
(198.18.1.1 client, 198.18.1.2 server) and path-b (198.18.2.1 / 198.18.2.2)
each write a file; a packet crossing a link is written to the sender's file
(leaving) and, unless the scenario loses it, to the receiver's (arriving).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
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
    SCTPChunkShutdown,
    SCTPChunkShutdownAck,
    SCTPChunkShutdownComplete,
)
from scapy.packet import Packet, Raw
from scapy.utils import PcapReader, wrpcap

from lab.errors import KernelError, LabError
from lab.evidence.capture import (
    CapturePoint,
    Captures,
    CaptureStats,
    UNKNOWN_DROPS,
    capture,
    capture_points,
    parse_statistics,
    tcpdump_argv,
)
from lab.evidence.wire import Chunk, Handshake, HeartbeatCount, Wire, read_capture
from lab.kernel.network import Network
from lab.model import load_topology

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"
T0 = 1_700_000_000.0  # pcap timestamps are wall clock
HOP = 0.0001  # a packet arrives this long after it left

C_A, S_A, C_B, S_B = "198.18.1.1", "198.18.1.2", "198.18.2.1", "198.18.2.2"
LINK_OF = {C_A: "path-a", S_A: "path-a", C_B: "path-b", S_B: "path-b"}
NODE_OF = {C_A: "client", C_B: "client", S_A: "server", S_B: "server"}


def hb() -> SCTPChunkHeartbeatReq:
    return SCTPChunkHeartbeatReq(params=[SCTPChunkParamHeartbeatInfo(data=b"hbinfo")])


def hb_ack() -> SCTPChunkHeartbeatAck:
    return SCTPChunkHeartbeatAck(params=[SCTPChunkParamHeartbeatInfo(data=b"hbinfo")])


def data(tsn: int) -> SCTPChunkData:
    return SCTPChunkData(tsn=tsn, stream_id=0, stream_seq=tsn & 0xFFFF, proto_id=0, beginning=1, ending=1, data=b"m")


@dataclass
class Lab:
    """Writes synthetic captures for the four link ends of the dual-homed topology."""

    directory: Path
    packets: dict[str, list[Packet]] = field(default_factory=dict)

    def point(self, link: str, node: str) -> CapturePoint:
        local = {(C_A if link == "path-a" else C_B) if node == "client" else (S_A if link == "path-a" else S_B)}
        return CapturePoint(link, node, "eth0-t", "ns", self.directory / f"{link}-{node}.pcap", frozenset(local))

    @property
    def points(self) -> list[CapturePoint]:
        return [self.point(link, node) for link in ("path-a", "path-b") for node in ("client", "server")]

    def send(self, at: float, src: str, dst: str, *chunks: Packet, arrives: bool = True, tag: int = 1) -> None:
        """A packet src->dst seen leaving src's link end and (if ``arrives``) arriving at dst's."""
        link = LINK_OF[src]
        ports = (5000, 6000) if NODE_OF[src] == "client" else (6000, 5000)
        sctp: Packet = SCTP(sport=ports[0], dport=ports[1], tag=tag)
        for chunk in chunks:
            sctp = sctp / chunk
        ends = [(f"{link}-{NODE_OF[src]}", at)]
        if arrives:
            ends.append((f"{link}-{NODE_OF[dst]}", at + HOP))
        for name, when in ends:
            packet = Ether() / IP(src=src, dst=dst) / sctp.copy()
            packet.time = T0 + when
            self.packets.setdefault(name, []).append(packet)

    def add(self, name: str, at: float, packet: Packet) -> None:
        packet.time = T0 + at
        self.packets.setdefault(name, []).append(packet)

    def write(self) -> list[CapturePoint]:
        for point in self.points:
            wrpcap(str(point.path), self.packets.get(point.name, []), linktype=1)
        return self.points


def failover_scenario(directory: Path) -> Lab:
    """Handshake on path-a, data, heartbeats on both paths, path-a fails, data moves to path-b, ABORT."""
    lab = Lab(directory)
    init = SCTPChunkInit(
        init_tag=0x1111,
        a_rwnd=65536,
        n_out_streams=10,
        n_in_streams=10,
        init_tsn=100,
        params=[
            SCTPChunkParamIPv4Addr(addr=C_A),
            SCTPChunkParamIPv4Addr(addr=C_B),
            SCTPChunkParamIPv6Addr(addr="2001:db8:0:0::1"),  # written uncompressed: read back canonical
        ],
    )
    init_ack = SCTPChunkInitAck(  # lists only the second address: the IP source counts too
        init_tag=0x2222, a_rwnd=65536, n_out_streams=10, n_in_streams=10, init_tsn=500,
        params=[SCTPChunkParamIPv4Addr(addr=S_B)],
    )
    lab.send(0.000, C_A, S_A, init, tag=0)
    lab.send(0.001, S_A, C_A, init_ack, tag=0x1111)
    lab.send(0.002, C_A, S_A, SCTPChunkCookieEcho(cookie=b"c" * 32), data(100), tag=0x2222)
    lab.send(0.003, S_A, C_A, SCTPChunkCookieAck(), SCTPChunkSACK(cumul_tsn_ack=100, a_rwnd=65536), tag=0x1111)
    lab.send(0.010, C_A, S_A, data(101), data(102))
    lab.send(0.011, S_A, C_A, SCTPChunkSACK(cumul_tsn_ack=102, a_rwnd=65536))
    # heartbeats confirm every path, in both directions
    lab.send(0.020, C_A, S_A, hb())
    lab.send(0.021, S_A, C_A, hb_ack())
    lab.send(0.022, C_B, S_B, hb())
    lab.send(0.023, S_B, C_B, hb_ack())
    lab.send(0.024, S_B, C_B, hb())
    lab.send(0.025, C_B, S_B, hb_ack())
    # not SCTP: skipped
    lab.add("path-a-client", 0.030, Ether() / IP(src=C_A, dst=S_A) / UDP(sport=1, dport=2) / b"x")
    # path-a fails (dropped on the receiver side: seen leaving, never arriving)
    lab.send(0.100, C_A, S_A, data(103), arrives=False)
    lab.send(0.150, C_A, S_A, hb(), arrives=False)
    lab.send(0.300, C_A, S_A, hb(), arrives=False)
    # T3 expiry: 103 retransmitted on path-b, then new data there
    lab.send(0.400, C_B, S_B, data(103))
    lab.send(0.401, S_B, C_B, SCTPChunkSACK(cumul_tsn_ack=103, a_rwnd=65536))
    lab.send(0.410, C_B, S_B, data(104))
    lab.send(0.411, S_B, C_B, SCTPChunkSACK(cumul_tsn_ack=104, a_rwnd=65536))
    lab.send(0.900, S_B, C_B, SCTPChunkAbort())
    return lab


@pytest.fixture
def wire(tmp_path: Path) -> Wire:
    return Wire.from_points(failover_scenario(tmp_path).write())


def test_every_chunk_of_every_packet_is_read_with_direction(tmp_path: Path) -> None:
    points = failover_scenario(tmp_path).write()
    client_a = read_capture(points[0])
    assert points[0].name == "path-a-client"
    kinds = [c.kind for c in client_a]
    assert kinds[:6] == ["INIT", "INIT-ACK", "COOKIE-ECHO", "DATA", "COOKIE-ACK", "SACK"]  # bundles split
    assert "HEARTBEAT-ACK" in kinds and "HEARTBEAT" in kinds  # the Ack is not mistaken for a request
    init = client_a[0]
    assert init == Chunk(
        at=pytest.approx(T0),  # type: ignore[arg-type]
        point="path-a-client",
        direction="out",
        src=C_A,
        dst=S_A,
        kind="INIT",
        tsn=None,
        cum_tsn=None,
        addresses=(C_A, C_B, "2001:db8::1"),
        frame=1,
        sport=5000,
        dport=6000,
        vtag=0,
        init_tag=0x1111,
    )
    assert client_a[1].direction == "in" and client_a[1].addresses == (S_B,)
    assert (client_a[1].frame, client_a[1].vtag, client_a[1].init_tag, client_a[1].sport) == (2, 0x1111, 0x2222, 6000)
    assert [c.tsn for c in client_a if c.kind == "DATA"] == [100, 101, 102, 103]
    assert [c.cum_tsn for c in client_a if c.kind == "SACK"] == [100, 102]
    assert all(c.tsn is None for c in client_a if c.kind != "DATA")
    assert all(isinstance(c.at, float) for c in client_a)


def test_frames_number_every_packet_of_a_file_from_one(tmp_path: Path) -> None:
    points = failover_scenario(tmp_path).write()
    client_a = read_capture(points[0])
    # bundled chunks share their packet's number; the UDP packet (#9) has a number but no chunk
    assert [(c.frame, c.kind) for c in client_a[:6]] == [
        (1, "INIT"), (2, "INIT-ACK"), (3, "COOKIE-ECHO"), (3, "DATA"), (4, "COOKIE-ACK"), (4, "SACK")]
    assert [c.frame for c in client_a if c.kind == "HEARTBEAT"] == [7, 11, 12]
    assert 9 not in {c.frame for c in client_a} and max(c.frame for c in client_a) == 12
    server_b = read_capture(points[3])
    assert [(c.frame, c.kind, c.direction) for c in server_b[:2]] == [
        (1, "HEARTBEAT", "in"), (2, "HEARTBEAT-ACK", "out")]


def test_heartbeat_info_matches_a_heartbeat_to_its_ack_and_tbit_is_read(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.send(0.0, C_A, S_A, hb())
    lab.send(0.1, S_A, C_A, hb_ack())
    lab.send(0.2, C_A, S_A, SCTPChunkHeartbeatReq(params=[SCTPChunkParamHeartbeatInfo(data=b"other")]))
    lab.send(0.3, C_A, S_A, SCTPChunkAbort(TCB=1), tag=7)
    lab.send(0.4, C_A, S_A, SCTPChunkAbort())
    request, answer, other, reflected, plain = read_capture(lab.write()[0])
    assert request.hb_info is not None and request.hb_info == answer.hb_info != other.hb_info
    assert len(request.hb_info) == 8 and (request.sport, request.dport, request.vtag) == (5000, 6000, 1)
    assert (reflected.t_bit, reflected.vtag, plain.t_bit) == (True, 7, False)
    assert all(c.hb_info is None for c in (reflected, plain))


def test_wire_knows_each_points_file(wire: Wire, tmp_path: Path) -> None:
    assert wire.files == {name: str(tmp_path / f"{name}.pcap")
                          for name in ("path-a-client", "path-a-server", "path-b-client", "path-b-server")}
    (abort,) = wire.aborts()
    assert wire.where([abort]) == "path-b-server.pcap #9"
    assert wire.where(wire.data(C_A, S_A, direction="out")) == "path-a-client.pcap #3, #5, #10"


def test_chunks_are_sorted_by_time_across_points(wire: Wire) -> None:
    times = [c.at for c in wire.chunks]
    assert times == sorted(times)
    assert {c.point for c in wire.chunks} == {"path-a-client", "path-a-server", "path-b-client", "path-b-server"}


def test_handshake_counts_each_packet_once_at_its_sender(wire: Wire) -> None:
    shake = wire.handshake()
    assert shake == Handshake(
        init_src=C_A,
        init_addresses=(C_A, C_B, "2001:db8::1"),
        init_ack_src=S_A,
        init_ack_addresses=(S_A, S_B),  # the source address is a transport address even when not listed
        cookie_echo=True,
        cookie_ack=True,
    )
    assert shake.complete
    assert len([c for c in wire.chunks if c.kind == "INIT"]) == 2  # captured at both ends ...
    assert len([c for c in wire.chunks if c.kind == "INIT" and c.direction == "out"]) == 1  # ... sent once


def test_handshake_without_cookie_ack_or_without_init(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.send(0.0, C_A, S_A, SCTPChunkInit(init_tag=1, a_rwnd=1, n_out_streams=1, n_in_streams=1, init_tsn=1))
    lab.send(0.1, S_A, C_A, SCTPChunkInitAck(init_tag=2, a_rwnd=1, n_out_streams=1, n_in_streams=1, init_tsn=1))
    lab.send(0.2, C_A, S_A, SCTPChunkCookieEcho(cookie=b"c"), arrives=False)
    shake = Wire.from_points(lab.write()).handshake()
    assert (shake.init_src, shake.init_addresses, shake.init_ack_addresses) == (C_A, (C_A,), (S_A,))
    assert shake.cookie_echo and not shake.cookie_ack and not shake.complete
    empty = Wire([]).handshake()
    assert empty == Handshake(None, (), None, (), False, False)


def test_handshake_reports_the_first_association(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    for start, (client, server) in ((0.0, (C_B, S_B)), (1.0, (C_A, S_A))):
        lab.send(start, client, server, SCTPChunkInit(init_tag=1, a_rwnd=1, n_out_streams=1, n_in_streams=1, init_tsn=1))
        lab.send(start + 0.1, server, client, SCTPChunkInitAck(init_tag=2, a_rwnd=1, n_out_streams=1, n_in_streams=1, init_tsn=1))
    shake = Wire.from_points(lab.write()).handshake()
    assert (shake.init_src, shake.init_ack_src, shake.cookie_echo) == (C_B, S_B, False)


def test_heartbeat_matrix_counts_sent_at_sender_and_acks_arriving(wire: Wire) -> None:
    assert wire.heartbeat_matrix() == {
        (C_A, S_A): HeartbeatCount(sent=3, acked=1),  # two went unanswered after path-a failed
        (C_B, S_B): HeartbeatCount(sent=1, acked=1),
        (S_B, C_B): HeartbeatCount(sent=1, acked=1),
    }
    assert wire.heartbeat_matrix()[(C_A, S_A)].unanswered == 2


def test_heartbeat_ack_sent_but_lost_is_not_acked(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.send(0.0, C_A, S_A, hb())
    lab.send(0.1, S_A, C_A, hb_ack(), arrives=False)  # left the server, never reached the client
    assert Wire.from_points(lab.write()).heartbeat_matrix() == {(C_A, S_A): HeartbeatCount(sent=1, acked=0)}


def test_data_by_path_and_direction(wire: Wire) -> None:
    arrived = wire.data()
    assert [(c.src, c.tsn) for c in arrived] == [(C_A, 100), (C_A, 101), (C_A, 102), (C_B, 103), (C_B, 104)]
    assert all(c.direction == "in" and c.point.endswith("-server") for c in arrived)
    assert [c.tsn for c in wire.data(C_A, S_A)] == [100, 101, 102]  # 103 never arrived on path-a
    assert [c.tsn for c in wire.data(C_A, S_A, direction="out")] == [100, 101, 102, 103]
    assert [c.tsn for c in wire.data(dst=S_B)] == [103, 104]
    assert wire.data(S_A, C_A) == []


def test_retransmission_is_a_tsn_leaving_its_sender_twice(wire: Wire) -> None:
    (again,) = wire.retransmissions()
    assert (again.tsn, again.src, again.dst, again.point) == (103, C_B, S_B, "path-b-client")


def test_retransmissions_keep_the_two_endpoints_tsn_spaces_apart(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    lab.send(0.0, C_A, S_A, data(7))
    lab.send(0.1, S_B, C_B, data(7))  # the server's TSN 7 is another chunk
    assert Wire.from_points(lab.write()).retransmissions() == []


def test_first_and_last_data_around_a_fault(wire: Wire) -> None:
    fault = T0 + 0.05
    last = wire.last_data(C_A, S_A, before=fault)
    first = wire.first_data(C_B, S_B, after=fault)
    assert last is not None and first is not None
    assert (last.tsn, first.tsn) == (102, 103)
    assert first.at - last.at == pytest.approx(0.39, abs=1e-3)
    assert wire.first_data(C_A, S_A, after=fault) is None  # nothing arrived on path-a after the fault
    sent = wire.first_data(C_A, S_A, after=fault, direction="out")
    assert sent is not None and sent.tsn == 103
    assert wire.last_data(C_B, S_B, before=T0) is None


def test_aborts_and_shutdowns(wire: Wire, tmp_path: Path) -> None:
    (abort,) = wire.aborts()
    assert (abort.kind, abort.src, abort.point) == ("ABORT", S_B, "path-b-server")
    assert len(wire.aborts(direction="in")) == 1
    assert wire.shutdowns() == []
    lab = Lab(tmp_path / "shutdown")
    lab.directory.mkdir()
    lab.send(0.0, C_A, S_A, SCTPChunkShutdown(cumul_tsn_ack=5))
    lab.send(0.1, S_A, C_A, SCTPChunkShutdownAck())
    lab.send(0.2, C_A, S_A, SCTPChunkShutdownComplete())
    closed = Wire.from_points(lab.write())
    assert [(c.kind, c.src) for c in closed.shutdowns()] == [
        ("SHUTDOWN", C_A),
        ("SHUTDOWN-ACK", S_A),
        ("SHUTDOWN-COMPLETE", C_A),
    ]
    assert closed.aborts() == []


def test_ipv6_packets_and_address_parameters(tmp_path: Path) -> None:
    path = tmp_path / "v6-client.pcap"
    init = SCTPChunkInit(
        init_tag=1, a_rwnd=1, n_out_streams=1, n_in_streams=1, init_tsn=1,
        params=[SCTPChunkParamIPv6Addr(addr="2001:db8:1::1"), SCTPChunkParamIPv6Addr(addr="2001:db8:2::1")],
    )
    out = Ether() / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2") / SCTP(sport=1, dport=2) / init
    back = Ether() / IPv6(src="2001:db8:1::2", dst="2001:db8:1::1") / SCTP(sport=2, dport=1) / data(9)
    out.time, back.time = T0, T0 + 1
    wrpcap(str(path), [out, back])
    point = CapturePoint("v6", "client", "eth0", "ns", path, frozenset({"2001:DB8:1:0::1"}))  # any spelling
    chunks = read_capture(point)
    assert [(c.kind, c.direction, c.src, c.tsn) for c in chunks] == [
        ("INIT", "out", "2001:db8:1::1", None),
        ("DATA", "in", "2001:db8:1::2", 9),
    ]
    assert chunks[0].addresses == ("2001:db8:1::1", "2001:db8:2::1")


def test_malformed_and_truncated_packets_do_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "bad-client.pcap"
    good = Ether() / IP(src=C_A, dst=S_A) / SCTP(sport=1, dport=2) / data(1)
    whole = bytes(good)
    packets: list[Packet] = [
        Ether(whole[: len(whole) - 10]),  # DATA chunk cut short
        Ether() / IP(src=C_A, dst=S_A, proto=132) / Raw(b"\x01\x02\x03"),  # SCTP header cut short
        Ether() / IP(src=C_A, dst=S_A) / SCTP(sport=1, dport=2) / Raw(b"\x00\x03\xff\xff" + b"\x00" * 3),  # bad length
        Ether() / IP(src=C_A, dst=S_A) / SCTP(sport=1, dport=2) / Raw(b"\x63\x00\x00\x08abcd"),  # unknown chunk type
        Raw(b"\x00" * 5),  # not even an Ethernet header
        good,
    ]
    for i, packet in enumerate(packets):
        packet.time = T0 + i
    wrpcap(str(path), packets, linktype=1)
    point = CapturePoint("bad", "client", "eth0", "ns", path, frozenset({C_A}))
    chunks = read_capture(point)
    assert chunks[-1].kind == "DATA" and chunks[-1].tsn == 1 and chunks[-1].at == pytest.approx(T0 + 5)
    assert [c.kind for c in chunks] == ["DATA"]  # every malformed packet was skipped, none crashed
    # a file whose last record was cut off (tcpdump killed mid-write) still reads up to the cut
    cut = tmp_path / "cut-client.pcap"
    cut.write_bytes(path.read_bytes()[:-2])  # inside the DATA chunk's padded payload
    assert [(c.kind, c.tsn) for c in read_capture(CapturePoint("cut", "client", "e", "ns", cut, frozenset({C_A})))] == [
        ("DATA", 1)
    ]
    cut.write_bytes(path.read_bytes()[:-20])  # the whole DATA chunk is gone
    assert read_capture(CapturePoint("cut", "client", "e", "ns", cut, frozenset({C_A}))) == []


def test_missing_empty_or_foreign_files_raise_lab_errors(tmp_path: Path) -> None:
    point = CapturePoint("x", "client", "eth0", "ns", tmp_path / "x-client.pcap", frozenset({C_A}))
    with pytest.raises(LabError, match="capture x-client: cannot read"):
        read_capture(point)
    point.path.write_bytes(b"")
    with pytest.raises(LabError, match="x-client"):
        read_capture(point)
    point.path.write_bytes(b"not a pcap file at all")
    with pytest.raises(LabError, match="x-client"):
        read_capture(point)


def test_synthetic_files_are_plain_pcaps(tmp_path: Path) -> None:
    points = failover_scenario(tmp_path).write()
    with PcapReader(str(points[0].path)) as reader:
        assert reader.linktype == 1


# --- capture.py, pure parts ------------------------------------------------

CLOSING = """\
tcpdump: listening on eth0-abc123, link-type EN10MB (Ethernet), snapshot length 262144 bytes
^C
1234 packets captured
1240 packets received by filter
3 packets dropped by kernel
"""


def test_parse_statistics_reads_tcpdumps_closing_lines() -> None:
    assert parse_statistics(CLOSING) == CaptureStats(captured=1234, received=1240, dropped=3)
    singular = "1 packet captured\n1 packet received by filter\n0 packets dropped by kernel\n2 packets dropped by interface\n"
    assert parse_statistics(singular) == CaptureStats(captured=1, received=1, dropped=0, if_dropped=2)


def test_parse_statistics_without_closing_lines_is_none() -> None:
    assert parse_statistics("tcpdump: listening on eth0, link-type EN10MB (Ethernet)\n") is None
    assert parse_statistics("") is None


def dual_homed() -> Network:
    return Network(topology=load_topology(TOPOLOGIES / "dual-homed.yaml"), tag="abc123")


def test_capture_points_cover_both_ends_of_every_link(tmp_path: Path) -> None:
    points = capture_points(dual_homed(), tmp_path)
    assert [p.name for p in points] == ["path-a-client", "path-a-server", "path-b-client", "path-b-server"]
    first = points[0]
    assert first == CapturePoint(
        link="path-a",
        node="client",
        ifname="eth0-abc123",
        netns="sctplab-abc123-client",
        path=tmp_path / "path-a-client.pcap",
        local=frozenset({"198.18.1.1"}),
    )
    assert [p.name for p in capture_points(dual_homed(), tmp_path, ["path-b"])] == ["path-b-client", "path-b-server"]
    with pytest.raises(KernelError, match="no link 'path-z'"):
        capture_points(dual_homed(), tmp_path, ["path-z"])


def test_tcpdump_argv_runs_in_the_namespace_without_a_shell(tmp_path: Path) -> None:
    point = capture_points(dual_homed(), tmp_path)[3]
    assert tcpdump_argv(point, nsenter="/usr/bin/nsenter", tcpdump="/usr/bin/tcpdump") == [
        "/usr/bin/nsenter",
        "--net=/run/netns/sctplab-abc123-server",
        "/usr/bin/tcpdump",
        "-i",
        "eth1-abc123",
        "--immediate-mode",
        "-U",
        "-n",
        "-w",
        str(tmp_path / "path-b-server.pcap"),
        "sctp",
    ]


def test_captures_complete_and_clock_conversion(tmp_path: Path) -> None:
    points = capture_points(dual_homed(), tmp_path, ["path-a"])
    captures = Captures(points=points, clock_offset=1000.0)
    assert not captures.complete  # not stopped yet
    captures.dropped = {points[0].path: 0, points[1].path: 0}
    assert captures.complete
    captures.dropped[points[1].path] = UNKNOWN_DROPS
    assert not captures.complete
    assert captures.to_wall(5.0) == 1005.0 and captures.to_monotonic(1005.0) == 5.0


def test_missing_tcpdump_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "tcpdump" else real(name))
    with pytest.raises(KernelError, match="install the tcpdump package"):
        with capture(dual_homed(), tmp_path / "never"):
            pytest.fail("the body must not run")
    assert not (tmp_path / "never").exists()  # nothing was started or written
