"""Kernel tier: tcpdump on every link end, owned and stopped whatever happens.

These need only namespaces and veth (the SCTP packets below are hand-made
and sent on a raw socket), so they also run on kernels without SCTP.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
from scapy.layers.sctp import SCTP, SCTPChunkInit, SCTPChunkParamIPv4Addr
from scapy.utils import PcapReader

from lab.errors import KernelError
from lab.evidence.capture import capture
from lab.evidence.wire import Wire
from lab.kernel.network import Network
from lab.wait import wait_until

pytestmark = [pytest.mark.kernel("netns", "veth"), pytest.mark.topology("dual-homed")]


def _tcpdumps(tag: str) -> list[str]:
    """Command lines of live tcpdump processes capturing in this run's namespaces."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:  # exited meanwhile
            continue
        line = b" ".join(argv).decode(errors="replace")
        if "tcpdump" in line and tag in line:
            found.append(f"{entry}: {line}")
    return found


def test_capture_without_traffic_writes_valid_pcaps_and_stops(lab_network: Network, tmp_path: Path) -> None:
    net = lab_network
    with capture(net, tmp_path) as captures:
        assert [p.name for p in captures.points] == ["path-a-client", "path-a-server", "path-b-client", "path-b-server"]
        assert len(_tcpdumps(net.tag)) == 4
    assert _tcpdumps(net.tag) == []
    for point in captures.points:
        assert point.path == tmp_path / f"{point.name}.pcap"
        with PcapReader(str(point.path)) as reader:
            assert reader.linktype == 1  # Ethernet
            assert list(reader) == []
    assert captures.dropped == {p.path: 0 for p in captures.points}
    assert captures.complete
    assert all(stats.captured == 0 for stats in captures.stats.values())


def test_packets_sent_during_capture_are_in_the_files(lab_network: Network, tmp_path: Path) -> None:
    """Hand-made INITs on a raw socket (no SCTP module needed) land in both ends' files, even the last one."""
    net = lab_network
    server_a = str(net.address("path-a", "server"))
    init = SCTP(sport=5000, dport=6000, tag=0) / SCTPChunkInit(
        init_tag=0x1234, a_rwnd=65536, n_out_streams=1, n_in_streams=1, init_tsn=1,
        params=[SCTPChunkParamIPv4Addr(addr=str(net.address("path-b", "client")))],
    )
    with capture(net, tmp_path, links=["path-a"]) as captures:
        with net.entered("server"):
            listener = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_SCTP)
        with net.entered("client"):
            sender = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_SCTP)
        with listener, sender:
            listener.settimeout(5.0)
            for _ in range(3):
                sender.sendto(bytes(init), (server_a, 0))
            for _ in range(3):  # delivered to the server's IP layer, so past its capture tap
                listener.recv(2048)
        # stop at once: packets handed to tcpdump must reach the files (needs --immediate-mode)
    assert captures.complete
    assert [p.name for p in captures.points] == ["path-a-client", "path-a-server"]
    wire = Wire.from_points(captures.points)
    seen = [(c.point, c.direction, c.kind) for c in wire.chunks if c.kind == "INIT"]
    assert seen.count(("path-a-client", "out", "INIT")) == 3
    assert seen.count(("path-a-server", "in", "INIT")) == 3
    shake = wire.handshake()
    assert shake.init_src == str(net.address("path-a", "client"))
    assert shake.init_addresses == (str(net.address("path-a", "client")), str(net.address("path-b", "client")))
    assert captures.stats[captures.points[0].path].captured >= 3


def test_interrupt_in_the_body_still_stops_every_tcpdump(lab_network: Network, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with capture(lab_network, tmp_path) as captures:
            raise KeyboardInterrupt
    assert _tcpdumps(lab_network.tag) == []
    assert captures.dropped == {p.path: 0 for p in captures.points}  # stopped cleanly, statistics read


def test_tcpdump_that_exits_early_is_a_kernel_error_with_its_stderr(lab_network: Network, tmp_path: Path) -> None:
    ghost = Network(topology=lab_network.topology, tag="0dead0")  # its namespaces do not exist
    with pytest.raises(KernelError) as caught:
        with capture(ghost, tmp_path, ready_timeout=5.0):
            pytest.fail("the body must not run")
    message = str(caught.value)
    assert "tcpdump exited with status" in message
    assert "/run/netns/sctplab-0dead0-" in message  # the argv
    assert "nsenter" in message  # its stderr
    assert _tcpdumps("0dead0") == []


def test_tcpdump_killed_while_capturing_is_reported(lab_network: Network, tmp_path: Path) -> None:
    with pytest.raises(KernelError, match="path-b-server: tcpdump exited with status"):
        with capture(lab_network, tmp_path) as captures:
            (victim,) = [line for line in _tcpdumps(lab_network.tag) if "path-b-server.pcap" in line]
            pid = int(victim.split(":")[0])
            os.kill(pid, signal.SIGKILL)
            wait_until(lambda: not any(line.startswith(f"{pid}:") for line in _tcpdumps(lab_network.tag)),
                       timeout=5.0, what=f"tcpdump {pid} to die")
    assert _tcpdumps(lab_network.tag) == []
    assert captures.dropped[tmp_path / "path-b-server.pcap"] == -1  # no statistics: incomplete
    assert captures.dropped[tmp_path / "path-a-client.pcap"] == 0
