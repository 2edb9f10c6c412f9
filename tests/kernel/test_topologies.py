"""Kernel tier: every shipped topology builds, carries an association, and fails a path as SCTP predicts.

Survivable faults: nothing lost, duplicated or reordered, no application
error, no ABORT, and DATA on the expected path inside the predicted window
(immediately when the fault changes the sender's routes, which moves the
traffic without any retransmission timeout). Fatal faults: the client's
application sees COMM_LOST inside the predicted abort window.

Partial multihoming on Linux: a single-homed peer is reached through ONE
transport, whose source address the kernel picks by routing and keeps. So
on the multihomed side only a fault that changes its routes (an interface
going down) moves that transport; a blackhole in the network leaves it on
the dead path, and the association is lost (docs/topology-format.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from ipaddress import ip_address

import pytest

from lab import (abort_window, alternate_data_window, association_lost, data_moved, Evidence, expect,
                 init_advertised, kernel_tick, LinkFaults, no_abort, no_application_error, no_data, Window)

pytestmark = [pytest.mark.kernel, pytest.mark.profile("fast")]

RATE = 100.0  # messages per second
Start = Callable[[LinkFaults], AbstractContextManager[object]]


@dataclass(frozen=True)
class Survives:
    """A fault the association rides out, moving its DATA to path ``to``."""

    start: Start
    to: str
    immediate: bool = False  # the sender's route changes: the next packet already takes the new path
    alternate_delay: float = 0.0


SURVIVES = {
    "ipv6": Survives(lambda lf: lf.blackhole("path-a"), "path-b"),
    "dual-stack": Survives(lambda lf: lf.blackhole("path-a"), "path-b"),
    "routed": Survives(lambda lf: lf.blackhole("a2"), "path-b"),  # inside the network: between r1 and the server
    "partial-client": Survives(lambda lf: lf.link_down("path-a", node="server"), "path-b"),
    "partial-server": Survives(lambda lf: lf.link_down("path-a", node="client"), "path-b", immediate=True),
    "asymmetric": Survives(lambda lf: lf.blackhole("path-a"), "path-b", alternate_delay=0.002),
}


def _topology(name: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.topology(name)]


@pytest.mark.parametrize("case", [pytest.param(case, marks=_topology(name), id=name)
                                  for name, case in SURVIVES.items()])
def test_a_path_fault_is_survived(case: Survives, lab_evidence: Evidence, link_faults: LinkFaults) -> None:
    ev = lab_evidence
    pair, profile, tick, topology = ev.pair, ev.pair.profile, kernel_tick(), ev.pair.net.topology
    client, server = (str(a) for a in topology.path_addresses(case.to))
    r0 = pair.warm_up(rate=RATE, messages=int(RATE / 2))
    with case.start(link_faults):
        fault_at = time.monotonic()
        pair.wait_delivered(pair.delivered() + int(RATE))
    report = pair.stop_traffic()
    assert not report.lost and not report.duplicated and not report.reordered, report.summary()
    expect(no_application_error(ev.log))
    expect(no_abort(ev))
    window = alternate_data_window(profile, r0_ms=r0, tick=tick, interval=1 / RATE,
                                   alternate_delay=case.alternate_delay)
    if case.immediate:
        window = Window(0.0, window.high, "the sender's route changes at once; " + window.basis)
    expect(data_moved(ev, src=client, dst=server, after=fault_at, within=window))


@pytest.mark.topology("asymmetric")
def test_the_stack_stays_on_a_slow_primary(lab_evidence: Evidence) -> None:
    """SCTP sends on the primary, not on the fastest path: the 2 ms path-b carries no DATA while path-a works."""
    pair = lab_evidence.pair
    start = time.monotonic()
    pair.warm_up(rate=RATE, messages=int(RATE))
    slow, fast = (pair.client.path_info(pair.server_address(p)) for p in ("path-a", "path-b"))
    # (this kernel reports spinfo_srtt in jiffies, not ms; the order and the RTOs tell the story either way)
    assert slow.srtt_ms > fast.srtt_ms and slow.rto_ms > fast.rto_ms, (
        f"expected the 80 ms round trip of path-a in its SRTT and RTO: {slow}, {fast}")
    pair.stop_traffic()
    expect(no_data(lab_evidence, src="198.18.2.1", dst="198.18.2.2", start=start, end=time.monotonic(),
                   why="while the slow primary works"))


@dataclass(frozen=True)
class Fatal:
    """A fault the association cannot survive."""

    start: Start
    why: str


FATAL = {
    "partial-client": [
        Fatal(lambda lf: lf.blackhole("access"), "the single-homed client's only link"),
        Fatal(lambda lf: lf.blackhole("path-a"), "the server's one transport keeps its source address on path-a"),
    ],
    "partial-server": [
        Fatal(lambda lf: lf.blackhole("uplink"), "the single-homed server's only link"),
        Fatal(lambda lf: lf.blackhole("path-a"), "the client's one transport keeps its source address on path-a"),
    ],
}


@pytest.mark.parametrize("case", [pytest.param(case, marks=_topology(name), id=f"{name}-{index}")
                                  for name, cases in FATAL.items() for index, case in enumerate(cases)])
def test_a_fault_on_a_single_point_of_failure_is_fatal(case: Fatal, lab_evidence: Evidence,
                                                        link_faults: LinkFaults) -> None:
    ev = lab_evidence
    pair, profile, tick = ev.pair, ev.pair.profile, kernel_tick()
    r0 = pair.warm_up(rate=RATE, messages=int(RATE / 2))
    paths = len(pair.client.peer_addresses())  # a single-homed server is one transport: all strikes on it
    window = abort_window(profile, r0_ms=r0, tick=tick, interval=1 / RATE, paths=paths)
    with case.start(link_faults):
        fault_at = time.monotonic()
        pair.log.wait_for(lambda e: e.side == "client" and e.detail == "COMM_LOST", timeout=2 * window.high,
                          what=f"the client to see COMM_LOST ({case.why})")
    expect(association_lost(ev, side="client", after=fault_at, within=window))


@pytest.mark.topology("three-paths")
def test_two_paths_fail_one_after_another_and_the_third_carries_on(lab_evidence: Evidence,
                                                                   link_faults: LinkFaults) -> None:
    ev = lab_evidence
    pair, profile, tick, topology = ev.pair, ev.pair.profile, kernel_tick(), ev.pair.net.topology
    r0 = pair.warm_up(rate=RATE, messages=int(RATE / 2))
    with link_faults.blackhole("path-a"):
        first_at = time.monotonic()
        pair.wait_delivered(pair.delivered() + int(RATE))
        carrier = pair.server.arrivals[-1].peer  # where the data settled (retransmissions may go elsewhere)
        moved_to = next(p for p in ("path-b", "path-c") if str(pair.client_address(p)) == carrier)
        last = next(p for p in ("path-b", "path-c") if p != moved_to)
        r1 = pair.client.path_info(pair.server_address(moved_to)).rto_ms
        with link_faults.blackhole(moved_to):
            second_at = time.monotonic()
            pair.wait_delivered(pair.delivered() + int(RATE))
            second_restored = time.monotonic()  # the restore starts: data may return before it is done
    report = pair.stop_traffic()
    assert not report.lost and not report.duplicated and not report.reordered, report.summary()
    expect(no_application_error(ev.log))
    expect(no_abort(ev))
    for at, path, rto, early in ((first_at, moved_to, r0, False), (second_at, last, r1, True)):
        client, server = (str(a) for a in topology.path_addresses(path))
        window = alternate_data_window(profile, r0_ms=rto, tick=tick, interval=1 / RATE)
        if early:  # after the first failover the kernel's retransmission path may already be the third path
            window = Window(0.0, window.high, window.basis + "; the third path may already carry retransmissions")
        expect(data_moved(ev, src=client, dst=server, after=at, within=window))
    expect(no_data(ev, src=str(pair.client_address(moved_to)), dst=str(pair.server_address(moved_to)),
                   start=second_at + tick, end=second_restored, why=f"once {moved_to} is blackholed too"))


FAMILIES = {"ipv6": {6}, "dual-stack": {4, 6}, "routed": {4}, "partial-client": {4}, "partial-server": {4}}


@pytest.mark.parametrize("families", [pytest.param(f, marks=_topology(name), id=name) for name, f in FAMILIES.items()])
def test_init_and_init_ack_advertise_every_address_of_their_family(families: set[int], lab_evidence: Evidence) -> None:
    topology = lab_evidence.pair.net.topology
    lab_evidence.pair.wait_all_paths_active()  # the handshake is long over, and in the captures' files
    lab_evidence.wait_for_wire(lambda wire: wire.handshake().complete, timeout=1.0, what="the whole handshake")
    client = [str(a) for _, a in topology.addresses_of("client")]
    server = [str(a) for _, a in topology.addresses_of("server")]
    expect(init_advertised(lab_evidence, client=client, server=server))
    handshake = lab_evidence.wire.handshake()
    seen = {ip_address(a).version for a in (*handshake.init_addresses, *handshake.init_ack_addresses)}
    assert seen == families, f"expected address parameters of IPv{families}; INIT/INIT-ACK carried {handshake}"
