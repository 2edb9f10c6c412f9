"""Kernel tier: a scenario with a wrong expectation fails, naming the expectation, the evidence and the files.

The inner pytest session runs in this process (already on a capable kernel:
the guest, when the host lacks SCTP), exactly as ``pytest scenarios`` would.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

# Imported here, before any inner session: pytester forgets modules an inner run imported, and numpy
# (under matplotlib) cannot be imported twice in one process.
import lab.scenario.reporting  # noqa: F401

pytestmark = [pytest.mark.kernel]

ROOT = Path(__file__).resolve().parents[2]
HOST = "--lab-kernel=host"

WRONG = """\
description: Expects the data to move to the path that was cut, which is wrong on purpose.
tags: [failover]
topology: dual-homed
traffic: {duration: 3}
steps:
  - at: 1
    fault: {kind: blackhole, link: path-a, name: cut}
    hold: 1
expect:
  failover: {after: cut, to: path-a}
"""


def test_a_wrong_expectation_fails_with_expectation_evidence_and_files(pytester: pytest.Pytester) -> None:
    shutil.copytree(ROOT / "topologies", pytester.path / "topologies")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "wrong.yaml").write_text(WRONG)
    result = pytester.runpytest_inprocess(HOST, "--lab-require-kernel", "scenarios")
    result.assert_outcomes(failed=1)
    folder = pytester.path / "artifacts" / "scenarios" / "wrong"
    result.stdout.fnmatch_lines([
        "scenario wrong (*wrong.yaml) failed:",
        "  failover to path-a: expected DATA on 198.18.1.1 -> 198.18.1.2 within *-* s of cut (R0=*); "
        f"saw *; see {folder}/path-a-client.pcap, {folder}/path-a-server.pcap",
        "  * sent, * delivered; kernel *",
        f"  report: {folder}/report.json, picture: {folder}/timeline.png",
        f"  captures and timelines: {folder}",
    ])
    report = json.loads((folder / "report.json").read_text())
    assert report["verdict"] == "fail"
    assert [c["name"] for c in report["checks"] if not c["passed"]] == ["failover to path-a"]
    assert (folder / "timeline.png").stat().st_size > 10_000 and (folder / "path-a-client.pcap").exists()


def test_a_passing_scenario_keeps_only_its_report_and_picture(pytester: pytest.Pytester) -> None:
    shutil.copytree(ROOT / "topologies", pytester.path / "topologies")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "right.yaml").write_text(WRONG.replace("to: path-a", "to: path-b"))
    result = pytester.runpytest_inprocess(HOST, "--lab-require-kernel", "scenarios", "--junitxml=junit.xml")
    result.assert_outcomes(passed=1)
    folder = pytester.path / "artifacts" / "scenarios" / "right"
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "timeline.png"]
    assert "report.json" in (pytester.path / "junit.xml").read_text()  # the report's path is a JUnit property
