"""Judge a scenario run against its ``expect:`` section, with the one judge (:mod:`lab.judge`).

Each expectation becomes a :class:`~lab.report.model.Check` (passed or not,
expected, seen, where); the predicted windows behind them become
:class:`~lab.report.model.WindowRecord` for the report and its picture. The
checks are the functions the kernel tests use, so a scenario and a test
explain a failure in the same words, naming the artifact files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.judge import (association_lost, captures_complete, data_moved, delivery, init_advertised, no_abort,
                       no_application_error, no_data, path_state_seen, stall_within, wire_stall_within)
from lab.judge.check import fails, holds
from lab.evidence.wire import Wire
from lab.judge.findings import find
from lab.kernel.process import describe_status, tail
from lab.kernel.choice import kernel_tick
from lab.model.faultspec import BlackholeFault, DropChunksFault, FaultSpec, ImpairFault
from lab.model.netem import NetemParams
from lab.model.profile import TimerProfile
from lab.model.protocol import SCENARIO_PATH_STATES
from lab.report.model import Check, WindowRecord
from lab.scenario.runner import Run
from lab.timing import Window, abort_window, alternate_data_window, failback_window, switch_stall_window

__all__ = ["Judgement", "judge"]


@dataclass
class Judgement:
    """The checks of one run, the windows behind them, and the stall bound (if a failover was expected)."""

    checks: list[Check] = field(default_factory=list)
    windows: list[WindowRecord] = field(default_factory=list)
    stall: Window | None = None

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def window(self, run: Run, label: str, at: float, window: Window) -> None:
        self.windows.append(WindowRecord(label, run.clock(at) + window.low, run.clock(at) + window.high, window.basis))


def _impaired(run: Run, path: str, at: float) -> tuple[float, float]:
    """One-way delay (s) and loss (%) on ``path`` at ``at``: netem built into its links plus impairments applied then.

    Per link the largest value counts, as netem merges them; delays add up along the path, losses are bounded
    by the worst link.
    """
    topology, scenario = run.loaded.topology, run.loaded.scenario
    spec = topology.path_map[path]
    delay, loss = 0.0, 0.0
    for link in dict.fromkeys((spec.client, spec.server)):
        built = topology.link(link).impair
        merged = built.params() if built else NetemParams()
        for fault in scenario.fault_steps():
            applied, restored = run.applied.get(fault.name), run.restored.get(fault.name, run.end)
            if (isinstance(fault.fault, ImpairFault) and fault.fault.link == link and applied is not None
                    and applied <= at < restored):
                merged = merged.merge(fault.fault.params())
        delay += (merged.delay_ms + merged.jitter_ms) / 1000
        loss = max(loss, merged.loss_pct)
    return delay, loss


def _one_loss_more(window: Window, profile: TimerProfile, path: str) -> Window:
    """``window`` widened by one retransmission: with loss on ``path`` its first DATA (or the SACK) may be lost,
    and the kernel sends it again after at most one RTO, which never exceeds rto_max."""
    return Window(window.low, window.high + profile.rto_max / 1000,
                  f"{window.basis}; + one loss on {path} (rto_max={profile.rto_max} ms)")


def _at_most(window: Window) -> Window:
    """``window`` from 0: for the user's applications, whose traffic the lab does not pace, data may keep flowing
    (retransmissions on the alternate path, a full congestion window) and shorten the gap; only exceeding the upper
    bound means the failover came late."""
    return Window(0.0, window.high, f"{window.basis}; at most {window.high:g} s for an application's own traffic")


def _breaks_client_to_server(run: Run, fault: FaultSpec) -> bool:
    """Whether DATA from the client stops: False for faults on the server-to-client direction only."""
    if not isinstance(fault, (BlackholeFault, ImpairFault, DropChunksFault)) or fault.direction == "both":
        return True
    link = run.loaded.topology.link(fault.link)
    a_to_b_is_upstream = link.a.node == "client" or link.b.node == "server"
    return (fault.direction == "a-to-b") == a_to_b_is_upstream


def _profile(run: Run) -> TimerProfile:
    """The timers behind the predicted windows: the scenario's profile, with the values the kernel showed for the
    association in /proc/net/sctp when the user's application runs (it may set its own through socket options)."""
    profile, watcher = run.loaded.scenario.profile, run.watcher
    if watcher is None:
        return profile
    shown = watcher.timers("client", run.evidence.server)
    update = {key: shown[key] for key in ("path_max_retrans", "association_max_retrans") if shown.get(key)}
    if shown.get("hb_interval_ms"):
        update["hb_interval"] = shown["hb_interval_ms"]
    if not update or all(getattr(profile, key) == value for key, value in update.items()):
        return profile
    return profile.model_copy(update={**update, "name": f"{profile.name} as the kernel showed it"})


def _applications(run: Run, out: Judgement) -> None:
    """Each application ran until it was stopped (or ended by itself), ended as expected, and its checks passed."""
    for side, app in run.apps.items():
        if app.died_early is not None:
            out.checks.append(fails(f"{side} application", "it runs until the lab stops it", app.died_early,
                                    str(app.log)))
        allowed = "any exit status" if app.app.exit == "any" else "exit status " + " or ".join(map(str, app.app.exit))
        expected = allowed + (f", or the end by {app.app.stop.signal} when the lab stops it"
                              if app.app.ends == "stopped" else ", ending by itself")
        out.checks.append(Check(f"{side} exit", app.exit_ok(), expected, app.status(), str(app.log)))
        for result in app.checks:
            seen = describe_status(result.returncode) + ("" if result.ok else f"; its output:\n{tail(result.log)}")
            out.checks.append(Check(f"{side} check: {' '.join(result.argv)}", result.ok, "exit status 0", seen,
                                    str(result.log)))


def judge(run: Run) -> Judgement:
    """Every check the scenario's ``expect:`` asks for, plus the lab's own (steps done, captures complete)."""
    scenario, ev = run.loaded.scenario, run.evidence
    expect = scenario.expect
    out = Judgement()
    faults = {fault.name: fault for fault in scenario.fault_steps()}

    out.checks.append(Check("steps", not run.errors, "every step carried out", "; ".join(run.errors) or "all were"))
    out.checks.append(captures_complete(run.captures, run.log))
    if run.delivery is not None:
        out.checks += delivery(run.delivery, lost=expect.delivery.lost, duplicated=expect.delivery.duplicated,
                               reordered=expect.delivery.reordered, where=str(run.folder / "messages.jsonl"))
    if run.pair is not None or run.lab_end is not None:
        out.checks.append(no_application_error(run.log, allowed=expect.application_errors, where=ev.timeline))
    _applications(run, out)
    if run.watcher is not None:
        shown = run.watcher.timers("client", ev.server)
        out.checks.append(holds("kernel timers", "the timers behind the windows, as the client's kernel showed them"
                                " (an application may set its own)", ", ".join(f"{k}={v}" for k, v in shown.items())
                                or "no association seen", ev.timeline))
    if run.pair is None:  # the user's applications: what the wire shows while the run lasted (stopping them at its
        # end may abort their association, which is no finding)
        allowed, wire = set(expect.findings), ev.wire
        until = run.captures.to_wall(run.end)
        during = Wire([c for c in wire.chunks if c.at <= until], wire.senders, wire.files)
        out.checks += [finding.check() for finding in find(during, client=ev.client, server=ev.server)
                       if finding.kind.id not in allowed]
    if expect.init_addresses:
        out.checks.append(init_advertised(ev))
    if run.heartbeats is not None:
        out.checks.append(run.heartbeats)
    if expect.abort is None:
        out.checks.append(no_abort(ev, until=None if run.pair is not None else run.end))
    if expect.failover is not None:
        _failover(run, out, expect.failover.after, expect.failover.to, faults[expect.failover.after].fault)
    if expect.no_failover is not None:
        _no_failover(run, out, expect.no_failover.after)
    if expect.failback is not None:
        _failback(run, out, expect.failback.after)
    if expect.abort is not None:
        _abort(run, out, expect.abort.after, paths=len(ev.server))
    for state in expect.path_states:
        _path_state(run, out, state.side, state.path, state.state, state.after)
    return out


def _failover(run: Run, out: Judgement, name: str, to: str, fault: FaultSpec) -> None:
    """DATA reaches path ``to`` within the alternate-data window of fault ``name``; the stall fits the switch."""
    scenario, topology, ev, tick = run.loaded.scenario, run.loaded.topology, run.evidence, kernel_tick()
    at, r0 = run.applied.get(name), run.rto_at.get(name)
    if at is None or r0 is None:
        out.checks.append(fails(f"failover to {to}", f"fault {name} applied", "it never was"))
        return
    interval, profile = 1 / scenario.traffic.rate, _profile(run)
    delay, loss = _impaired(run, to, at)
    window = alternate_data_window(profile, r0_ms=r0, tick=tick, interval=interval, alternate_delay=delay)
    if loss:
        window = _one_loss_more(window, profile, to)
    if "client" in run.apps:  # an application's own traffic is not paced by the lab: a retransmission may take the
        window = _at_most(window)  # alternate path sooner, and only the upper bound says it failed over in time
    src, dst = (str(a) for a in topology.path_addresses(to))
    out.window(run, f"data on {to}", at, window)
    out.checks.append(data_moved(ev, src=src, dst=dst, after=at, within=window, event=name, name=f"failover to {to}"))
    stall = switch_stall_window(profile, r0_ms=r0, tick=tick, interval=interval, alternate_delay=delay)
    if loss:
        stall = _one_loss_more(stall, profile, to)
    if not _breaks_client_to_server(run, fault):
        stall = Window(0.0, stall.high, stall.basis + "; client-to-server still delivers")
    elif "client" in run.apps:
        stall = _at_most(stall)
    out.stall = stall
    if run.delivery is not None:
        out.checks.append(stall_within(run.delivery, stall, where=str(run.folder / "messages.jsonl")))
    else:
        out.checks.append(wire_stall_within(ev, stall, start=at, end=run.restored.get(name, run.end), event=name))


def _no_failover(run: Run, out: Judgement, name: str) -> None:
    """No DATA on any path but the primary while fault ``name`` lasts."""
    topology, ev, tick = run.loaded.topology, run.evidence, kernel_tick()
    start, until = run.applied.get(name, run.end) + tick, run.restored.get(name, run.end)
    primary = tuple(str(a) for a in topology.path_addresses(topology.primary_path))
    for path in topology.path_map:
        src, dst = (str(a) for a in topology.path_addresses(path))
        if (src, dst) != primary:
            out.checks.append(no_data(ev, src=src, dst=dst, start=start, end=until, why=f"while {name} lasts",
                                      name=f"no failover to {path}"))


def _failback(run: Run, out: Judgement, name: str) -> None:
    """DATA is back on the primary within the failback window of restoring fault ``name``."""
    topology = run.loaded.topology
    primary = topology.primary_path
    back = run.restored.get(name)
    if back is None:
        out.checks.append(fails(f"failback to {primary}", f"fault {name} restored", "it never was"))
        return
    window = failback_window(run.loaded.scenario.profile, tick=kernel_tick())
    src, dst = (str(a) for a in topology.path_addresses(primary))
    out.window(run, f"data back on {primary}", back, window)
    out.checks.append(data_moved(run.evidence, src=src, dst=dst, after=back, within=window,
                                 event=f"restoring {name}", name=f"failback to {primary}"))


def _abort(run: Run, out: Judgement, name: str, *, paths: int) -> None:
    """The client sees COMM_LOST within the abort window of fault ``name``."""
    scenario = run.loaded.scenario
    at, r0 = run.applied.get(name), run.rto_at.get(name)
    if at is None or r0 is None:
        out.checks.append(fails("abort", f"fault {name} applied", "it never was"))
        return
    window = abort_window(_profile(run), r0_ms=r0, tick=kernel_tick(), interval=1 / scenario.traffic.rate,
                          paths=paths)
    out.window(run, "COMM_LOST", at, window)
    out.checks.append(association_lost(run.evidence, side="client", after=at, within=window, event=name))


def _path_state(run: Run, out: Judgement, side: str, path: str, state: str, after: str) -> None:
    """The kernel reported (notification) or showed (polled) ``state`` while fault ``after`` lasted."""
    peer = str(run.loaded.topology.path_addresses(path)[1 if side == "client" else 0])
    out.checks.append(path_state_seen(run.evidence, side=side, peer=peer, state=SCENARIO_PATH_STATES[state],
                                      start=run.applied.get(after, run.end), until=run.restored.get(after, run.end),
                                      event=after, name=f"{side} sees {path} {state}"))
