"""The run report: what a scenario did, what the kernel and the wire showed, and the verdict.

Times (``at``, ``start``, ``end``) are seconds from the start of the test
traffic (t=0). A :class:`Report` is written as ``report.json`` and read back
unchanged, except that floats are rounded to 6 decimals (microseconds) on
writing. Sequences are tuples so that every record is immutable.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter

__all__ = [
    "FORMAT",
    "REPORT_NAME",
    "PathRef",
    "StepRecord",
    "StateChange",
    "DataSeries",
    "WindowRecord",
    "Check",
    "HeartbeatRecord",
    "Counts",
    "StallRecord",
    "Report",
    "bucket_counts",
]

#: Version of the ``report.json`` layout, written as its ``"format"`` key.
FORMAT = 1

#: The file name :meth:`Report.write` uses.
REPORT_NAME = "report.json"

_DECIMALS = 6


@dataclass(frozen=True)
class PathRef:
    """A path: the client address and the server address it joins (IPv4 or IPv6)."""

    name: str
    client: str
    server: str


@dataclass(frozen=True)
class StepRecord:
    """What the scenario did at ``at``: ``action`` is e.g. "fault", "restore", "primary", "wait"."""

    at: float
    action: str
    detail: str


@dataclass(frozen=True)
class StateChange:
    """From ``at`` on, ``side`` ("client" or "server") sees its path to ``peer`` in ``state``.

    ``state`` is a kernel path state: ACTIVE, PF, INACTIVE (unreachable) or UNCONFIRMED.
    """

    at: float
    side: Literal["client", "server"]
    peer: str
    state: str


@dataclass(frozen=True)
class DataSeries:
    """DATA chunks seen on a path: ``counts[i]`` chunks in ``[i*bucket, (i+1)*bucket)`` s."""

    path: str
    bucket: float
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.bucket > 0:
            raise ValueError(f"bucket must be positive (got {self.bucket})")

    @property
    def end(self) -> float:
        """Where the last bucket ends (s)."""
        return len(self.counts) * self.bucket

    @property
    def total(self) -> int:
        """All chunks in the series."""
        return sum(self.counts)


@dataclass(frozen=True)
class WindowRecord:
    """A predicted interval ``[start, end]`` on the time axis and the timers it was derived from."""

    label: str
    start: float
    end: float
    basis: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window {self.label!r} ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class Check:
    """One expectation and its outcome: what was expected, what was seen, and where the evidence is."""

    name: str
    passed: bool
    expected: str
    seen: str
    where: str = ""

    def sentence(self) -> str:
        """``expected ...; saw ...; see <where>``."""
        return f"expected {self.expected}; saw {self.seen}" + (f"; see {self.where}" if self.where else "")


@dataclass(frozen=True)
class HeartbeatRecord:
    """HEARTBEAT chunks sent from ``src`` to ``dst`` and the HEARTBEAT-ACKs that came back."""

    src: str
    dst: str
    heartbeats: int
    acks: int


@dataclass(frozen=True)
class AssociationRecord:
    """An association the kernel of ``node`` showed (/proc/net/sctp), matched to the wire's by ports: its
    verification tags there (None: the capture did not show them), and the peer addresses the kernel kept."""

    node: str
    assoc_id: int
    local_port: int
    peer_port: int
    peers: tuple[str, ...]
    tags: tuple[int | None, int | None] | None = None  #: (client's tag, server's tag) on the wire


@dataclass(frozen=True)
class Counts:
    """What became of the test messages."""

    sent: int
    delivered: int
    lost: int
    duplicated: int
    reordered: int
    app_errors: int


@dataclass(frozen=True)
class StallRecord:
    """The longest gap between deliveries: ``seconds`` long from ``at``, between two messages.

    ``predicted`` is the ``(low, high)`` bound (s) for its length, when there is one.
    """

    seconds: float
    at: float
    before_seq: int
    after_seq: int
    predicted: tuple[float, float] | None = None

    @property
    def in_prediction(self) -> bool | None:
        """Whether the length lies within ``predicted`` (ends included); None without a prediction."""
        if self.predicted is None:
            return None
        low, high = self.predicted
        return low <= self.seconds <= high


@dataclass(frozen=True)
class Report:
    """Everything a reader needs about one scenario run.

    ``primary`` is the name of the path the run started with as primary;
    ``init`` holds the addresses each side listed in its INIT / INIT-ACK
    (keys "client" and "server"); ``artifacts`` maps a name to a file name
    relative to the report's folder.
    """

    scenario: str
    description: str
    topology: str
    profile: str
    kernel: str
    started: str
    duration: float
    verdict: Literal["pass", "fail"]
    counts: Counts
    longest_stall: StallRecord | None
    paths: tuple[PathRef, ...]
    primary: str
    steps: tuple[StepRecord, ...] = ()
    states: tuple[StateChange, ...] = ()
    data: tuple[DataSeries, ...] = ()
    windows: tuple[WindowRecord, ...] = ()
    checks: tuple[Check, ...] = ()
    heartbeats: tuple[HeartbeatRecord, ...] = ()
    init: dict[str, tuple[str, ...]] = field(default_factory=dict)
    associations: tuple[AssociationRecord, ...] = ()  #: runs of applications: every association found
    artifacts: dict[str, str] = field(default_factory=dict)

    @property
    def problems(self) -> list[str]:
        """Each failed check as a sentence: "expected ...; saw ..."."""
        return [c.sentence() for c in self.checks if not c.passed]

    def series(self, path: str) -> DataSeries | None:
        """The DATA series of the path named ``path``, if any."""
        return next((s for s in self.data if s.path == path), None)

    def to_json(self) -> dict[str, Any]:
        """The report as JSON values: ``"format"`` first, then the fields in order, floats rounded."""
        plain = _ADAPTER.dump_python(self, mode="json")
        rounded: dict[str, Any] = _rounded({"format": FORMAT, **plain})
        return rounded

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """Parse what :meth:`to_json` made; ValueError on another format or a malformed report."""
        values = dict(data)
        fmt = values.pop("format", None)
        if fmt != FORMAT:
            raise ValueError(f"unsupported report format {fmt!r} (this lab reads format {FORMAT})")
        return _ADAPTER.validate_python(values)

    def write(self, folder: Path) -> Path:
        """Write ``folder/report.json`` and return its path.

        Indent 2 and keys in a fixed order, except that a list of plain values
        (bucket counts, an address list) stays on one line.
        """
        path = folder / REPORT_NAME
        path.write_text(_dumps(self.to_json()) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> Report:
        """Read a report written by :meth:`write`."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


_ADAPTER: TypeAdapter[Report] = TypeAdapter(Report)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _DECIMALS)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _dumps(value: Any, indent: str = "") -> str:
    """JSON with indent 2 where lists of plain values stay on one line."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = (f"{inner}{json.dumps(k)}: {_dumps(v, inner)}" for k, v in value.items())
        return "{\n" + ",\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return "[\n" + ",\n".join(inner + _dumps(v, inner) for v in value) + f"\n{indent}]"
    return json.dumps(value, ensure_ascii=False)


def bucket_counts(times: Sequence[float], *, bucket: float, end: float) -> tuple[int, ...]:
    """How many of ``times`` fall in each ``bucket``-long interval from 0 up to ``end``.

    There are ``ceil(end / bucket)`` buckets; the last one may reach past
    ``end``. A time on a bucket boundary (to 1e-9 of a bucket) starts the
    later bucket despite float division. Times outside ``[0, end)`` are ignored (not clipped into the
    first or last bucket), so a capture that ran on after the traffic
    stopped does not inflate the last bucket.
    """
    if not bucket > 0:
        raise ValueError(f"bucket must be positive (got {bucket})")

    def position(t: float) -> float:
        # in buckets, rounded so that 0.3 s is the start of bucket 3, not the end of bucket 2 (0.3 / 0.1 < 3)
        return round(t / bucket, 9)

    n = max(math.ceil(position(end)), 0)
    counts = [0] * n
    for t in times:
        if 0 <= t < end:
            counts[min(math.floor(position(t)), n - 1)] += 1
    return tuple(counts)
