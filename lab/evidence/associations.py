"""The kernel's view of every association in the lab, black-box: ``/proc/net/sctp`` polled per node.

Without the application's socket there is no SCTP_GET_PEER_ADDR_INFO; the
kernel still shows every association of a namespace in
``/proc/net/sctp/assocs`` and each path's state, RTO, strike count and
path_max_retrans in ``remaddr`` (:mod:`lab.kernel.sctpproc`). An
:class:`AssociationWatcher` polls them in one thread per node (each thread
enters its node's namespace once) and keeps a sample whenever a path's
state, RTO or primary changes, and otherwise at most every ``keep_every``
seconds. It is the kernel view of :class:`~lab.evidence.run.Evidence`
(``states``/``save``) for a run of the user's applications, and the pytest
watcher that waits for a path state by ports and peer address.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.events import EventLog
from lab.kernel import netns
from lab.kernel.sctpproc import Association, read_associations
from lab.wait import wait_until

__all__ = ["AssociationSample", "AssociationWatcher", "WATCH_INTERVAL"]

#: Two jiffies of the guest kernel, as for the lab's own path poller.
WATCH_INTERVAL = 0.02


@dataclass(frozen=True)
class AssociationSample:
    """One path of one association, as ``/proc/net/sctp`` showed it (``at``: the run's monotonic clock)."""

    at: float
    side: str  #: the node whose kernel shows it
    assoc_id: int
    local_port: int
    peer_port: int
    peer: str
    state: str  #: ACTIVE, PF, INACTIVE, UNCONFIRMED
    rto_ms: int
    errors: int
    max_retrans: int  #: path_max_retrans of this path
    primary: bool
    assoc_state: str  #: ESTABLISHED, SHUTDOWN_SENT, ...


class AssociationWatcher:
    """Polls every association of ``nodes`` (node -> namespace) while the context is open."""

    def __init__(self, namespaces: dict[str, str], *, tick: float, interval: float = WATCH_INTERVAL,
                 keep_every: float = 0.1) -> None:
        self.namespaces, self.tick, self.interval, self.keep_every = dict(namespaces), tick, interval, keep_every
        self.samples: list[AssociationSample] = []
        self.failures: list[str] = []
        self.associations: dict[tuple[str, int], Association] = {}  #: (node, assoc id) -> as last seen
        self._last: dict[tuple[str, int, str], AssociationSample] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(node, name), name=f"assoc-watch-{node}", daemon=True)
                         for node, name in self.namespaces.items()]

    def __enter__(self) -> AssociationWatcher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self, node: str, namespace: str) -> None:
        try:
            netns.enter(namespace)  # this thread only, for good: it ends with the watcher
        except LabError as err:
            self.failures.append(f"{node}: {err}")
            return
        while True:
            self.poll(node)
            if self._stop.wait(self.interval):
                return

    def poll(self, node: str) -> None:
        """Read the calling thread's namespace once, as ``node``'s view."""
        try:
            found = read_associations(tick=self.tick)
        except (OSError, ValueError, IndexError) as err:
            self.failures.append(f"{node}: {err}")
            return
        now = time.monotonic()
        with self._lock:
            for assoc in found:
                self.associations[(node, assoc.assoc_id)] = assoc
                for path in assoc.paths:
                    self._keep(AssociationSample(now, node, assoc.assoc_id, assoc.local_port, assoc.peer_port,
                                                 path.address, path.state, round(path.rto_s * 1000), path.errors,
                                                 path.max_retrans, path.primary, assoc.state))

    def _keep(self, sample: AssociationSample) -> None:
        key = (sample.side, sample.assoc_id, sample.peer)
        last = self._last.get(key)
        if (last is None or (last.state, last.rto_ms, last.primary, last.assoc_state)
                != (sample.state, sample.rto_ms, sample.primary, sample.assoc_state)
                or sample.at - last.at >= self.keep_every):
            self.samples.append(sample)
        self._last[key] = sample

    # -- queries ------------------------------------------------------------------------------------

    def latest(self, side: str, peer: str, *, ports: tuple[int, int] | None = None) -> AssociationSample | None:
        """The most recent reading of ``side``'s path to ``peer`` (of the association on ``ports``:
        (local, peer) port, if given; else of the association seen last)."""
        with self._lock:
            found = [s for (node, _, address), s in self._last.items() if node == side and address == peer
                     and (ports is None or (s.local_port, s.peer_port) == ports)]
        return max(found, key=lambda s: (s.at, s.assoc_id), default=None)

    def states(self, side: str, peer: str) -> list[tuple[float, str]]:
        """(time, state) each time the state of ``side``'s path to ``peer`` changed (any association)."""
        out: list[tuple[float, str]] = []
        with self._lock:
            samples = list(self.samples)
        for s in samples:
            if s.side == side and s.peer == peer and (not out or out[-1][1] != s.state):
                out.append((s.at, s.state))
        return out

    def wait_state(self, side: str, peer: str, state: str, *, timeout: float,
                   ports: tuple[int, int] | None = None) -> AssociationSample:
        """Wait until ``side``'s kernel shows ``state`` (ACTIVE, PF, INACTIVE, UNCONFIRMED) for ``peer``."""
        def reached() -> AssociationSample | None:
            sample = self.latest(side, peer, ports=ports)
            return sample if sample is not None and sample.state == state else None

        on = f" on ports {ports[0]}->{ports[1]}" if ports else ""
        return wait_until(reached, timeout=timeout, what=f"the {side}'s kernel to show {peer} {state}{on}"
                          " (/proc/net/sctp/remaddr)", interval=self.interval)

    def wait_association(self, side: str, *, timeout: float, port: int | None = None) -> Association:
        """Wait until ``side`` has an established association (on local or peer port ``port``, if given)."""
        def found() -> Association | None:
            with self._lock:
                for (node, _), assoc in self.associations.items():
                    if node == side and assoc.state == "ESTABLISHED" and (
                            port is None or port in (assoc.local_port, assoc.peer_port)):
                        return assoc
            return None

        on = f" on port {port}" if port else ""
        return wait_until(found, timeout=timeout, what=f"an established association in {side}{on}"
                          " (/proc/net/sctp/assocs)", interval=self.interval)

    def timeline(self, log: EventLog) -> dict[str, Any]:
        """Events and samples in one JSON-ready document (the same shape as the lab's own path poller's)."""
        start = log.start
        with self._lock:
            samples = list(self.samples)
            associations = list(self.associations.items())
        return {
            "clock": "seconds since the run started (monotonic)",
            "source": "/proc/net/sctp (assocs, remaddr), polled per node",
            "events": [{"at": round(e.at - start, 6), "side": e.side, "kind": e.kind, "detail": e.detail}
                       for e in log.events()],
            "paths": [{**asdict(s), "at": round(s.at - start, 6)} for s in samples],
            "associations": [{"side": node, **asdict(assoc)} for (node, _), assoc in associations],
            "poll_failures": self.failures,
        }

    def save(self, path: Path, log: EventLog) -> None:
        path.write_text(json.dumps(self.timeline(log), indent=1) + "\n")

    def timers(self, side: str, peers: Sequence[str]) -> dict[str, Any]:
        """The timers ``side``'s kernel showed for its paths to ``peers`` (latest readings): RTO per path,
        path_max_retrans, and the association's heartbeat interval and max_retrans."""
        out: dict[str, Any] = {}
        for peer in peers:
            sample = self.latest(side, peer)
            if sample is not None:
                out[f"rto_ms[{peer}]"] = sample.rto_ms
                out["path_max_retrans"] = sample.max_retrans
                with self._lock:
                    assoc = self.associations.get((side, sample.assoc_id))
                if assoc is not None:
                    out["hb_interval_ms"] = round(assoc.hb_interval_s * 1000)
                    out["association_max_retrans"] = assoc.max_retrans
        return out
