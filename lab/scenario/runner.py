"""Carry out a scenario: build its topology, start the association and traffic, play the timeline.

:func:`run_scenario` is the one place a scenario runs, for pytest, for CI and
for ``sctplab replay``: it returns a :class:`Run` with everything observed
(the judging is :mod:`lab.scenario.judge`, the report
:mod:`lab.scenario.reporting`). Time 0 is when the traffic starts; each
step runs at its offset from it, in the calling thread (the lab's netlink
sockets belong to the thread that opened them). An :class:`Observer` sees
the run as it happens (the live view of ``sctplab replay``).
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from lab.errors import WaitTimeout
from lab.events import EventKind, EventLog
from lab.evidence.associations import AssociationWatcher
from lab.evidence.capture import Captures, capture
from lab.evidence.paths import PathPoller
from lab.evidence.run import Evidence
from lab.faults import from_spec, inject
from lab.kernel.choice import kernel_tick
from lab.kernel.network import Network, build, new_tag
from lab.model.scenario import ApplyFault, LoadedScenario, RestoreFault, SetPrimary, WaitState
from lab.judge import every_peer_address_heartbeated
from lab.report.model import Check
from lab.scenario.applications import AppOutcome, run_checks, started
from lab.sctp.endpoint import Client, Endpoint, Server
from lab.sctp.pair import EndpointPair, endpoint_pair
from lab.model.protocol import SCENARIO_PATH_STATES
from lab.sctp.traffic import DeliveryReport, analyse
from lab.timing import heartbeat_window

__all__ = ["Observer", "Run", "StepDone", "describe_action", "run_scenario"]


@dataclass(frozen=True)
class StepDone:
    """A step as carried out: ``at`` on the monotonic clock, ``action`` as in the file, ``ok`` False if it failed."""

    at: float
    action: str
    detail: str
    ok: bool = True


class Observer(Protocol):
    """Hooks into a running scenario (all optional in effect: :class:`_Quiet` does nothing)."""

    def ready(self, run: Run) -> None:
        """The association is up and confirmed; traffic is about to start."""

    def before_step(self, at: float, detail: str) -> None:
        """About to carry out the step planned at ``at`` s (may block: ``replay --step``)."""

    def step(self, done: StepDone) -> None:
        """A step was carried out."""


class _Quiet:
    def ready(self, run: Run) -> None:
        pass

    def before_step(self, at: float, detail: str) -> None:
        pass

    def step(self, done: StepDone) -> None:
        pass


@dataclass
class Run:
    """What one scenario run observed; filled in as it goes."""

    loaded: LoadedScenario
    folder: Path
    net: Network
    pair: EndpointPair | None  #: the lab's own endpoints (None when an application runs at either end)
    evidence: Evidence
    captures: Captures
    poller: PathPoller | AssociationWatcher
    log_: EventLog | None = None
    apps: dict[str, AppOutcome] = field(default_factory=dict)  #: side -> the user's application there
    lab_end: Endpoint | None = None  #: the lab's own endpoint facing an application
    t0: float = 0.0  # traffic start (monotonic)
    steps: list[StepDone] = field(default_factory=list)
    applied: dict[str, float] = field(default_factory=dict)  # fault name -> when applied
    restored: dict[str, float] = field(default_factory=dict)  # fault name -> when undone
    rto_at: dict[str, int] = field(default_factory=dict)  # fault name -> the primary's RTO (ms) just before it
    started: str = ""  # wall-clock time of the traffic's start (ISO 8601, UTC)
    end: float = 0.0
    heartbeats: Check | None = None  # the heartbeat matrix before the traffic (None: not asked for)
    delivery: DeliveryReport | None = None
    errors: list[str] = field(default_factory=list)  # steps that could not be carried out

    @property
    def log(self) -> EventLog:
        if self.pair is not None:
            return self.pair.log
        assert self.log_ is not None
        return self.log_

    @property
    def watcher(self) -> AssociationWatcher | None:
        """The black-box kernel view (runs of applications)."""
        return self.poller if isinstance(self.poller, AssociationWatcher) else None

    def primary_rto(self) -> int:
        """The RTO (ms) of the client's path to the server's primary address, as the kernel shows it now."""
        topology = self.loaded.topology
        if self.pair is not None:
            return self.pair.client.path_info(self.pair.client.primary()).rto_ms
        watcher = self.watcher
        assert watcher is not None
        peer = str(topology.path_addresses(topology.primary_path)[1])
        sample = watcher.latest("client", peer)
        return sample.rto_ms if sample is not None else self.loaded.scenario.profile.rto_initial

    def clock(self, monotonic: float) -> float:
        """Seconds since the traffic started."""
        return monotonic - self.t0

    def association_lost(self) -> bool:
        return any(e.detail == "COMM_LOST" for e in self.log.events(kind=EventKind.ASSOC))


#: What each planned action is called in the report's steps.
_ACTION_NAMES: dict[type, str] = {ApplyFault: "fault", RestoreFault: "restore", SetPrimary: "primary", WaitState: "wait"}


def describe_action(action: object) -> str:
    """One line saying what a planned action does."""
    if isinstance(action, ApplyFault):
        return f"{action.name}: {from_spec(action.fault).describe()}"
    if isinstance(action, RestoreFault):
        return f"restore {action.name}"
    if isinstance(action, SetPrimary):
        return f"primary -> {action.path}"
    if isinstance(action, WaitState):
        return f"wait until the {action.side} sees {action.path} {action.state} (at most {action.timeout:g} s)"
    raise TypeError(action)


def _play(run: Run, observer: Observer, cancel: threading.Event) -> None:
    """Carry out the plan, then keep the traffic going until the scenario's duration."""
    scenario, pair = run.loaded.scenario, run.pair
    topology = run.loaded.topology
    with ExitStack() as faults:
        undo: dict[str, ExitStack] = {}
        for at, action in scenario.plan():
            detail = describe_action(action)
            observer.before_step(at, detail)
            if cancel.wait(max(0.0, run.t0 + at - time.monotonic())):
                return
            ok = True
            if isinstance(action, ApplyFault):
                run.rto_at[action.name] = run.primary_rto()
                own = ExitStack()
                own.enter_context(inject(run.net, from_spec(action.fault, log=run.log), log=run.log))
                run.applied[action.name] = time.monotonic()
                undo[action.name] = own
                faults.callback(lambda name=action.name: _undo(run, undo, name))  # type: ignore[misc]
            elif isinstance(action, RestoreFault):
                _undo(run, undo, action.name)
            elif isinstance(action, SetPrimary):
                client = pair.client if pair is not None else run.lab_end
                assert isinstance(client, Client)  # checked when the scenario was loaded
                client.set_primary(topology.path_addresses(action.path)[1])
                run.log.add("lab", EventKind.PRIMARY, detail)
            else:
                peer = topology.path_addresses(action.path)[1 if action.side == "client" else 0]
                state = SCENARIO_PATH_STATES[action.state]
                try:
                    if run.watcher is not None:
                        run.watcher.wait_state(action.side, str(peer), state.polled, timeout=action.timeout)
                    else:
                        assert pair is not None
                        pair.wait_path_state(action.side, peer, state.code, timeout=action.timeout)
                except WaitTimeout as err:
                    ok = False
                    run.errors.append(f"step at {at:g} s: {err}")
            done = StepDone(time.monotonic(), _ACTION_NAMES[type(action)], detail, ok)
            run.steps.append(done)
            observer.step(done)
        cancel.wait(max(0.0, run.t0 + scenario.effective_duration - time.monotonic()))


def _play_from_now(run: Run, observer: Observer, cancel: threading.Event, *, stop: Callable[[], object]) -> None:
    """Time 0 is now: play the timeline; then, whatever happened, mark the end and ``stop`` what sends."""
    run.t0 = time.monotonic()
    run.started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        _play(run, observer, cancel)
    finally:
        run.end = time.monotonic()
        stop()


def _undo(run: Run, undo: dict[str, ExitStack], name: str) -> None:
    stack = undo.pop(name, None)
    if stack is not None:
        stack.close()
        run.restored[name] = time.monotonic()


def _heartbeat_matrix(run: Run) -> None:
    """Wait (one heartbeat period at most) until both ends heartbeated every peer address, before any DATA.

    While DATA flows on a path it is not heartbeated, so this is checked now.
    """
    within = heartbeat_window(run.loaded.scenario.profile, tick=kernel_tick())
    run.heartbeats = every_peer_address_heartbeated(run.evidence, within=within)


def _stop_traffic(run: Run) -> DeliveryReport:
    """Stop sending; wait for the deliveries unless the association is gone; analyse."""
    pair = run.pair
    assert pair is not None
    if not run.association_lost():
        try:
            return pair.stop_traffic()
        except WaitTimeout:
            pass  # what never arrived is reported as lost
    sent = pair.client.stop_sending()
    return analyse(sent, list(pair.server.arrivals), streams=pair.streams)


def run_scenario(loaded: LoadedScenario, *, folder: Path, observer: Observer | None = None,
                 cancel: threading.Event | None = None, net: Network | None = None) -> Run:
    """Run the scenario; leave its captures and timeline in ``folder``; return what was observed.

    The scenario's topology is built for the run, unless ``net`` (built from
    it, e.g. by a lab that stays up afterwards) is given. Every kernel object
    the run creates is undone before this returns, also on failure or
    Ctrl-C. A step that cannot be carried out is recorded in
    :attr:`Run.errors` (the verdict fails); lab errors propagate.
    """
    observer = observer or _Quiet()
    cancel = cancel or threading.Event()
    scenario = loaded.scenario
    folder.mkdir(parents=True, exist_ok=True)
    if scenario.applications is not None:
        return _run_applications(loaded, folder=folder, observer=observer, cancel=cancel, net=net)
    log = EventLog()
    with ExitStack() as stack:
        if net is None:
            net = stack.enter_context(build(loaded.topology))
        captures = stack.enter_context(capture(net, folder))
        pair = stack.enter_context(endpoint_pair(net, profile=scenario.profile, log=log))
        poller = stack.enter_context(PathPoller(pair))
        evidence = Evidence.of_pair(pair, folder=folder, captures=captures, paths=poller)
        run = Run(loaded, folder, net, pair, evidence, captures, poller)
        try:
            pair.wait_all_paths_active()
        except WaitTimeout as err:
            run.errors.append(f"before the traffic: {err}")
        if scenario.expect.heartbeat_matrix:
            _heartbeat_matrix(run)
        observer.ready(run)
        traffic = scenario.traffic
        pair.start_traffic(rate=traffic.rate, size=traffic.size, streams=traffic.streams, ppid=traffic.ppid)

        def stop() -> None:
            run.delivery = _stop_traffic(run)
            evidence.save(run.delivery)

        _play_from_now(run, observer, cancel, stop=stop)
    evidence.refresh()  # the captures are complete now; anything read earlier was partial
    return run


def _lab_end(net: Network, side: str, port: int, log: EventLog) -> Endpoint:
    """The lab's own endpoint facing the user's application at the other end."""
    if side == "client":
        return Client(net, "client", log, net.addresses("server"), port)
    return Server(net, "server", log, port, foreign=True)


def _run_applications(loaded: LoadedScenario, *, folder: Path, observer: Observer, cancel: threading.Event,
                      net: Network | None) -> Run:
    """:func:`run_scenario` for a scenario with ``applications:``: the user's programs at one or both ends,
    watched black-box (the wire, and /proc/net/sctp in each endpoint's namespace)."""
    scenario, topology = loaded.scenario, loaded.topology
    apps = scenario.applications
    assert apps is not None
    log = EventLog()
    mark = f"{new_tag()}:{os.getpid()}"
    with ExitStack() as stack:
        if net is None:
            net = stack.enter_context(build(topology))
        captures = stack.enter_context(capture(net, folder))
        watcher = stack.enter_context(AssociationWatcher({node: net.netns(node) for node in ("client", "server")},
                                                         tick=kernel_tick()))
        evidence = Evidence(folder=folder, log=log, client=[str(a) for a in net.addresses("client")],
                            server=[str(a) for a in net.addresses("server")], captures=captures, paths=watcher,
                            profile=scenario.profile)
        run = Run(loaded, folder, net, None, evidence, captures, watcher, log_=log)
        lab_side = next((side for side in ("server", "client") if apps.of(side) is None), None)
        if lab_side == "server":  # the lab's server listens before the user's client starts
            run.lab_end = _lab_end(net, "server", apps.port, log)
            stack.callback(run.lab_end.close)
        stack.callback(lambda: run_checks(loaded, net, run.apps, folder=folder, mark=mark)
                       if not cancel.is_set() else None)  # after the applications stopped, before the network goes
        run.apps = stack.enter_context(started(loaded, net, folder=folder, watcher=watcher, mark=mark))
        outcomes = run.apps
        for outcome in outcomes.values():
            log.add(outcome.side, EventKind.PROCESS, f"{outcome.name} ready after {outcome.ready_after:.3f} s: "
                    f"{' '.join(outcome.argv)}", name=outcome.name)
        if lab_side == "client":
            client = _lab_end(net, "client", apps.port, log)
            run.lab_end = client
            stack.callback(client.close)
            watcher.wait_association("client", timeout=10.0, port=apps.port)
        observer.ready(run)
        if isinstance(run.lab_end, Client):
            traffic = scenario.traffic
            run.lab_end.start_sending(rate=traffic.rate, size=traffic.size, streams=traffic.streams,
                                      ppid=traffic.ppid)
        lab_client = run.lab_end if isinstance(run.lab_end, Client) else None
        _play_from_now(run, observer, cancel, stop=lab_client.stop_sending if lab_client else lambda: None)
    for outcome in run.apps.values():  # stopped now, in reverse order
        log.add(outcome.side, EventKind.PROCESS, f"{outcome.name} ended: {outcome.status()}", name=outcome.name)
    evidence.save()
    evidence.refresh()
    return run
