"""The run report: report.json round trip, bucketing, and timeline.png on synthetic runs.

:func:`failover_report` is a realistic primary-path failover on the
dual-homed topology (path-a 198.18.1.1/198.18.1.2, path-b 198.18.2.1/198.18.2.2):
100 msg/s, path-a blackholed at 2.0 s and restored at 5.0 s.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lab.report.model import (
    FORMAT,
    Check,
    Counts,
    DataSeries,
    HeartbeatRecord,
    PathRef,
    Report,
    StallRecord,
    StateChange,
    StepRecord,
    WindowRecord,
    bucket_counts,
)
from lab.report.timeline import render_timeline

EXAMPLE_PNG = Path("/var/tmp/timeline-example.png")
PATH_A = PathRef("path-a", "198.18.1.1", "198.18.1.2")
PATH_B = PathRef("path-b", "198.18.2.1", "198.18.2.2")
BUCKET = 0.1
DURATION = 7.0


def _times(start: float, stop: float, rate: float = 100.0) -> list[float]:
    """One message every 1/rate s in [start, stop)."""
    n = round((stop - start) * rate)
    return [round(start + i / rate, 6) for i in range(n)]


def failover_report(**changes: object) -> Report:
    """A clean failover: data leaves path-a at the fault, reaches path-b at 2.12 s, returns after the restore.

    Keyword arguments replace fields of the report (``dataclasses.replace``).
    """
    on_a = _times(0.0, 2.1) + _times(5.3, DURATION)  # DATA still goes into the blackhole until 2.1 s
    on_b = [2.12] * 12 + _times(2.12, 5.3)  # the T3 expiry at 2.12 s sends the 12 messages from 2.00-2.11 s again
    report = Report(
        scenario="primary-blackhole",
        description="Blackhole the primary path for 3 s; the association must move to path-b and come back.",
        topology="dual-homed",
        profile="fast",
        kernel="6.6.30 (uml)",
        started="2024-05-01T12:00:00+00:00",
        duration=DURATION,
        verdict="pass",
        counts=Counts(sent=700, delivered=700, lost=0, duplicated=0, reordered=0, app_errors=0),
        longest_stall=StallRecord(seconds=0.13, at=1.99, before_seq=199, after_seq=200, predicted=(0.09, 0.18)),
        paths=(PATH_A, PATH_B),
        primary="path-a",
        steps=(
            StepRecord(2.0, "fault", "blackhole path-a"),
            StepRecord(5.0, "restore", "restore path-a"),
        ),
        states=(
            StateChange(0.0, "client", PATH_A.server, "ACTIVE"),
            StateChange(0.0, "client", PATH_B.server, "ACTIVE"),
            StateChange(0.0, "server", PATH_A.client, "ACTIVE"),
            StateChange(0.0, "server", PATH_B.client, "ACTIVE"),
            StateChange(2.11, "client", PATH_A.server, "PF"),
            StateChange(2.62, "server", PATH_A.client, "PF"),
            StateChange(2.71, "client", PATH_A.server, "INACTIVE"),
            StateChange(3.35, "server", PATH_A.client, "INACTIVE"),
            StateChange(5.26, "client", PATH_A.server, "ACTIVE"),
            StateChange(5.41, "server", PATH_A.client, "ACTIVE"),
        ),
        data=(
            DataSeries("path-a", BUCKET, bucket_counts(on_a, bucket=BUCKET, end=DURATION)),
            DataSeries("path-b", BUCKET, bucket_counts(on_b, bucket=BUCKET, end=DURATION)),
        ),
        windows=(
            WindowRecord("data on path-b", 2.09, 2.18, "R0=100 ms, pf_retrans=0 (1 strike), tick=10 ms"),
            WindowRecord("path-a unreachable (client)", 2.49, 3.02, "R0=100 ms, path_max_retrans=2 (3 strikes)"),
            WindowRecord("data back on path-a", 5.0, 5.86, "rto_max=400 ms, hb_interval=30 ms (two periods)"),
        ),
        checks=(
            Check("no loss", True, "every message delivered", "700 of 700"),
            Check("stall", True, "the longest stall within 0.09-0.18 s", "0.130 s (messages 199->200)"),
            Check("failback", True, "traffic back on path-a after the restore", "from 5.30 s"),
        ),
        heartbeats=(
            HeartbeatRecord("198.18.1.1", "198.18.1.2", 21, 14),
            HeartbeatRecord("198.18.1.2", "198.18.1.1", 19, 12),
            HeartbeatRecord("198.18.2.1", "198.18.2.2", 33, 33),
            HeartbeatRecord("198.18.2.2", "198.18.2.1", 31, 31),
        ),
        init={"client": ("198.18.1.1", "198.18.2.1"), "server": ("198.18.1.2", "198.18.2.2")},
        artifacts={"timeline": "timeline.png", "capture path-a": "path-a.pcap"},
    )
    return dataclasses.replace(report, **changes)  # type: ignore[arg-type]


def _is_png(path: Path, min_size: int = 10_000) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > min_size


# --- report.json ---------------------------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    report = failover_report()
    written = report.write(tmp_path)
    assert written == tmp_path / "report.json"
    assert Report.read(written) == report
    data = json.loads(written.read_text())
    assert data["format"] == FORMAT == 1 and list(data)[:2] == ["format", "scenario"]
    assert data["longest_stall"]["predicted"] == [0.09, 0.18]
    assert data["init"]["client"] == ["198.18.1.1", "198.18.2.1"]
    assert written.read_text() == failover_report().write(tmp_path).read_text()  # stable


def test_floats_rounded_to_microseconds(tmp_path: Path) -> None:
    report = failover_report(duration=7.0000004, steps=(StepRecord(2.0000001, "fault", "x"),))
    back = Report.read(report.write(tmp_path))
    assert back.duration == 7.0 and back.steps[0].at == 2.0


def test_counts_stay_on_one_line(tmp_path: Path) -> None:
    text = failover_report().write(tmp_path).read_text()
    assert '"counts": [10, 10, 10,' in text
    assert '"client": ["198.18.1.1", "198.18.2.1"]' in text


def test_read_rejects_other_formats() -> None:
    data = failover_report().to_json()
    with pytest.raises(ValueError, match="format 2"):
        Report.from_json({**data, "format": 2})
    with pytest.raises(ValueError, match="format None"):
        Report.from_json({k: v for k, v in data.items() if k != "format"})
    with pytest.raises(ValueError):
        Report.from_json({**data, "verdict": "maybe"})


def test_problems() -> None:
    assert failover_report().problems == []
    failed = failover_report(verdict="fail", checks=(
        Check("no loss", False, "every message delivered", "3 lost (first: [200, 201, 202])"),
        Check("failback", True, "traffic back on path-a", "from 5.30 s"),
    ))
    assert failed.problems == ["expected every message delivered; saw 3 lost (first: [200, 201, 202])"]


def test_stall_prediction() -> None:
    assert StallRecord(0.13, 1.99, 199, 200, (0.09, 0.18)).in_prediction is True
    assert StallRecord(0.3, 1.99, 199, 200, (0.09, 0.18)).in_prediction is False
    assert StallRecord(0.3, 1.99, 199, 200).in_prediction is None


def test_record_validation() -> None:
    with pytest.raises(ValueError):
        DataSeries("path-a", 0, ())
    with pytest.raises(ValueError):
        WindowRecord("w", 2.0, 1.0, "basis")


def test_bucket_counts() -> None:
    assert bucket_counts([], bucket=0.1, end=0.35) == (0, 0, 0, 0)  # the last bucket is partial
    assert bucket_counts([], bucket=0.1, end=0) == ()
    assert bucket_counts([0.0, 0.05, 0.1, 0.29, 0.3, 0.34], bucket=0.1, end=0.35) == (2, 1, 1, 2)
    # times outside [0, end) are ignored, not clipped into the first or last bucket
    assert bucket_counts([-0.01, 0.35, 0.4, 1.0], bucket=0.1, end=0.35) == (0, 0, 0, 0)
    # float division does not add an empty bucket (1.1 / 0.1 = 11.000000000000002)
    assert len(bucket_counts([1.0999], bucket=0.1, end=1.1)) == 11
    assert bucket_counts([1.0999], bucket=0.1, end=1.1)[-1] == 1
    with pytest.raises(ValueError):
        bucket_counts([1.0], bucket=0, end=1)


def test_synthetic_report_is_realistic() -> None:
    report = failover_report()
    a, b = (report.series(p) for p in ("path-a", "path-b"))
    assert a is not None and b is not None
    assert a.counts[:21] == (10,) * 21 and a.counts[21:53] == (0,) * 32 and a.counts[53:] == (10,) * 17
    assert b.counts[21] == 20  # 12 retransmissions at 2.12 s and 8 new messages
    assert a.total + b.total == 700 + 10  # the 10 sent into the blackhole went again on path-b


# --- timeline.png --------------------------------------------------------------------------------------------------


def test_timeline_of_a_failover(tmp_path: Path) -> None:
    out = render_timeline(failover_report(), tmp_path / "timeline.png")
    assert out == tmp_path / "timeline.png" and _is_png(out)
    EXAMPLE_PNG.parent.mkdir(parents=True, exist_ok=True)
    render_timeline(failover_report(), EXAMPLE_PNG)


def _third_path() -> PathRef:
    return PathRef("path-c", "198.18.3.1", "198.18.3.2")


EDGE_CASES = {
    "no steps": {"steps": ()},
    "a path without data": {"data": failover_report().data[:1]},
    "no data at all": {"data": ()},
    "no state changes": {"states": ()},
    "one path": {"paths": (PATH_A,), "data": failover_report().data[:1]},
    "three paths": {"paths": (PATH_A, PATH_B, _third_path()),
                    "data": (*failover_report().data, DataSeries("path-c", 0.5, (0, 0, 3)))},
    "windows partly outside": {"windows": (WindowRecord("early", -1.0, 0.5, "b"), WindowRecord("late", 6.5, 40.0, "b"),
                                           WindowRecord("never", 50.0, 60.0, "b"))},
    "ipv6": {"paths": (PathRef("path-a", "2001:db8:1::1", "2001:db8:1::2"),
                       PathRef("path-b", "2001:db8:2::1", "2001:db8:2::2")),
             "states": (StateChange(0.0, "client", "2001:db8:1::2", "ACTIVE"),
                        StateChange(2.1, "client", "2001:db8:1::2", "PF"),
                        StateChange(-0.5, "server", "2001:db8:2::1", "UNCONFIRMED"),
                        StateChange(0.2, "server", "2001:db8:2::1", "ACTIVE"))},
    "failed run": {"verdict": "fail", "longest_stall": StallRecord(2.5, 2.0, 199, 200, (0.09, 0.18)),
                   "checks": tuple(Check(f"c{i}", False, f"thing {i}", "other") for i in range(6))},
    "no stall, empty run": {"longest_stall": None, "duration": 0.0, "data": (), "states": (), "windows": ()},
    "crowded steps": {"steps": tuple(StepRecord(2.0 + i * 0.05, "fault" if i % 2 else "primary",
                                                f"step {i} with a long detail text that gets truncated")
                                     for i in range(6)) + (StepRecord(6.99, "restore", "restore everything"),),
                      "states": (*failover_report().states, StateChange(4.0, "client", PATH_B.server, "SOMETHING"))},
    "steps before and after the run": {"steps": (StepRecord(-1.0, "wait", "settle"), StepRecord(9.0, "restore", "late"))},
}


@pytest.mark.parametrize("changes", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_timeline_edge_cases(tmp_path: Path, changes: dict[str, object]) -> None:
    out = render_timeline(failover_report(**changes), tmp_path / "timeline.png")
    assert _is_png(out, min_size=5_000)
