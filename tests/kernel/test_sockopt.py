"""Kernel tier: the raw SCTP socket options of lab.sctp.sockopt against a live association.

Options are read and written on the pair's sockets only (their receive
threads own reading), through pysctp's ``sock()``; send()/receive() run on
one-to-one sockets of the test's own, so nothing races the endpoints' readers.
"""

from __future__ import annotations

import errno
import socket
from contextlib import ExitStack
from typing import Iterator

import pytest
import sctp

from lab.errors import KernelError
from lab.kernel.network import Network
from lab.sctp import sockopt, structs
from lab.sctp.endpoint import Endpoint
from lab.sctp.pair import DEFAULT_PORT, EndpointPair

pytestmark = [pytest.mark.kernel, pytest.mark.topology("dual-homed")]

PORT = 2905  # not the pair's 3868
TIMEOUT = 10.0  # s; a local association answers in milliseconds


def _client_view(pair: EndpointPair) -> list[tuple[str, int]]:
    return [(str(a), pair.client.server_port) for a in pair.server.addresses]


def _server_view(pair: EndpointPair) -> list[tuple[str, int]]:
    return [(str(a), pair.server.peer_port) for a in pair.client.addresses]


def _raw(endpoint: Endpoint) -> socket.socket:
    """The socket under the endpoint's pysctp wrapper."""
    assert endpoint.sock is not None
    raw: socket.socket = endpoint.sock.sock()
    return raw


def _stable_info(endpoint: Endpoint, addr: str, port: int) -> tuple[structs.PeerAddrInfo, object]:
    """Ours and pysctp's paddrinfo read between two equal reads of ours (a heartbeat may land in between)."""
    for _ in range(50):
        before = sockopt.peer_addr_info(_raw(endpoint), 0, addr, port)
        theirs = endpoint.sock.get_paddrinfo(0, (addr, port))  # type: ignore[union-attr]
        after = sockopt.peer_addr_info(_raw(endpoint), 0, addr, port)
        if before == after:
            return before, theirs
    raise AssertionError(f"paddrinfo of {addr} never stable for two reads")


def test_peer_addr_info_agrees_with_pysctp(sctp_pair: EndpointPair) -> None:
    pair = sctp_pair
    pair.wait_all_paths_active()
    for endpoint, peers in ((pair.client, _client_view(pair)), (pair.server, _server_view(pair))):
        for addr, port in peers:
            ours, theirs = _stable_info(endpoint, addr, port)
            assert (ours.address, ours.port) == (addr, port)
            assert (ours.state, ours.cwnd, ours.srtt_ms, ours.rto_ms, ours.mtu) == (
                theirs.state, theirs.cwnd, theirs.srtt, theirs.rto, theirs.mtu)  # type: ignore[attr-defined]
            assert ours.state_name == "ACTIVE" and ours.mtu >= 1280 and ours.rto_ms > 0
            via_endpoint = endpoint.path_info(addr)
            assert (via_endpoint.address, via_endpoint.port, via_endpoint.state_name) == (addr, port, "ACTIVE")


def test_unknown_peer_address_names_option_and_errno(sctp_pair: EndpointPair) -> None:
    with pytest.raises(sockopt.SockoptError) as caught:
        sockopt.peer_addr_info(_raw(sctp_pair.client), 0, "198.51.100.1", DEFAULT_PORT)
    err = caught.value
    assert isinstance(err, KernelError)
    assert err.option == "SCTP_GET_PEER_ADDR_INFO" and err.errno in (errno.EINVAL, errno.ENOENT)
    assert "SCTP_GET_PEER_ADDR_INFO" in str(err) and errno.errorcode[err.errno] in str(err)


def test_status_primary_is_the_first_server_address(sctp_pair: EndpointPair) -> None:
    pair = sctp_pair
    st = sockopt.status(_raw(pair.client))
    theirs = pair.client.sock.get_status()  # type: ignore[union-attr]
    assert st.state_name == "ESTABLISHED"
    assert (st.primary.address, st.primary.port) == (str(pair.server.addresses[0]), DEFAULT_PORT)
    assert (st.instrms, st.outstrms, st.fragmentation_point) == (theirs.instrms, theirs.outstrms,
                                                                   theirs.fragmentation_point)
    assert st.primary.address == theirs.primary.sockaddr[0] == pair.client.primary()


def test_heartbeat_interval_round_trips(sctp_pair: EndpointPair) -> None:
    pair = sctp_pair
    sock = _raw(pair.client)
    (first, port), (second, _) = _client_view(pair)
    untouched = sockopt.get_peer_addr_params(sock, 0, first, port)
    assert untouched.hbinterval_ms == pair.profile.hb_interval and untouched.heartbeat_enabled

    sockopt.set_heartbeat(sock, 0, second, port, interval_ms=1500)
    params = sockopt.get_peer_addr_params(sock, 0, second, port)
    assert (params.address, params.port, params.hbinterval_ms, params.heartbeat_enabled) == (second, port, 1500, True)
    assert sockopt.get_peer_addr_params(sock, 0, first, port) == untouched

    sockopt.set_heartbeat(sock, 0, second, port, enable=False)
    off = sockopt.get_peer_addr_params(sock, 0, second, port)
    assert not off.heartbeat_enabled and off.flags & structs.SPP_HB_DISABLE and off.hbinterval_ms == 1500
    sockopt.set_heartbeat(sock, 0, second, port, interval_ms=None)
    on = sockopt.get_peer_addr_params(sock, 0, second, port)
    assert on.heartbeat_enabled and on.hbinterval_ms == 1500
    with pytest.raises(ValueError):
        sockopt.set_heartbeat(sock, 0, second, port, interval_ms=100, enable=False)


def test_thresholds_read_modify_write_keeps_the_other_field(sctp_pair: EndpointPair) -> None:
    pair, profile = sctp_pair, sctp_pair.profile
    sock = _raw(pair.server)
    (first, port), (second, _) = _server_view(pair)
    assert sockopt.get_thresholds(sock, 0, second, port) == (profile.path_max_retrans, profile.pf_retrans)

    sockopt.set_thresholds(sock, 0, second, port, pf_retrans=profile.pf_retrans + 1)
    assert sockopt.get_thresholds(sock, 0, second, port) == (profile.path_max_retrans, profile.pf_retrans + 1)
    sockopt.set_thresholds(sock, 0, second, port, path_max_retrans=7)
    assert sockopt.get_thresholds(sock, 0, second, port) == (7, profile.pf_retrans + 1)
    assert sockopt.get_peer_addr_params(sock, 0, second, port).pathmaxrxt == 7
    assert sockopt.get_thresholds(sock, 0, first, port) == (profile.path_max_retrans, profile.pf_retrans)


def test_expose_potentially_failed_round_trips(sctp_pair: EndpointPair) -> None:
    sock = _raw(sctp_pair.client)
    assert sockopt.get_expose_potentially_failed(sock) == sctp_pair.profile.pf_expose
    for level in (structs.SCTP_PF_EXPOSE_DISABLE, structs.SCTP_PF_EXPOSE_ENABLE):
        sockopt.expose_potentially_failed(sock, level)
        assert sockopt.get_expose_potentially_failed(sock) == level
    with pytest.raises(ValueError):
        sockopt.expose_potentially_failed(sock, 3)


def _sctp_socket(net: Network, node: str) -> socket.socket:
    with net.entered(node):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    sock.settimeout(TIMEOUT)
    return sock


@pytest.fixture
def raw_pair(lab_network: Network) -> Iterator[tuple[socket.socket, socket.socket]]:
    """(client, accepted server) one-to-one sockets; the client subscribed to ASSOC_CHANGE before connecting."""
    net = lab_network
    server_addr = str(net.addresses("server")[0])
    with ExitStack() as stack:
        listener = stack.enter_context(_sctp_socket(net, "server"))
        listener.bind((server_addr, PORT))
        listener.listen(1)
        client = stack.enter_context(_sctp_socket(net, "client"))
        sockopt.subscribe(client, "ASSOC_CHANGE")
        client.bind((str(net.addresses("client")[0]), 0))
        client.connect((server_addr, PORT))
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        stack.enter_context(conn)
        sockopt.set_recvrcvinfo(conn)
        yield client, conn


def test_comm_up_notification_is_parsed(raw_pair: tuple[socket.socket, socket.socket]) -> None:
    client, _ = raw_pair
    got = sockopt.receive(client)
    note = got.notification
    assert got.is_notification and note is not None and got.address is None
    assert (note.kind, note.state_name, note.error) == ("ASSOC_CHANGE", "COMM_UP", 0)
    assert note.assoc_id is not None and note.assoc_id > 0 and not note.truncated


@pytest.mark.parametrize("ppid", [46, 0x12345680, 0xFFFFFFFF])
def test_ppid_survives_send_and_receive(raw_pair: tuple[socket.socket, socket.socket], lab_network: Network,
                                        ppid: int) -> None:
    client, server = raw_pair
    client_addr = str(lab_network.addresses("client")[0])
    assert sockopt.send(client, b"first", ppid=ppid, stream=1) == 5
    assert sockopt.send(client, b"\xff\x00 second", ppid=ppid ^ 0x80) == 9
    one, two = sockopt.receive(server), sockopt.receive(server)
    assert (one.data, one.ppid, one.stream, one.complete) == (b"first", ppid, 1, True)
    assert (two.data, two.ppid, two.stream) == (b"\xff\x00 second", ppid ^ 0x80, 0)
    assert one.address is not None and one.address[0] == client_addr
    assert one.tsn is not None and two.tsn == one.tsn + 1 and one.assoc_id == two.assoc_id
    assert sockopt.status(server).state_name == "ESTABLISHED"


def test_receive_reads_pysctp_ppid_as_sent(raw_pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = raw_pair
    sctp.sctpsocket_tcp(socket.AF_INET, client).sctp_send(b"from pysctp", ppid=46)  # pysctp sends PPIDs correctly
    got = sockopt.receive(server)
    assert (got.data, got.ppid) == (b"from pysctp", 46)


def test_receive_sees_eof_after_peer_close(raw_pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = raw_pair
    client.close()
    got = sockopt.receive(server)
    assert got.eof and got.data == b"" and got.notification is None
