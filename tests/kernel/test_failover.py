"""Kernel tier: a dual-homed association survives the loss of its primary path.

Asserted from three sources: the application (every message once, in order,
no error, stall inside the predicted window), the kernel (path-state
notifications inside their windows) and the wire (DATA left the failed path
and arrived on the secondary inside the predicted window, then came back).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from typing import Callable

import pytest

from lab import (abort_window, alternate_data_window, arrived_from, association_lost, data_moved, delivery,
                 every_peer_address_heartbeated, Evidence, expect, failback_window, first_strike_window,
                 heartbeat_window, init_advertised, kernel_reported, kernel_tick, LinkFaults, no_abort,
                 no_application_error, no_data, stall_within, switch_stall_window, unreachable_window, WaitTimeout,
                 Window)

pytestmark = [pytest.mark.kernel, pytest.mark.topology("dual-homed"), pytest.mark.profile("fast")]

RATE = 100.0  # messages per second


def test_init_ack_addresses_and_the_heartbeat_matrix(lab_evidence: Evidence) -> None:
    pair = lab_evidence.pair
    pair.wait_all_paths_active()
    expect(init_advertised(lab_evidence, client=["198.18.1.1", "198.18.2.1"], server=["198.18.1.2", "198.18.2.2"]))
    expect(every_peer_address_heartbeated(lab_evidence, within=heartbeat_window(pair.profile, tick=kernel_tick())))
    matrix = lab_evidence.wire.heartbeat_matrix()
    assert set(matrix) >= {("198.18.1.1", "198.18.1.2"), ("198.18.2.1", "198.18.2.2"),
                           ("198.18.1.2", "198.18.1.1"), ("198.18.2.2", "198.18.2.1")}
    # and the kernel agrees with the wire on what each side learned
    assert sorted(pair.server.peer_addresses()) == ["198.18.1.1", "198.18.2.1"]
    assert sorted(pair.client.peer_addresses()) == ["198.18.1.2", "198.18.2.2"]


@dataclass(frozen=True)
class PrimaryFault:
    """A single-path fault on the primary, and what it breaks."""

    start: Callable[[LinkFaults, str], AbstractContextManager[object]]
    client_to_server_broken: bool  # otherwise DATA still arrives, only SACKs/HB-ACKs are lost
    server_to_client_broken: bool  # otherwise SACKs still arrive and revive the path during the fault
    alternate_delay: float = 0.0  # one-way delay put on the secondary path too


PRIMARY_FAULTS = {
    "blackhole": PrimaryFault(lambda lf, link: lf.blackhole(link), True, True),
    "blackhole-client-to-server": PrimaryFault(lambda lf, link: lf.blackhole(link, direction="a-to-b"), True, False),
    "blackhole-server-to-client": PrimaryFault(lambda lf, link: lf.blackhole(link, direction="b-to-a"), False, True),
    "admin-down-near": PrimaryFault(lambda lf, link: lf.link_down(link, side="near"), True, True),
    "admin-down-far": PrimaryFault(lambda lf, link: lf.link_down(link, side="far"), True, True),
    # the client loses its route; the server still reaches the client's primary address
    "route-withdrawal": PrimaryFault(lambda lf, link: lf.withdraw_route(link), True, False),
    "blackhole-with-slow-secondary": PrimaryFault(lambda lf, link: lf.blackhole(link), True, True,
                                                  alternate_delay=0.08),
}


@pytest.mark.parametrize("case", PRIMARY_FAULTS.values(), ids=PRIMARY_FAULTS.keys())
def test_primary_fault_fails_over_and_back_without_application_error(
    case: PrimaryFault, lab_evidence: Evidence, link_faults: LinkFaults, record_property: Callable[[str, object], None]
) -> None:
    ev = lab_evidence
    pair, profile, tick, interval = ev.pair, ev.pair.profile, kernel_tick(), 1 / RATE
    topology = pair.net.topology
    primary = topology.primary_path
    secondary = next(path for path in topology.path_map if path != primary)
    client_primary, client_secondary = str(pair.client_address(primary)), str(pair.client_address(secondary))
    server_primary, server_secondary = str(pair.server_address(primary)), str(pair.server_address(secondary))

    with ExitStack() as slow:
        if case.alternate_delay:
            slow.enter_context(link_faults.impair(secondary, delay_ms=case.alternate_delay * 1000))
        r0 = pair.warm_up(rate=RATE, messages=int(RATE))  # the secondary is confirmed first
        unreachable = unreachable_window(profile, r0_ms=r0, tick=tick)
        with case.start(link_faults, primary):
            fault_at = time.monotonic()
            pair.wait_arrival_from(client_secondary, after_seq=pair.client.sent,
                                   timeout=unreachable.high + case.alternate_delay)
            pair.wait_delivered(pair.delivered() + int(RATE))
            try:  # hold the fault until the kernel has given the path up (or its window has passed)
                pair.log.wait_for(lambda e: e.side == "client" and e.detail == f"{server_primary} ADDR_UNREACHABLE",
                                  since=fault_at, timeout=max(0.0, fault_at + unreachable.high - time.monotonic()),
                                  what="the client to declare its primary unreachable")
            except WaitTimeout:
                pass  # expect_kernel_reported below says what the kernel did instead
            # the restore starts now: the path may come back (a heartbeat answered) while it is still being undone
            restore_at = time.monotonic()
        pair.wait_arrival_from(client_primary, after_seq=pair.client.sent,
                               timeout=failback_window(profile, tick=tick).high)
        report = pair.stop_traffic()
    stall = switch_stall_window(profile, r0_ms=r0, tick=tick, interval=interval, alternate_delay=case.alternate_delay)
    if not case.client_to_server_broken:  # DATA keeps arriving until the client moves: no stall is forced
        stall = Window(0.0, stall.high, stall.basis + "; client-to-server still delivers")
    record_property("stall_s", report.longest_stall.seconds if report.longest_stall else None)
    record_property("stall_window", f"{stall} ({stall.basis})")

    # the application: nothing lost, duplicated or reordered; no error; stall inside the window
    expect(*delivery(report), stall_within(report, stall),
           arrived_from(report, client_secondary, after=fault_at, before=restore_at, what="the client's secondary"),
           arrived_from(report, client_primary, after=restore_at, what="the client's primary after the restore"))
    expect(no_application_error(ev.log))

    # the kernel: the client saw its primary fail in stages, then come back
    expect(kernel_reported(ev, side="client", peer=server_primary, state="ADDR_POTENTIALLY_FAILED", after=fault_at,
                           within=first_strike_window(profile, r0_ms=r0, tick=tick, interval=interval)))
    expect(kernel_reported(ev, side="client", peer=server_primary, state="ADDR_UNREACHABLE", after=fault_at,
                           within=unreachable))
    if case.server_to_client_broken:  # otherwise a SACK from the primary revives it already during the fault
        expect(kernel_reported(ev, side="client", peer=server_primary, state="ADDR_AVAILABLE", after=restore_at,
                               within=failback_window(profile, tick=tick), event="the restore"))

    # the wire: DATA moved to the secondary path in time, stayed off the primary, then came back
    expect(data_moved(ev, src=client_secondary, dst=server_secondary, after=fault_at,
                              within=alternate_data_window(profile, r0_ms=r0, tick=tick, interval=interval,
                                                           alternate_delay=case.alternate_delay)))
    moved = ev.first_data(client_secondary, server_secondary, after=fault_at)
    assert moved is not None
    quiet_from = fault_at + tick if case.client_to_server_broken else ev.when(moved) + tick
    expect(no_data(ev, src=client_primary, dst=server_primary, start=quiet_from, end=restore_at,
                   why="while the primary is failed"))
    expect(data_moved(ev, src=client_primary, dst=server_primary, after=restore_at,
                      within=failback_window(profile, tick=tick), event="the restore"))
    expect(no_abort(ev))


def test_a_failed_secondary_moves_nothing(lab_evidence: Evidence, link_faults: LinkFaults) -> None:
    ev = lab_evidence
    pair, profile, tick = ev.pair, ev.pair.profile, kernel_tick()
    pair.warm_up(rate=RATE, messages=int(RATE / 2))
    with link_faults.blackhole("path-b"):
        fault_at = time.monotonic()
        # an idle path fails by heartbeats only: the next one (within a period) times out after its RTO
        strike = heartbeat_window(profile, tick=tick).high + profile.rto_max / 1000 + tick
        pair.log.wait_for(lambda e: e.side == "client" and e.detail == "198.18.2.2 ADDR_POTENTIALLY_FAILED",
                          timeout=strike, what="the client to see its secondary fail", since=fault_at)
        pair.wait_delivered(pair.delivered() + int(RATE / 2))
    report = pair.stop_traffic()
    assert not report.lost and not report.duplicated and not report.reordered, report.summary()
    expect(no_application_error(ev.log))
    assert set(report.peer_counts) == {"198.18.1.1"}, f"data left the primary: {dict(report.peer_counts)}"
    r0 = pair.client.path_info("198.18.1.2").rto_ms
    no_t3 = r0 / 1000 - tick  # a T3 expiry on the primary would stall delivery at least this long
    assert report.longest_stall is None or report.longest_stall.seconds < no_t3, report.summary()
    expect(no_data(ev, src="198.18.2.1", dst="198.18.2.2", start=fault_at, end=time.monotonic(),
                   why="when only the secondary fails"))


def test_a_flapping_primary_loses_nothing(lab_evidence: Evidence, link_faults: LinkFaults) -> None:
    ev = lab_evidence
    pair, profile, tick = ev.pair, ev.pair.profile, kernel_tick()
    r0 = pair.warm_up(rate=RATE, messages=int(RATE / 2))
    with link_faults.flap("path-a", count=3, period=2.0, duty=0.5) as flap:
        flap.wait_done()  # type: ignore[attr-defined]
    pair.wait_delivered(pair.delivered() + int(RATE / 2))
    report = pair.stop_traffic()
    assert not report.lost and not report.duplicated and not report.reordered, report.summary()
    expect(no_application_error(ev.log))
    expect(no_abort(ev))
    worst = switch_stall_window(profile, r0_ms=r0, tick=tick, interval=1 / RATE)
    assert report.longest_stall is None or report.longest_stall.seconds <= worst.high, (
        f"expected every stall within {worst} ({worst.basis}); {report.summary()}")
    downs = [e for e in pair.log.events(kind="flap") if e.detail.startswith("path-a down")]
    assert len(downs) == 3


def test_both_paths_down_aborts_in_the_predicted_window(lab_evidence: Evidence, link_faults: LinkFaults) -> None:
    ev = lab_evidence
    pair, profile, tick = ev.pair, ev.pair.profile, kernel_tick()
    r0 = pair.warm_up(rate=RATE, messages=int(RATE / 2))
    window = abort_window(profile, r0_ms=r0, tick=tick, interval=1 / RATE)
    with link_faults.blackhole("path-a"), link_faults.blackhole("path-b"):
        fault_at = time.monotonic()
        pair.log.wait_for(lambda e: e.side == "client" and e.detail == "COMM_LOST", timeout=2 * window.high,
                          what="the client to see COMM_LOST")
    expect(association_lost(ev, side="client", after=fault_at, within=window))
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
