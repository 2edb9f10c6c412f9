"""Judge a scenario run against its ``expect:`` section.

Each expectation becomes a :class:`~lab.report.model.Check` (passed or not,
expected, seen); the predicted windows behind them become
:class:`~lab.report.model.WindowRecord` for the report and its picture. The
wire and kernel checks are the ones the kernel tests use
(:mod:`lab.evidence.expect`), so a scenario and a test explain a failure in
the same words, naming the artifact files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lab.evidence.expect import (ExpectationError, expect_association_lost, expect_data_moved, expect_init_advertised,
                                 expect_no_abort, expect_no_data)
from lab.kernel.choice import kernel_tick
from lab.model.faultspec import BlackholeFault, DropChunksFault, FaultSpec, ImpairFault
from lab.report.model import Check, WindowRecord
from lab.scenario.runner import Run
from lab.timing import Window, abort_window, alternate_data_window, failback_window, switch_stall_window

__all__ = ["Judgement", "judge"]

#: Scenario path states -> the SCTP_PEER_ADDR_CHANGE a kernel sends on entering them, and the polled name.
_NOTIFIED = {"active": "ADDR_AVAILABLE", "pf": "ADDR_POTENTIALLY_FAILED", "unreachable": "ADDR_UNREACHABLE"}
_POLLED = {"active": "ACTIVE", "pf": "PF", "unreachable": "INACTIVE", "unconfirmed": "UNCONFIRMED"}


@dataclass
class Judgement:
    """The checks of one run, the windows behind them, and the stall bound (if a failover was expected)."""

    checks: list[Check] = field(default_factory=list)
    windows: list[WindowRecord] = field(default_factory=list)
    stall: Window | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def check(self, name: str, expected: str, probe: Callable[[], object]) -> None:
        """Run ``probe``: a str it returns is what was seen; an :class:`ExpectationError` fails the check."""
        try:
            result = probe()
        except ExpectationError as err:
            self.checks.append(Check(name, False, err.expected, f"{err.seen}; see {err.where}"))
        else:
            self.checks.append(Check(name, True, expected, result if isinstance(result, str) else "as expected"))

    def window(self, run: Run, label: str, at: float, window: Window) -> None:
        self.windows.append(WindowRecord(label, run.clock(at) + window.low, run.clock(at) + window.high, window.basis))


def _count(name: str, allowed: int | str, found: tuple[int, ...] | list[str]) -> Check:
    shown = f"{len(found)}" + (f" (first: {', '.join(map(str, list(found)[:10]))})" if found else "")
    if allowed == "any":
        return Check(name, True, "any number", shown)
    return Check(name, len(found) <= int(allowed), f"at most {allowed}", shown)


def _delay_on(run: Run, path: str, at: float) -> float:
    """One-way delay (s) on ``path`` at ``at``: netem built into its links plus impairments applied then."""
    topology, scenario = run.loaded.topology, run.loaded.scenario
    spec = topology.path_map[path]
    total = 0.0
    for link in dict.fromkeys((spec.client, spec.server)):
        built = topology.links[link].impair
        delays = [built.delay_ms + built.jitter_ms] if built else []
        for fault in scenario.fault_steps():
            applied, restored = run.applied.get(fault.name), run.restored.get(fault.name, run.end)
            if (isinstance(fault.fault, ImpairFault) and fault.fault.link == link and applied is not None
                    and applied <= at < restored):
                delays.append(fault.fault.delay_ms + fault.fault.jitter_ms)
        total += max(delays, default=0.0) / 1000
    return total


def _breaks_client_to_server(run: Run, fault: FaultSpec) -> bool:
    """Whether DATA from the client stops: False for faults on the server-to-client direction only."""
    if not isinstance(fault, (BlackholeFault, ImpairFault, DropChunksFault)) or fault.direction == "both":
        return True
    link = run.loaded.topology.links[fault.link]
    a_to_b_is_upstream = link.a.node == "client" or link.b.node == "server"
    return (fault.direction == "a-to-b") == a_to_b_is_upstream


def judge(run: Run) -> Judgement:
    """Every check the scenario's ``expect:`` asks for, plus the lab's own (steps done, captures complete)."""
    scenario, topology, ev = run.loaded.scenario, run.loaded.topology, run.evidence
    expect = scenario.expect
    delivery = run.delivery
    assert delivery is not None
    out = Judgement()
    faults = {fault.name: fault for fault in scenario.fault_steps()}

    out.checks.append(Check("steps", not run.errors, "every step carried out", "; ".join(run.errors) or "all were"))
    out.checks.append(_captures(run))
    out.checks.append(_count("lost", expect.delivery.lost, delivery.lost))
    out.checks.append(_count("duplicated", expect.delivery.duplicated, delivery.duplicated))
    out.checks.append(_count("reordered", expect.delivery.reordered, delivery.reordered))
    errors = [f"{e.side}: {e.detail}" for e in run.log.errors()]
    out.checks.append(_count("application errors", expect.application_errors, errors))

    client = [str(a) for _, a in topology.addresses_of("client")]
    server = [str(a) for _, a in topology.addresses_of("server")]
    if expect.init_addresses:
        out.check("INIT addresses", f"the INIT to list {', '.join(client)} and the INIT-ACK {', '.join(server)}",
                  lambda: expect_init_advertised(ev, client=client, server=server))
    if run.heartbeats is not None:
        out.checks.append(run.heartbeats)
    if expect.abort is None:
        out.check("no abort", "no ABORT on the wire", lambda: expect_no_abort(ev))

    if expect.failover is not None:
        _failover(run, out, expect.failover.after, expect.failover.to, faults[expect.failover.after].fault)
    if expect.no_failover is not None:
        _no_failover(run, out, expect.no_failover.after)
    if expect.failback is not None:
        _failback(run, out, expect.failback.after)
    if expect.abort is not None:
        _abort(run, out, expect.abort.after, paths=len(server))
    for state in expect.path_states:
        _path_state(run, out, state.side, state.path, state.state, state.after)
    return out


def _captures(run: Run) -> Check:
    """No capture lost packets (drops on links a fault took down do not count: see Captures.unexplained_drops)."""
    downed = {str(e.data["link"]) for e in run.log.events(kind="fault") if e.data.get("downs")}
    failing = run.captures.unexplained_drops(downed)
    excused = {p.path.name: n for p in run.captures.points if (n := run.captures.dropped.get(p.path, 0))
               and p.path.name not in failing}
    seen = (f"dropped: {failing}" if failing else "none dropped") + (
        f" (on links taken down, not counted: {excused})" if excused else "")
    return Check("captures", not failing, "no packet dropped by the captures", seen)


def _failover(run: Run, out: Judgement, name: str, to: str, fault: FaultSpec) -> None:
    """DATA reaches path ``to`` within the alternate-data window of fault ``name``; the stall fits the switch."""
    scenario, topology, ev, tick = run.loaded.scenario, run.loaded.topology, run.evidence, kernel_tick()
    at, r0 = run.applied.get(name), run.rto_at.get(name)
    if at is None or r0 is None:
        out.checks.append(Check(f"failover to {to}", False, f"fault {name} applied", "it never was"))
        return
    fault_at, interval, profile = at, 1 / scenario.traffic.rate, scenario.profile
    delay = _delay_on(run, to, fault_at)
    window = alternate_data_window(profile, r0_ms=r0, tick=tick, interval=interval, alternate_delay=delay)
    src, dst = (str(a) for a in topology.path_addresses(to))
    out.window(run, f"data on {to}", fault_at, window)

    def moved() -> str:
        first = expect_data_moved(ev, src=src, dst=dst, after=fault_at, within=window, event=name)
        return f"first after {ev.when(first) - fault_at:.3f} s"

    out.check(f"failover to {to}", f"DATA on {src} -> {dst} within {window} of {name}", moved)
    stall = switch_stall_window(profile, r0_ms=r0, tick=tick, interval=interval, alternate_delay=delay)
    if not _breaks_client_to_server(run, fault):
        stall = Window(0.0, stall.high, stall.basis + "; client-to-server still delivers")
    out.stall = stall
    longest = run.delivery.longest_stall if run.delivery else None
    seen = f"{longest.seconds:.3f} s (messages {longest.before_seq}->{longest.after_seq})" if longest else "none"
    out.checks.append(Check("stall", longest is not None and stall.contains(longest.seconds),
                            f"the longest stall within {stall} ({stall.basis})", seen))


def _no_failover(run: Run, out: Judgement, name: str) -> None:
    """No DATA on any path but the primary while fault ``name`` lasts."""
    topology, ev, tick = run.loaded.topology, run.evidence, kernel_tick()
    start, until = run.applied.get(name, run.end) + tick, run.restored.get(name, run.end)
    primary = tuple(str(a) for a in topology.path_addresses(topology.primary_path))
    for path in topology.path_map:
        src, dst = (str(a) for a in topology.path_addresses(path))
        if (src, dst) != primary:
            out.check(f"no failover to {path}", f"no DATA on {src} -> {dst} while {name} lasts",
                      lambda src=src, dst=dst: expect_no_data(  # type: ignore[misc]
                          ev, src=src, dst=dst, start=start, end=until, why=f"while {name} lasts"))


def _failback(run: Run, out: Judgement, name: str) -> None:
    """DATA is back on the primary within the failback window of restoring fault ``name``."""
    topology, ev = run.loaded.topology, run.evidence
    primary = topology.primary_path
    back = run.restored.get(name)
    if back is None:
        out.checks.append(Check(f"failback to {primary}", False, f"fault {name} restored", "it never was"))
        return
    restored_at = back
    window = failback_window(run.loaded.scenario.profile, tick=kernel_tick())
    src, dst = (str(a) for a in topology.path_addresses(primary))
    out.window(run, f"data back on {primary}", restored_at, window)

    def returned() -> str:
        first = expect_data_moved(ev, src=src, dst=dst, after=restored_at, within=window, event="the restore")
        return f"first after {ev.when(first) - restored_at:.3f} s"

    out.check(f"failback to {primary}", f"DATA on {src} -> {dst} within {window} of restoring {name}", returned)


def _abort(run: Run, out: Judgement, name: str, *, paths: int) -> None:
    """The client sees COMM_LOST within the abort window of fault ``name``."""
    scenario = run.loaded.scenario
    at, r0 = run.applied.get(name), run.rto_at.get(name)
    if at is None or r0 is None:
        out.checks.append(Check("abort", False, f"fault {name} applied", "it never was"))
        return
    fault_at = at
    window = abort_window(scenario.profile, r0_ms=r0, tick=kernel_tick(), interval=1 / scenario.traffic.rate,
                          paths=paths)
    out.window(run, "COMM_LOST", fault_at, window)

    def lost() -> str:
        event = expect_association_lost(run.evidence, side="client", after=fault_at, within=window, event=name)
        return f"after {event.at - fault_at:.3f} s"

    out.check("abort", f"the client to see COMM_LOST within {window} of {name}", lost)


def _path_state(run: Run, out: Judgement, side: str, path: str, state: str, after: str) -> None:
    """The kernel reported (notification) or showed (polled) ``state`` while fault ``after`` lasted."""
    peer = str(run.loaded.topology.path_addresses(path)[1 if side == "client" else 0])
    start = run.applied.get(after, run.end)
    until = run.restored.get(after, run.end)
    notified = [e.at for e in run.log.events(kind="paddr", side=side)
                if e.data.get("address") == peer and e.data.get("state") == _NOTIFIED.get(state) and start <= e.at <= until]
    polled = [t for t, s in (run.evidence.poller.states(side, peer) if run.evidence.poller else [])
              if s == _POLLED[state] and start <= t <= until]
    first = min(notified + polled, default=None)
    name = f"{side} sees {path} {state}"
    expected = f"the {side}'s kernel to show {peer} {_POLLED[state]} while {after} lasts"
    seen = f"after {first - start:.3f} s" if first is not None else "it never did (see timeline.json)"
    out.checks.append(Check(name, first is not None, expected, seen))
