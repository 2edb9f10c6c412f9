"""A running lab: its network, its association and traffic, the faults applied, its status.

:meth:`RunningLab.run` builds the topology, starts the lab's association and
does every kernel change in the thread that calls it (the process's main
thread: every netlink socket stays in the thread that made it) until ``down``.
Other threads hand it their work with :meth:`RunningLab.in_main` and wait for
the result; the requests that do (:mod:`lab.session.transport`) say which
methods run there. The processes ``sctplab run`` starts (:mod:`lab.session.processes`)
are started there too, and stopped there before the network goes.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from queue import Queue
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

from pydantic import ValidationError

from lab.errors import LabError
from lab.events import EventKind, EventLog
from lab.session.processes import LabProcesses
from lab.session.records import lab_dir
from lab.session.status import (
    RATE_WINDOW, FaultStatus, LabInfo, LabStatus, LinkEnd, LinkStatus, ProcessStatus, RecentEvent, TrafficStatus,
)

if TYPE_CHECKING:
    from lab.faults import Fault
    from lab.kernel.network import Network
    from lab.model.profile import TimerProfile
    from lab.model.scenario import LoadedScenario
    from lab.sctp.pair import EndpointPair
    from lab.sctp.traffic import Arrival

__all__ = ["RunningLab", "arrival_rates"]

T = TypeVar("T")

#: How many of the last events and application errors the status shows.
_EVENTS, _ERRORS = 8, 5


@dataclass
class _Applied:
    """A fault applied by request: its number, what it was asked as, and the undo."""

    number: int
    link: str
    kind: str
    fault: Fault
    stack: ExitStack


class RunningLab:
    """One lab: :meth:`run` in the main thread; the other methods from any thread unless they say so."""

    def __init__(self, topology_file: Path, *, tag: str, profile: TimerProfile, rate: float,
                 scenario: LoadedScenario | None = None, out: Path | None = None, folder: Path | None = None) -> None:
        self.topology_file, self.tag, self.profile, self.rate = topology_file, tag, profile, rate
        self.scenario, self.out = scenario, out
        self._replayed = scenario is None
        self.started = time.time()
        self.log = EventLog()
        #: set once the association is up (or the lab failed: :attr:`failure`)
        self.ready = threading.Event()
        self.failure: str | None = None
        #: set once the lab is down; then :attr:`farewell` says how it went
        self.finished = threading.Event()
        self.farewell = ""
        #: set once the answer to ``down`` has left (or nobody waits for one)
        self.replied = threading.Event()
        self._jobs: Queue[tuple[Callable[[], Any], Future[Any]] | None] = Queue()
        self._faults: list[_Applied] = []
        self._numbers = itertools.count(1)
        self._net: Network | None = None
        self._pair: EndpointPair | None = None
        #: what ``sctplab run`` started; their logs go to ``<folder>/processes`` (default: the lab's state folder)
        self.processes = LabProcesses((folder or lab_dir(tag)) / "processes", mark=f"{tag}:{os.getpid()}")

    # -- the main thread --------------------------------------------------------------------------

    def run(self) -> int:
        """Build, work until ``down``, tear down. Return the exit status."""
        from lab.kernel.network import build
        from lab.model.topology import load_topology
        from lab.sctp.pair import endpoint_pair

        status = 0
        try:
            topology = load_topology(self.topology_file)
            with build(topology, tag=self.tag) as net:
                self._net = net
                try:
                    if not self._replayed and self._work(until=lambda: self._replayed):
                        return status  # down before the replay
                    with endpoint_pair(net, profile=self.profile, log=self.log) as pair:
                        self._pair = pair
                        if self.rate > 0:
                            pair.start_traffic(rate=self.rate)
                        self.ready.set()
                        print(f"lab {self.tag} is up: {topology.name}", flush=True)
                        self._work()
                        stopped = self.processes.stop_all()
                        restored = self.restore(None)
                finally:
                    self.processes.stop_all()  # on the way out of a failure: before the network goes
            self.farewell = "; ".join(filter(None, [stopped, restored,
                                                    "the association is closed and the network removed"]))
        except LabError as err:
            self.failure = self.failure or str(err)
            self.farewell = f"the lab failed: {err}"
            status = 1
        except BaseException as err:  # a bug: say it, and still tear down (the with blocks did)
            self.failure = self.failure or f"{type(err).__name__}: {err}"
            self.farewell = f"the lab failed: {self.failure}"
            status = 1
            raise
        finally:
            self.ready.set()
            self.finished.set()
            self._refuse_waiting_jobs()
            print(self.farewell or f"lab {self.tag} is down", flush=True)
            self.replied.wait(timeout=5)  # let the answer to "down" leave before we do
        return status

    def _work(self, until: Callable[[], bool] = lambda: False) -> bool:
        """Do the other threads' kernel work until ``down`` (True) or ``until()`` holds after a job (False)."""
        while (job := self._jobs.get()) is not None:
            work, future = job
            try:
                future.set_result(work())
            except BaseException as err:
                future.set_exception(err)
            if until():
                return False
        return True

    def _refuse_waiting_jobs(self) -> None:
        while not self._jobs.empty():
            job = self._jobs.get()
            if job is not None:
                job[1].set_exception(LabError(self.failure or "the lab went down"))

    # -- any thread -------------------------------------------------------------------------------

    def in_main(self, work: Callable[[], T]) -> T:
        """Have the main thread do ``work``; its result (or exception)."""
        if self.finished.is_set():
            raise LabError("the lab is going down")
        future: Future[T] = Future()
        self._jobs.put((work, future))
        return future.result()

    def stop(self) -> None:
        """Go down once the current job is done (from any thread or a signal handler); nobody waits for an answer."""
        self.replied.set()
        self._jobs.put(None)

    def go_down(self) -> str:
        """Go down once the current job is done; wait until the lab is down and say how it went."""
        self._jobs.put(None)
        self.finished.wait()
        return self.farewell

    def wait_ready(self) -> None:
        """Wait until the association is up; :class:`LabError` if the lab failed instead."""
        self.ready.wait()
        if self.failure is not None:
            raise LabError(self.failure)

    @property
    def scenario_pending(self) -> bool:
        """Whether the lab still waits to replay its scenario (``replay --keep``) before its own association."""
        return not self._replayed

    @property
    def net(self) -> Network:
        """The built network."""
        if self._net is None:
            raise LabError("the lab's network is not built yet")
        return self._net

    def netns(self, node: object) -> str:
        """The namespace of ``node`` (a node of the topology, else :class:`LabError` naming them)."""
        nodes = list(self.net.topology.nodes)
        if node not in nodes:
            raise LabError(f"no node {node!r} in topology {self.net.topology.name} (nodes: {', '.join(nodes)})")
        return self.net.netns(str(node))

    # -- processes --------------------------------------------------------------------------------

    def start_process(self, node: str, argv: Sequence[str], *, name: str | None = None,
                      cwd: str | None = None) -> ProcessStatus:
        """(Main thread.) Start ``argv`` in ``node``'s namespace (``sctplab run``); its status."""
        return self.processes.start(node, self.netns(node), argv, name=name, cwd=cwd)

    def stop_process(self, name: str, *, signame: str, grace: float) -> ProcessStatus:
        """(Any thread but the main one.) Stop the process named ``name``: ``signame``, SIGKILL after ``grace`` s.

        The main thread finds it; the waiting happens here, so the lab answers other requests meanwhile."""
        process = self.in_main(lambda: self.processes.find(name, self.tag))
        return self.processes.stop(process, signame=signame, grace=grace)

    # -- faults and replay (main thread) ----------------------------------------------------------

    def fail(self, spec_data: object, *, impair: bool) -> str:
        """Apply the fault a scenario file would write as ``spec_data``; with ``impair``, an ``impair`` fault
        already applied to that link and direction is changed instead."""
        from lab.faults import Impair, from_spec, inject
        from lab.model.faultspec import error_text, parse_fault
        from lab.model.yamlsource import KeyedValueError

        try:
            spec = parse_fault(spec_data)
        except (ValidationError, KeyedValueError, ValueError) as err:
            raise LabError(f"invalid fault: {error_text(err)}") from err
        net = self.net
        net.topology.link(spec.link)
        fault = from_spec(spec, log=self.log)
        if impair and isinstance(fault, Impair):
            for applied in self._faults:
                if (isinstance(applied.fault, Impair) and applied.kind == "impair" and applied.link == spec.link
                        and applied.fault.direction == fault.direction):
                    applied.fault.update(fault.params)
                    self.log.add("lab", EventKind.IMPAIR, f"changed: {applied.fault.describe()}", link=spec.link)
                    return f"#{applied.number} now: {applied.fault.describe()}"
        stack = ExitStack()
        stack.enter_context(inject(net, fault, log=self.log))
        applied = _Applied(next(self._numbers), spec.link, spec.kind, fault, stack)
        self._faults.append(applied)
        return f"#{applied.number} applied: {fault.describe()}"

    def restore(self, link: str | None) -> str:
        """Undo the faults on ``link`` (all if None), last applied first, each verified by its snapshot."""
        if link is not None:
            self.net.topology.link(link)
        chosen = [f for f in self._faults if link is None or f.link == link]
        if not chosen:
            return "nothing to restore" + (f" on {link}" if link else "")
        done: list[str] = []
        problems: list[str] = []
        for applied in reversed(chosen):
            self._faults.remove(applied)
            try:
                applied.stack.close()
                done.append(f"#{applied.number} restored: {applied.fault.describe()}")
            except LabError as err:
                problems.append(f"#{applied.number} ({applied.fault.describe()}): {err}")
        if problems:
            raise LabError("restore failed: " + "; ".join(problems) + ("; " + "; ".join(done) if done else ""))
        return "\n".join(done)

    def take_scenario(self) -> tuple[LoadedScenario, Path]:
        """The scenario to replay on the network and its report folder; the lab's association starts after it."""
        assert self.scenario is not None and self.out is not None
        self._replayed = True
        return self.scenario, self.out

    # -- status (main thread) ---------------------------------------------------------------------

    def snapshot(self) -> LabStatus:
        """What ``sctplab status`` shows: the lab, its links, faults, traffic, every association, the last events."""
        from lab.kernel.choice import kernel_tick
        from lab.kernel.sctpproc import read_associations

        net, topology = self.net, self.net.topology
        tick = kernel_tick()
        names: dict[str, str] = {}
        links: list[LinkStatus] = []
        for name, link in topology.links.items():
            ends: dict[str, LinkEnd] = {}
            for node in link.nodes():
                address = str(net.address(name, node))
                names[address] = f"{node}/{name}"
                ends[node] = LinkEnd(net.ifname(name, node), address, net.operstate(name, node))
            links.append(LinkStatus(name, ends))
        associations = {}
        for node in topology.nodes:
            with net.entered(node):
                associations[node] = tuple(read_associations(tick=tick))
        return LabStatus(
            lab=LabInfo(self.tag, topology.name, str(self.topology_file), self.profile.describe(),
                        round(time.time() - self.started, 1), {node: net.netns(node) for node in topology.nodes}),
            links=tuple(links),
            names=names,
            faults=tuple(FaultStatus(f.number, f.link, f.fault.describe()) for f in self._faults),
            traffic=self._traffic(time.monotonic()),
            associations=associations,
            processes=self.processes.statuses({node: {a.inode: a.assoc_id for a in assocs}
                                               for node, assocs in associations.items()}),
            events=tuple(RecentEvent(round(e.at - self.log.start, 3), e.side, e.kind, e.detail)
                         for e in self.log.events()[-_EVENTS:]),
        )

    def _traffic(self, now: float) -> TrafficStatus:
        pair = self._pair
        assert pair is not None, "the lab's association is not up"
        return TrafficStatus(
            rate=self.rate,
            sent=pair.client.sent,
            delivered=pair.delivered(),
            per_peer=arrival_rates(pair.server.arrivals, now=now),
            errors=tuple(e.detail for e in self.log.errors()[-_ERRORS:]),
        )


def arrival_rates(arrivals: Sequence[Arrival], *, now: float, window: float = RATE_WINDOW) -> dict[str, float]:
    """Messages/s per client address over the last ``window`` seconds (most recent address first)."""
    recent: dict[str, int] = {}
    for arrival in reversed(arrivals):
        if arrival.received_at < now - window:
            break
        recent[arrival.peer] = recent.get(arrival.peer, 0) + 1
    return {peer: round(count / window, 1) for peer, count in recent.items()}
