"""Pure tier: struct layouts, sockaddr packing, notification and RCVINFO parsing (lab.sctp.structs, .messages).

Expected sizes and offsets are those of gcc's sizeof/offsetof on x86_64 with
include/uapi/linux/sctp.h (packed, aligned(4) on paddrinfo, paddrparams and
paddr_change; sctp_paddrthlds is naturally aligned).
"""

from __future__ import annotations

import socket
import struct

import pytest

from lab.kernel.sctpproc import SCTP_STATES
from lab.sctp import messages, structs
from lab.sctp.messages import (
    MSG_NOTIFICATION,
    NOTIFICATION_TYPES,
    SCTP_RCVINFO,
    Notification,
    pack_event,
    pack_sndinfo,
    parse_notification,
    parse_received,
)
from lab.sctp.structs import (
    IPPROTO_SCTP,
    SSTAT_STATES,
    pack_paddrinfo,
    pack_paddrparams,
    pack_paddrthlds,
    pack_prim,
    pack_sockaddr,
    pack_status,
    unpack_paddrinfo,
    unpack_paddrparams,
    unpack_paddrthlds,
    unpack_sockaddr,
    unpack_status,
)

V4, V6 = "198.18.1.2", "2001:db8::1:2"
CODE = {kind: code for code, kind in NOTIFICATION_TYPES.items()}  # "ASSOC_CHANGE" -> 0x8001


def test_struct_sizes_match_the_kernel() -> None:
    assert {**structs.STRUCT_SIZES, **messages.STRUCT_SIZES} == {
        "sockaddr_storage": 128,
        "sctp_paddrinfo": 152,  # 4 + 128 + 5 * 4, packed
        "sctp_paddrparams": 156,  # 155 packed, rounded up to aligned(4)
        "sctp_paddrthlds": 144,  # 4 + pad 4 + 128 + 2 + 2 + tail pad 4
        "sctp_status": 176,  # 24 + sctp_paddrinfo
        "sctp_prim": 132,  # 4 + 128, packed
        "sctp_assoc_value": 8,
        "sctp_event": 8,
        "sctp_sndinfo": 16,
        "sctp_rcvinfo": 28,
        "sctp_assoc_change": 20,
        "sctp_paddr_change": 148,
        "sctp_remote_error": 16,
        "sctp_send_failed": 48,
        "sctp_send_failed_event": 32,
        "sctp_shutdown_event": 12,
    }


def test_paddrinfo_field_offsets() -> None:
    buf = bytearray(152)
    struct.pack_into("=i", buf, 0, 7)
    buf[4:132] = pack_sockaddr(V4, 3868)
    struct.pack_into("=iIIII", buf, 132, 2, 4380, 11, 120, 1500)  # state at 132, mtu at 148
    info = unpack_paddrinfo(bytes(buf))
    assert info == structs.PeerAddrInfo(V4, 3868, 2, 4380, 11, 120, 1500, 7)
    assert info.state_name == "ACTIVE"
    assert pack_paddrinfo(7, V4, 3868) == bytes(buf[:132]) + bytes(20)


def test_requests_carry_assoc_id_and_address() -> None:
    assert len(pack_status(3)) == 176 and struct.unpack_from("=i", pack_status(3)) == (3,)
    assert pack_prim(5, V4, 9) == struct.pack("=i", 5) + pack_sockaddr(V4, 9)
    assert pack_event("PEER_ADDR_CHANGE", True, 2) == struct.pack("=iHBx", 2, 0x8002, 1)
    with pytest.raises(ValueError, match="unknown notification kind"):
        pack_event("NO_SUCH_EVENT", True)


def test_sstat_states_are_the_proc_states_plus_one() -> None:
    assert SSTAT_STATES[0] == "EMPTY"
    assert all(SSTAT_STATES[code + 1] == name for code, name in SCTP_STATES.items())
    assert SSTAT_STATES[4] == SCTP_STATES[3] == "ESTABLISHED"


def test_status_primary_starts_at_24() -> None:
    buf = bytearray(176)
    struct.pack_into("=iiIHHHHI", buf, 0, 3, 4, 65536, 1, 2, 10, 10, 1452)
    buf[28:156] = pack_sockaddr(V6, 9)  # 24 + 4 (spinfo_assoc_id)
    struct.pack_into("=iIIII", buf, 156, 3, 1, 2, 3, 1280)
    st = unpack_status(bytes(buf))
    assert (st.assoc_id, st.state_name, st.rwnd, st.unackdata, st.penddata) == (3, "ESTABLISHED", 65536, 1, 2)
    assert (st.instrms, st.outstrms, st.fragmentation_point) == (10, 10, 1452)
    assert (st.primary.address, st.primary.port, st.primary.state_name, st.primary.mtu) == (V6, 9, "UNCONFIRMED", 1280)


def test_paddrparams_field_offsets_are_packed() -> None:
    buf = bytearray(156)
    buf[4:132] = pack_sockaddr(V4, 1)
    struct.pack_into("=I", buf, 132, 1500)  # spp_hbinterval
    struct.pack_into("=H", buf, 136, 5)  # spp_pathmaxrxt
    struct.pack_into("=I", buf, 138, 1400)  # spp_pathmtu: unaligned because packed
    struct.pack_into("=I", buf, 142, 200)  # spp_sackdelay
    struct.pack_into("=I", buf, 146, structs.SPP_HB_ENABLE | 0x8)  # | SPP_PMTUD_ENABLE
    struct.pack_into("=I", buf, 150, 0x12345)
    buf[154] = 46
    params = unpack_paddrparams(bytes(buf))
    assert (params.hbinterval_ms, params.pathmaxrxt, params.pathmtu, params.sackdelay_ms) == (1500, 5, 1400, 200)
    assert (params.ipv6_flowlabel, params.dscp, params.heartbeat_enabled) == (0x12345, 46, True)


def test_paddrparams_heartbeat_flags() -> None:
    def flags(**kwargs: object) -> int:
        return int(struct.unpack_from("=I", pack_paddrparams(1, V4, 2, **kwargs), 146)[0])  # type: ignore[arg-type]

    assert flags() == 0
    assert flags(heartbeat=True, hbinterval_ms=1500) == structs.SPP_HB_ENABLE
    assert flags(heartbeat=True, hbinterval_ms=0) == structs.SPP_HB_ENABLE | 0x80  # SPP_HB_TIME_IS_ZERO
    assert flags(heartbeat=False) == structs.SPP_HB_DISABLE
    assert struct.unpack_from("=I", pack_paddrparams(1, V4, 2, hbinterval_ms=1500), 132) == (1500,)
    with pytest.raises(ValueError):
        pack_paddrparams(1, V4, 2, hbinterval_ms=-1)


def test_thresholds_address_follows_padding() -> None:
    packed = pack_paddrthlds(5, V4, 2, 3, 1)
    assert len(packed) == 144 and packed[4:8] == b"\0\0\0\0"
    assert unpack_sockaddr(packed[8:136]) == (V4, 2)
    assert struct.unpack_from("=HH", packed, 136) == (3, 1)
    assert unpack_paddrthlds(packed) == (3, 1)


@pytest.mark.parametrize("addr", [V4, "0.0.0.0", V6, "::", "::ffff:198.18.1.2"])
def test_sockaddr_round_trip(addr: str) -> None:
    raw = pack_sockaddr(addr, 3868)
    assert len(raw) == 128
    assert unpack_sockaddr(raw) == (addr, 3868)


def test_sockaddr_matches_the_c_layout() -> None:
    v4 = pack_sockaddr(V4, 0x1234)
    assert v4[:8] == struct.pack("=H", socket.AF_INET) + b"\x12\x34" + socket.inet_aton(V4)
    assert v4[8:] == bytes(120)
    v6 = pack_sockaddr("fe80::1%7", 443)
    assert v6[:2] == struct.pack("=H", socket.AF_INET6)
    assert v6[2:4] == b"\x01\xbb" and v6[4:8] == bytes(4)
    assert v6[8:24] == socket.inet_pton(socket.AF_INET6, "fe80::1")
    assert struct.unpack_from("=I", v6, 24) == (7,)
    assert unpack_sockaddr(v6) == ("fe80::1%7", 443)


def test_sockaddr_rejects() -> None:
    with pytest.raises(ValueError):
        pack_sockaddr(V4, 70000)
    with pytest.raises(ValueError):
        pack_sockaddr("not-an-address", 1)
    with pytest.raises(ValueError, match="family"):
        unpack_sockaddr(bytes(128))
    with pytest.raises(ValueError, match="short"):
        unpack_sockaddr(struct.pack("=H", socket.AF_INET6) + bytes(10))


@pytest.mark.parametrize("ppid", [46, 0x12345680, 0xDEADBEEF, 0x80, 0])
def test_sndinfo_carries_ppid_in_network_order(ppid: int) -> None:
    raw = pack_sndinfo(ppid=ppid, stream=3, flags=0x8, assoc_id=9)
    assert len(raw) == 16
    assert raw[4:8] == ppid.to_bytes(4, "big")  # snd_ppid at offset 4, as on the wire
    assert struct.unpack_from("=HH", raw) == (3, 0x8)
    assert struct.unpack_from("=Ii", raw, 8) == (0, 9)


def test_sndinfo_rejects() -> None:
    for kwargs in ({"ppid": -1}, {"ppid": 1 << 32}, {"ppid": 1, "stream": 65536}, {"ppid": 1, "flags": 1 << 16}):
        with pytest.raises(ValueError):
            pack_sndinfo(**kwargs)


def _rcvinfo(ppid_wire: bytes, *, sid: int = 2, tsn: int = 1000, assoc_id: int = 4) -> bytes:
    return struct.pack("=HHH2x4sIIIi", sid, 17, 0, ppid_wire, tsn, 999, 0, assoc_id)


def test_rcvinfo_ppid_is_unswapped() -> None:
    info = parse_received(b"x", [(IPPROTO_SCTP, SCTP_RCVINFO, _rcvinfo((0x12345680).to_bytes(4, "big")))], 0, None).rcvinfo
    assert info is not None
    assert (info.ppid, info.stream, info.ssn, info.tsn, info.cumtsn, info.assoc_id) == (0x12345680, 2, 17, 1000, 999, 4)


def test_parse_received_data() -> None:
    anc = [(socket.SOL_SOCKET, 1, b"x"), (IPPROTO_SCTP, SCTP_RCVINFO, _rcvinfo((46).to_bytes(4, "big")))]
    got = parse_received(b"hello", anc, 0x80, (V4, 40000))
    assert (got.data, got.address, got.ppid, got.stream, got.tsn, got.assoc_id) == (b"hello", (V4, 40000), 46, 2, 1000, 4)
    assert got.complete and not got.eof and not got.is_notification and got.notification is None
    v6 = parse_received(b"x", [], 0, (V6, 1, 0, 0))
    assert v6.address == (V6, 1) and v6.ppid is None and not v6.complete
    assert parse_received(b"", [], 0, None).eof


def _header(sn_type: int, body: bytes, flags: int = 0, length: int | None = None) -> bytes:
    return struct.pack("=HHI", sn_type, flags, 8 + len(body) if length is None else length) + body


def test_assoc_change() -> None:
    buf = _header(CODE["ASSOC_CHANGE"], struct.pack("=HHHHi", 0, 0, 10, 5, 3) + b"\x80\xc1")
    note = parse_notification(buf)
    assert (note.kind, note.state, note.state_name, note.error, note.assoc_id) == ("ASSOC_CHANGE", 0, "COMM_UP", 0, 3)
    assert note.payload == b"\x80\xc1"
    got = parse_received(buf, [], MSG_NOTIFICATION | 0x80, None)
    assert got.is_notification and not got.eof and got.notification == note and got.address is None


@pytest.mark.parametrize("addr", [V4, V6])
def test_peer_addr_change(addr: str) -> None:
    buf = _header(CODE["PEER_ADDR_CHANGE"], pack_sockaddr(addr, 3868) + struct.pack("=iii", 6, 0, 1))
    assert len(buf) == 148
    note = parse_notification(buf)
    assert (note.kind, note.address, note.port, note.state, note.error, note.assoc_id) == (
        "PEER_ADDR_CHANGE", addr, 3868, 6, 0, 1)
    assert note.state_name == "ADDR_POTENTIALLY_FAILED"


def test_peer_addr_change_with_garbage_address_does_not_raise() -> None:
    note = parse_notification(_header(CODE["PEER_ADDR_CHANGE"], b"\xff" * 128 + struct.pack("=iii", 1, 0, 1)))
    assert note.kind == "PEER_ADDR_CHANGE" and note.address is None and note.state == 1


def test_send_failed_event_with_invalid_utf8_payload() -> None:
    payload = b"\xff\xfe\x80 not utf-8 \xc3\x28"
    sndinfo = struct.pack("=HH4sIi", 1, 0, (0x12345680).to_bytes(4, "big"), 0, 2)
    buf = _header(CODE["SEND_FAILED_EVENT"], struct.pack("=I", 110) + sndinfo + struct.pack("=i", 2) + payload,
                  flags=1)
    assert len(buf) == 32 + len(payload)
    note = parse_notification(buf)
    assert (note.kind, note.flags, note.error, note.stream, note.ppid, note.assoc_id) == (
        "SEND_FAILED_EVENT", 1, 110, 1, 0x12345680, 2)
    assert note.payload == payload


def test_send_failed_old_style() -> None:
    sndrcv = struct.pack("=HHH2x4sIIIIi", 4, 0, 0, (46).to_bytes(4, "big"), 0, 0, 0, 0, 2)
    buf = _header(CODE["SEND_FAILED"], struct.pack("=I", 0) + sndrcv + struct.pack("=i", 2) + b"\x00\xff")
    note = parse_notification(buf)
    assert (note.kind, note.stream, note.ppid, note.assoc_id, note.payload) == ("SEND_FAILED", 4, 46, 2, b"\x00\xff")


def test_payload_is_bounded_by_sn_length() -> None:
    body = struct.pack("=I", 0) + bytes(16) + struct.pack("=i", 2) + b"abcdef"
    short = parse_notification(_header(CODE["SEND_FAILED_EVENT"], body, length=34))
    assert short.payload == b"ab"
    long = parse_notification(_header(CODE["SEND_FAILED_EVENT"], body, length=4096))
    assert long.payload == b"abcdef"


def test_remote_error_cause_is_network_order() -> None:
    buf = _header(CODE["REMOTE_ERROR"], b"\x00\x0c\x00\x00" + struct.pack("=i", 5) + b"\x00\x0c\x00\x04")
    note = parse_notification(buf)
    assert (note.kind, note.error, note.assoc_id, note.payload) == ("REMOTE_ERROR", 12, 5, b"\x00\x0c\x00\x04")


def test_shutdown_and_sender_dry() -> None:
    for kind in ("SHUTDOWN_EVENT", "SENDER_DRY_EVENT"):
        note = parse_notification(_header(CODE[kind], struct.pack("=i", 9)))
        assert (note.kind, note.assoc_id, note.truncated) == (kind, 9, False)


def test_unknown_and_truncated_never_raise() -> None:
    assert parse_notification(_header(0x1234, b"\x01\x02")) == Notification(kind="unknown(0x1234)", type=0x1234, length=10)
    assert parse_notification(b"").kind == "truncated"
    assert parse_notification(b"\x01\x80\x00").kind == "truncated"
    short = parse_notification(_header(CODE["PEER_ADDR_CHANGE"], b"\x02\x00"))
    assert short.kind == "PEER_ADDR_CHANGE" and short.truncated and short.address is None
    for n in range(0, 200, 7):  # every prefix of every kind, and noise
        for sn_type in list(NOTIFICATION_TYPES) + [0xFFFF]:
            parse_notification(_header(sn_type, bytes(range(256))[:n], length=n * 3))
            parse_notification(bytes((sn_type & 0xFF, sn_type >> 8)) + b"\xff" * n)
