"""The test message format and the receiver's delivery analysis."""

from __future__ import annotations

import math

import pytest

from lab.sctp.traffic import Arrival, PeerChange, Stall, analyse, decode, encode

A, B = "10.0.1.1", "10.0.2.1"


def test_encode_format() -> None:
    msg = encode(42, 1234.56789, 40)
    assert msg == b"SEQ 0000000042 T 1234.567890 " + b"." * 11
    assert len(msg) == 40
    msg.decode("utf-8")  # pysctp crashes on SEND_FAILED payloads that are not UTF-8


def test_round_trip() -> None:
    for seq, sent_at, size in [(0, 0.0, 29), (9_999_999_999, 1712345678.123456, 1000), (7, 3.25, 100)]:
        msg = encode(seq, sent_at, size)
        assert len(msg) == size
        got_seq, got_time = decode(msg)
        assert got_seq == seq and got_time == pytest.approx(sent_at, abs=1e-6)


def test_encode_rejects() -> None:
    assert len(encode(1, 1.0, 26)) == 26  # "SEQ 0000000001 T 1.000000 "
    with pytest.raises(ValueError, match="at least 26 bytes"):
        encode(1, 1.0, 25)
    for seq in (-1, 10**10):
        with pytest.raises(ValueError):
            encode(seq, 1.0, 100)
    for sent_at in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            encode(1, sent_at, 100)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"SEQ 42 T 1.000000 ",
        b"SEQ 0000000042 T 1.5 ",
        b"SEQ 0000000042 T 1.000000",
        b"SEQ 0000000042 T 1.000000 ..x",
        b"seq 0000000042 T 1.000000 ",
        "SEQ 000000004\u0662 T 1.000000 ".encode(),
        b"\xff" * 50,
    ],
)
def test_decode_rejects(payload: bytes) -> None:
    with pytest.raises(ValueError):
        decode(payload)


def arrival(seq: int, at: float, peer: str = A, sent: float | None = None) -> Arrival:
    return Arrival(seq=seq, sent_at=at - 0.002 if sent is None else sent, received_at=at, peer=peer)


def test_clean_run() -> None:
    report = analyse(5, [arrival(i, 1 + i * 0.01) for i in range(5)])
    assert (report.sent, report.delivered) == (5, 5)
    assert report.lost == report.duplicated == report.reordered == ()
    assert report.latency_min == report.latency_max == pytest.approx(0.002)
    assert report.latency_avg == pytest.approx(0.002)
    assert report.longest_stall is not None and report.longest_stall.seconds == pytest.approx(0.01)
    assert report.stalls_over(0.05) == ()
    assert dict(report.peer_counts) == {A: 5}
    assert report.peer_changes == (PeerChange(at=1.0, seq=0, old=None, new=A),)
    assert report.summary() == "sent=5 delivered=5 lost=0 duplicated=0 reordered=0 longest stall=0.010 s"


def test_failover_run() -> None:
    arrivals = [
        arrival(0, 1.00),
        arrival(1, 1.01),
        arrival(2, 1.02),
        # primary blackholed: 3 retransmitted on B after its T3 expiry, 4 and 5 queued behind it
        arrival(3, 1.15, B, sent=1.03),
        arrival(5, 1.151, B, sent=1.05),
        arrival(4, 1.152, B, sent=1.04),
        arrival(4, 1.153, B, sent=1.04),
        arrival(6, 1.16, B),
        arrival(7, 2.00, A),  # back on the primary after failback
    ]
    report = analyse(10, arrivals)
    assert report.delivered == 8
    assert report.lost == (8, 9)
    assert report.duplicated == (4,)
    assert report.reordered == (4,)
    assert report.latency_max == pytest.approx(0.12)
    assert report.latency_min == pytest.approx(0.002)
    assert report.longest_stall == Stall(pytest.approx(0.84), 1.16, 2.00, 6, 7)
    assert [s.before_seq for s in report.stalls_over(0.1)] == [2, 6]
    assert report.stalls_over(0.1)[0] == Stall(pytest.approx(0.13), 1.02, 1.15, 2, 3)
    assert dict(report.peer_counts) == {A: 4, B: 5}
    assert report.peer_changes == (
        PeerChange(at=1.00, seq=0, old=None, new=A),
        PeerChange(at=1.15, seq=3, old=A, new=B),
        PeerChange(at=2.00, seq=7, old=B, new=A),
    )
    assert report.first_arrival_from(B) == arrivals[3]
    assert report.first_arrival_from(A, after=1.5) == arrivals[8]
    assert report.first_arrival_from(A, after=2.0) is None
    assert report.first_arrival_from("10.0.9.9") is None
    assert report.summary() == "sent=10 delivered=8 lost=2 duplicated=1 reordered=1 longest stall=0.840 s"


def test_nothing_arrived() -> None:
    report = analyse(3, [])
    assert report.delivered == 0 and report.lost == (0, 1, 2)
    assert report.latency_min is report.latency_avg is report.latency_max is None
    assert report.longest_stall is None
    assert report.peer_changes == () and dict(report.peer_counts) == {}
    assert report.summary() == "sent=3 delivered=0 lost=3 duplicated=0 reordered=0 longest stall=none"


def test_seq_out_of_range() -> None:
    with pytest.raises(ValueError, match="outside 0..1"):
        analyse(2, [arrival(0, 1.0), arrival(2, 1.1)])
