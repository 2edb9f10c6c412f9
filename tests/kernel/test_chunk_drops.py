"""Kernel tier: dropping one SCTP chunk type on a path tests the stack's path-state logic directly."""

from __future__ import annotations

import time

import pytest

from lab import (Captures, endpoint_pair, EndpointPair, EventLog, Evidence, expect, failback_window,
                 heartbeat_window, kernel_tick, LinkFaults, Network, no_abort, no_application_error, no_data,
                 TimerProfile, unreachable_window, Wire)

pytestmark = [pytest.mark.kernel, pytest.mark.topology("dual-homed"), pytest.mark.profile("fast")]

RATE = 100.0


def _clean(pair: EndpointPair, ev: Evidence) -> None:
    report = pair.stop_traffic()
    assert not report.lost and not report.duplicated and not report.reordered, report.summary()
    expect(no_application_error(ev.log))
    expect(no_abort(ev))


def test_dropping_heartbeat_acks_fails_the_idle_secondary_while_data_stays_on_the_primary(
    lab_evidence: Evidence, link_faults: LinkFaults
) -> None:
    ev = lab_evidence
    pair, profile, tick = ev.pair, ev.pair.profile, kernel_tick()
    pair.wait_all_paths_active()
    pair.start_traffic(rate=RATE)
    pair.wait_delivered(int(RATE / 2))
    # an idle path fails by heartbeat timeouts alone: path_max_retrans + 1 of them, each within a
    # heartbeat period plus its RTO; one more period for the heartbeat in flight at the start
    strikes = profile.path_max_retrans + 2
    timeout = strikes * (heartbeat_window(profile, tick=tick).high + profile.rto_max / 1000)
    with link_faults.drop_chunks("path-b", "HEARTBEAT-ACK"):
        fault_at = time.monotonic()
        pair.log.wait_for(lambda e: e.side == "client" and e.detail == "198.18.2.2 ADDR_UNREACHABLE", since=fault_at,
                          timeout=timeout, what="the client to declare its secondary unreachable")
        assert pair.client.path_info("198.18.2.2").state_name == "INACTIVE"
    _clean(pair, ev)
    assert set(pair.stop_traffic().peer_counts) == {"198.18.1.1"}, "data left the primary"
    expect(no_data(ev, src="198.18.2.1", dst="198.18.2.2", start=fault_at, end=time.monotonic(),
                   why="while only heartbeat acknowledgements are lost on the secondary"))


def test_dropping_only_data_on_the_primary_moves_data_and_loses_nothing(
    lab_evidence: Evidence, link_faults: LinkFaults
) -> None:
    ev = lab_evidence
    pair, profile, tick = ev.pair, ev.pair.profile, kernel_tick()
    r0 = pair.warm_up(rate=RATE, messages=int(RATE / 2))
    with link_faults.drop_chunks("path-a", "DATA", direction="a-to-b"):
        fault_at = time.monotonic()
        pair.wait_arrival_from("198.18.2.1", after_seq=pair.client.sent,
                               timeout=unreachable_window(profile, r0_ms=r0, tick=tick).high)
        pair.wait_delivered(pair.delivered() + int(RATE))
    pair.wait_arrival_from("198.18.1.1", after_seq=pair.client.sent, timeout=failback_window(profile, tick=tick).high)
    _clean(pair, ev)
    # heartbeats still pass, so the kernel marks the path potentially failed, never unreachable for good
    pf = [e for e in pair.log.events(kind="paddr", side="client") if e.detail == "198.18.1.2 ADDR_POTENTIALLY_FAILED"
          and e.at >= fault_at]
    assert pf, "expected the client's kernel to mark 198.18.1.2 potentially failed while its DATA was dropped"


def test_a_lost_init_on_the_primary_is_retried_on_the_secondary(
    lab_network: Network, lab_profile: TimerProfile, lab_events: EventLog, lab_captures: Captures,
    link_faults: LinkFaults
) -> None:
    tick = kernel_tick()
    with link_faults.drop_chunks("path-a", "INIT", direction="a-to-b"):
        started = time.monotonic()
        with endpoint_pair(lab_network, profile=lab_profile, log=lab_events) as pair:
            up = next(e for e in lab_events.events(kind="assoc", side="client") if e.detail == "COMM_UP")
            waited = up.at - started
            assert waited >= lab_profile.rto_initial / 1000 - tick, (
                f"expected COMM_UP no earlier than one INIT timeout (rto_initial={lab_profile.rto_initial} ms); "
                f"it came after {waited:.3f} s")
            assert sorted(pair.client.peer_addresses()) == ["198.18.1.2", "198.18.2.2"]
    # a tc egress drop happens before the capture tap, like netem: the lost INIT is on no pcap,
    # and the retry went to the secondary address, one INIT timeout after the start
    inits = [c for c in Wire.from_points(lab_captures.points).chunks if c.kind == "INIT" and c.direction == "out"]
    assert [(c.src, c.dst) for c in inits] == [("198.18.2.1", "198.18.2.2")], inits
    assert inits[0].at - lab_captures.clock_offset - started >= lab_profile.rto_initial / 1000 - tick
