"""Kernel tier: a dual-homed association survives the loss of its primary path."""

from __future__ import annotations

import time
from typing import Callable

import pytest

from lab.kernel.choice import kernel_tick
from lab.plugin import LinkFaults
from lab.sctp.pair import EndpointPair
from lab.sctp.states import ACTIVE
from lab.timing import failback_window, switch_stall_window, unreachable_window
from lab.verdict import FailoverEvidence, failover_problems

pytestmark = [pytest.mark.kernel, pytest.mark.topology("dual-homed"), pytest.mark.profile("fast")]

RATE = 100.0  # messages per second


def test_init_and_init_ack_advertise_both_addresses(sctp_pair: EndpointPair) -> None:
    server_learned = sorted(sctp_pair.server.peer_addresses())  # from the client's INIT
    client_learned = sorted(sctp_pair.client.peer_addresses())  # from the server's INIT-ACK
    assert server_learned == sorted(str(a) for a in sctp_pair.client.addresses)
    assert client_learned == sorted(str(a) for a in sctp_pair.server.addresses)


def test_primary_blackhole_fails_over_without_application_error(
    sctp_pair: EndpointPair, link_faults: LinkFaults, record_property: Callable[[str, object], None]
) -> None:
    pair, profile, tick = sctp_pair, sctp_pair.profile, kernel_tick()
    topology = pair.net.topology
    primary = topology.primary_link
    secondary = next(link for link in topology.links if link != primary)
    primary_peer, secondary_peer = str(pair.client_address(primary)), str(pair.client_address(secondary))

    pair.wait_path_state("client", pair.server_address(secondary), ACTIVE)  # secondary confirmed first
    pair.start_traffic(rate=RATE)
    pair.wait_delivered(int(RATE))
    r0 = pair.client.path_info(pair.server_address(primary)).rto_ms
    window = switch_stall_window(profile, r0_ms=r0, tick=tick, interval=1 / RATE)

    with link_faults.blackhole(primary):
        fault_at = time.monotonic()
        pair.wait_arrival_from(secondary_peer, after_seq=pair.client.sent,
                               timeout=unreachable_window(profile, r0_ms=r0, tick=tick).high)
        pair.wait_delivered(pair.delivered() + int(RATE))
    restore_at = time.monotonic()
    pair.wait_arrival_from(primary_peer, after_seq=pair.client.sent, timeout=failback_window(profile, tick=tick).high)
    report = pair.stop_traffic()

    evidence = FailoverEvidence.collect(report, pair.log, stall_window=window, fault_at=fault_at,
                                        restore_at=restore_at, primary_peer=primary_peer, secondary_peer=secondary_peer)
    problems = failover_problems(evidence)
    stall = report.longest_stall.seconds if report.longest_stall else None
    record_property("stall_s", stall)  # kept in the JUnit XML, so CI runs show the spread
    record_property("stall_window", f"{window} ({window.basis})")
    assert not problems, "\n".join(problems)
    assert report.delivered == report.sent
