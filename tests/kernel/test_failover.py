"""Kernel tier: a dual-homed association survives the loss of its primary path.

Asserted from three sources: the application (every message once, in order,
no error, stall inside the predicted window), the kernel (path-state
notifications inside their windows) and the wire (DATA left the failed path
and arrived on the secondary inside the predicted window, then came back).
"""

from __future__ import annotations

import time
from typing import Callable

import pytest

from lab.evidence.expect import (Evidence, expect_association_lost, expect_data_moved, expect_every_peer_address_heartbeated,
                                 expect_init_advertised, expect_kernel_reported, expect_no_abort,
                                 expect_no_application_error, expect_no_data)
from lab.kernel.choice import kernel_tick
from lab.plugin import LinkFaults
from lab.sctp.states import ACTIVE
from lab.timing import (abort_window, alternate_data_window, failback_window, first_strike_window, heartbeat_window,
                        switch_stall_window, unreachable_window)
from lab.verdict import FailoverEvidence, failover_problems

pytestmark = [pytest.mark.kernel, pytest.mark.topology("dual-homed"), pytest.mark.profile("fast")]

RATE = 100.0  # messages per second


def test_init_ack_addresses_and_the_heartbeat_matrix(lab_evidence: Evidence) -> None:
    pair = lab_evidence.pair
    pair.wait_all_paths_active()
    expect_init_advertised(lab_evidence, client=["198.18.1.1", "198.18.2.1"], server=["198.18.1.2", "198.18.2.2"])
    matrix = expect_every_peer_address_heartbeated(lab_evidence, within=heartbeat_window(pair.profile, tick=kernel_tick()))
    assert set(matrix) >= {("198.18.1.1", "198.18.1.2"), ("198.18.2.1", "198.18.2.2"),
                           ("198.18.1.2", "198.18.1.1"), ("198.18.2.2", "198.18.2.1")}
    # and the kernel agrees with the wire on what each side learned
    assert sorted(pair.server.peer_addresses()) == ["198.18.1.1", "198.18.2.1"]
    assert sorted(pair.client.peer_addresses()) == ["198.18.1.2", "198.18.2.2"]


def test_primary_blackhole_fails_over_without_application_error(
    lab_evidence: Evidence, link_faults: LinkFaults, record_property: Callable[[str, object], None]
) -> None:
    ev = lab_evidence
    pair, profile, tick, interval = ev.pair, ev.pair.profile, kernel_tick(), 1 / RATE
    topology = pair.net.topology
    primary = topology.primary_link
    secondary = next(link for link in topology.links if link != primary)
    client_primary, client_secondary = str(pair.client_address(primary)), str(pair.client_address(secondary))
    server_primary, server_secondary = str(pair.server_address(primary)), str(pair.server_address(secondary))

    pair.wait_path_state("client", server_secondary, ACTIVE)  # the secondary is confirmed first
    pair.start_traffic(rate=RATE)
    pair.wait_delivered(int(RATE))
    r0 = pair.client.path_info(server_primary).rto_ms
    with link_faults.blackhole(primary):
        fault_at = time.monotonic()
        pair.wait_arrival_from(client_secondary, after_seq=pair.client.sent,
                               timeout=unreachable_window(profile, r0_ms=r0, tick=tick).high)
        pair.wait_delivered(pair.delivered() + int(RATE))
    restore_at = time.monotonic()
    pair.wait_arrival_from(client_primary, after_seq=pair.client.sent, timeout=failback_window(profile, tick=tick).high)
    report = pair.stop_traffic()
    stall_window = switch_stall_window(profile, r0_ms=r0, tick=tick, interval=interval)
    record_property("stall_s", report.longest_stall.seconds if report.longest_stall else None)
    record_property("stall_window", f"{stall_window} ({stall_window.basis})")

    # the application: nothing lost, duplicated or reordered; no error; stall inside the window
    problems = failover_problems(FailoverEvidence.collect(
        report, pair.log, stall_window=stall_window, fault_at=fault_at, restore_at=restore_at,
        primary_peer=client_primary, secondary_peer=client_secondary))
    assert not problems, "\n".join(problems)
    expect_no_application_error(ev)

    # the kernel: the client saw its primary fail in stages, then come back
    expect_kernel_reported(ev, side="client", peer=server_primary, state="ADDR_POTENTIALLY_FAILED", after=fault_at,
                           within=first_strike_window(profile, r0_ms=r0, tick=tick, interval=interval))
    expect_kernel_reported(ev, side="client", peer=server_primary, state="ADDR_UNREACHABLE", after=fault_at,
                           within=unreachable_window(profile, r0_ms=r0, tick=tick))
    expect_kernel_reported(ev, side="client", peer=server_primary, state="ADDR_AVAILABLE", after=restore_at,
                           within=failback_window(profile, tick=tick), event="the restore")

    # the wire: DATA moved to the secondary path in time, stayed off the primary, then came back
    expect_data_moved(ev, src=client_secondary, dst=server_secondary, after=fault_at,
                      within=alternate_data_window(profile, r0_ms=r0, tick=tick, interval=interval))
    expect_no_data(ev, src=client_primary, dst=server_primary, start=fault_at + 0.001, end=restore_at,
                   why="while the primary is blackholed")
    expect_data_moved(ev, src=client_primary, dst=server_primary, after=restore_at,
                      within=failback_window(profile, tick=tick), event="the restore")
    expect_no_abort(ev)


def test_both_paths_down_aborts_in_the_predicted_window(lab_evidence: Evidence, link_faults: LinkFaults) -> None:
    ev = lab_evidence
    pair, profile, tick = ev.pair, ev.pair.profile, kernel_tick()
    pair.wait_path_state("client", "198.18.2.2", ACTIVE)
    pair.start_traffic(rate=RATE)
    pair.wait_delivered(int(RATE / 2))
    r0 = pair.client.path_info("198.18.1.2").rto_ms
    window = abort_window(profile, r0_ms=r0, tick=tick, interval=1 / RATE)
    with link_faults.blackhole("path-a"), link_faults.blackhole("path-b"):
        fault_at = time.monotonic()
        pair.log.wait_for(lambda e: e.side == "client" and e.detail == "COMM_LOST", timeout=2 * window.high,
                          what="the client to see COMM_LOST")
    expect_association_lost(ev, side="client", after=fault_at, within=window)
    sent = pair.client.stop_sending()
    arrived = {a.seq: a.received_at for a in pair.server.arrivals}
    undelivered = set(range(sent)) - set(arrived)
    failed = {e.data["seq"] for e in pair.log.errors() if e.side == "client" and e.detail.startswith("SEND_FAILED")}
    # SEND_FAILED comes for every message never acknowledged: all undelivered ones, and those delivered
    # whose SACK was still pending at the fault (the receiver delays a SACK by at most sack_timeout).
    assert failed and failed == set(range(min(failed), sent)), f"SEND_FAILED for {sorted(failed)}: not the unsent tail"
    assert undelivered <= failed, f"no SEND_FAILED for undelivered messages {sorted(undelivered - failed)}"
    sack_pending = fault_at - profile.sack_timeout / 1000 - tick
    early = {seq: round(arrived[seq] - fault_at, 3) for seq in failed - undelivered if arrived[seq] < sack_pending}
    assert not early, f"SEND_FAILED for messages delivered before their SACK could be pending (s vs fault): {early}"
