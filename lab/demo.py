"""``sctplab demo``: a live dual-homed association survives the loss of its primary path.

It prints, as it happens: the addresses each side advertised, the association
coming up, the paths being confirmed, the fault, the path change, the kernel's
path-state notifications, the restore, traffic returning to the primary, and a
closing verdict line with the counts.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

from lab.events import Event, EventLog
from lab.kernel.choice import kernel_tick
from lab.faults import Blackhole, inject
from lab.kernel.network import build
from lab.model.topology import load_topology
from lab.sctp.pair import endpoint_pair
from lab.model.profile import TimerProfile
from lab.timing import failback_window, switch_stall_window, unreachable_window
from lab.verdict import FailoverEvidence, failover_problems

__all__ = ["run_demo"]


def _printer(log: EventLog, out: Callable[[str], None]) -> Callable[[Event], None]:
    def show(event: Event) -> None:
        if event.kind in ("paddr", "assoc", "fault", "restore", "data-path", "error", "shutdown"):
            out(f"  t={event.at - log.start:7.3f} s  {event.side:<6} {event.kind:<9} {event.detail}")

    return show


def run_demo(topology_file: Path, profile: TimerProfile, *, rate: float = 100.0, hold: float = 3.0,
             out: Callable[[str], None] = print) -> bool:
    """Run the failover story; print it live; return True when the verdict passes."""
    topology = load_topology(topology_file)
    primary = topology.primary_path
    secondary = next(path for path in topology.path_map if path != primary)
    tick = kernel_tick()
    log = EventLog()
    out(f"topology {topology.name}: primary {primary}, secondary {secondary}")
    out(f"profile  {profile.describe()}")
    with build(topology) as net:
        for node in topology.nodes:
            out(f"  {node:<6} in namespace {net.netns(node)}: " + ", ".join(
                f"{addr} ({net.ifname(link, node)})" for link, addr in topology.addresses_of(node)))
        log.subscribe(_printer(log, out))
        with endpoint_pair(net, profile=profile, log=log) as pair:
            out(f"association up: client advertised (server learned from INIT) {pair.server.peer_addresses()}")
            out(f"                server advertised (client learned from INIT-ACK) {pair.client.peer_addresses()}")
            pair.wait_all_paths_active()
            out("all paths confirmed by heartbeats: " + ", ".join(
                f"client->{a} {pair.client.path_info(a).state_name}" for a in pair.server.addresses))
            pair.start_traffic(rate=rate)
            pair.wait_delivered(int(rate * hold))
            r0 = pair.client.path_info(pair.server_address(primary)).rto_ms
            window = switch_stall_window(profile, r0_ms=r0, tick=tick, interval=1 / rate)
            out(f"traffic: {rate:.0f} msg/s; primary path RTO now {r0} ms; predicted stall {window} ({window.basis})")
            secondary_peer = str(pair.client_address(secondary))
            primary_peer = str(pair.client_address(primary))
            with inject(net, Blackhole(primary), log=log):
                fault_at = time.monotonic()
                mark = pair.client.sent
                pair.wait_arrival_from(secondary_peer, after_seq=mark,
                                       timeout=unreachable_window(profile, r0_ms=r0, tick=tick).high)
                pair.wait_delivered(pair.delivered() + int(rate * hold))
            restore_at = time.monotonic()
            pair.wait_arrival_from(primary_peer, after_seq=pair.client.sent,
                                   timeout=failback_window(profile, tick=tick).high)
            pair.wait_delivered(pair.delivered() + int(rate))
            report = pair.stop_traffic()
    evidence = FailoverEvidence.collect(report, log, stall_window=window, fault_at=fault_at, restore_at=restore_at,
                                        primary_peer=primary_peer, secondary_peer=secondary_peer)
    problems = failover_problems(evidence)
    for problem in problems:
        out(f"  problem: {problem}")
    out(f"VERDICT: {'PASS' if not problems else 'FAIL'}  {report.summary()} (stall predicted {window}) "
        f"app errors={len(evidence.errors)}")
    sys.stdout.flush()
    return not problems
