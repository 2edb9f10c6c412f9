"""The kernel's view of every path over time, for both endpoints.

Notifications (SCTP_PEER_ADDR_CHANGE, SCTP_ASSOC_CHANGE, ...) already land in
the run's :class:`~lab.events.EventLog`. What has no notification (the RTO,
SRTT and cwnd of each path, a state change the kernel does not announce, the
primary) is polled from SCTP_GET_PEER_ADDR_INFO and SCTP_STATUS by one thread
per run. A sample is kept when a path's state or RTO changes, and otherwise
at most every ``keep_every`` seconds, so the timeline stays readable.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.events import EventLog
from lab.sctp.endpoint import Endpoint
from lab.sctp.pair import EndpointPair

__all__ = ["PathSample", "PathPoller", "POLL_INTERVAL"]

#: Two jiffies of the guest kernel: finer than any timer of the fast profile.
POLL_INTERVAL = 0.02


@dataclass(frozen=True)
class PathSample:
    """One reading of SCTP_GET_PEER_ADDR_INFO (times in the run's monotonic clock)."""

    at: float
    side: str
    peer: str
    state: str
    rto_ms: int
    srtt_ms: int
    cwnd: int
    primary: bool


class PathPoller:
    """Polls both endpoints' paths in a thread while the context is open."""

    def __init__(self, pair: EndpointPair, *, interval: float = POLL_INTERVAL, keep_every: float = 0.1) -> None:
        self.pair = pair
        self.interval = interval
        self.keep_every = keep_every
        self.samples: list[PathSample] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="path-poller", daemon=True)
        self._last: dict[tuple[str, str], PathSample] = {}

    def __enter__(self) -> PathPoller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for endpoint in (self.pair.client, self.pair.server):
                if endpoint.sock is not None and not endpoint.closing.is_set():
                    self._poll(endpoint)

    def _poll(self, endpoint: Endpoint) -> None:
        try:
            primary = endpoint.primary()
            peers = endpoint.peer_addresses()
            for peer in peers:
                info = endpoint.path_info(peer)
                sample = PathSample(time.monotonic(), endpoint.side, peer, info.state_name, info.rto_ms,
                                    info.srtt_ms, info.cwnd, peer == primary)
                self._keep(sample)
        except (OSError, LabError) as err:
            if not endpoint.closing.is_set():
                self.failures.append(f"{endpoint.side}: {err}")

    def _keep(self, sample: PathSample) -> None:
        key = (sample.side, sample.peer)
        last = self._last.get(key)
        if (last is None or (last.state, last.rto_ms, last.primary) != (sample.state, sample.rto_ms, sample.primary)
                or sample.at - last.at >= self.keep_every):
            self.samples.append(sample)
            self._last[key] = sample

    def latest(self, side: str, peer: str) -> PathSample | None:
        """The most recent reading of ``side``'s path to ``peer`` (None before the first)."""
        return self._last.get((side, peer))

    def states(self, side: str, peer: str) -> list[tuple[float, str]]:
        """(time, state) each time the polled state of ``side``'s path to ``peer`` changed."""
        out: list[tuple[float, str]] = []
        for s in self.samples:
            if s.side == side and s.peer == peer and (not out or out[-1][1] != s.state):
                out.append((s.at, s.state))
        return out

    def timeline(self, log: EventLog) -> dict[str, Any]:
        """Notifications and samples in one JSON-ready document, times relative to the run's start."""
        start = log.start
        return {
            "clock": "seconds since the run started (monotonic)",
            "events": [
                {"at": round(e.at - start, 6), "side": e.side, "kind": e.kind, "detail": e.detail,
                 **{k: v for k, v in e.data.items() if isinstance(v, (str, int, float, bool, type(None)))}}
                for e in log.events()
            ],
            "paths": [{**asdict(s), "at": round(s.at - start, 6)} for s in self.samples],
            "poll_failures": self.failures,
        }

    def save(self, path: Path, log: EventLog) -> None:
        path.write_text(json.dumps(self.timeline(log), indent=1) + "\n")
