"""Plugin tier: scenario files are collected as tests (pytester; nothing runs a kernel here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lab.kernel.caps import probe

HOST = "--lab-kernel=host"
ROOT = Path(__file__).resolve().parents[2]

SCENARIO = """\
description: The primary is cut; data moves to path-b.
tags: [failover, blackhole]
topology: dual-homed
steps:
  - at: 1
    fault: {kind: blackhole, link: path-a, name: cut}
    hold: 1
expect:
  failover: {after: cut, to: path-b}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with the shipped topologies and two scenarios."""
    shutil.copytree(ROOT / "topologies", pytester.path / "topologies")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "cut.yaml").write_text(SCENARIO)
    (pytester.path / "scenarios" / "quiet.yaml").write_text(
        "description: No fault at all.\ntags: [handshake]\ntopology: dual-homed\ntraffic: {duration: 1}\n")
    return pytester


def test_every_scenario_file_is_an_item_named_after_it(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q", HOST, "scenarios")
    result.stdout.fnmatch_lines(["scenarios/cut.yaml::cut", "scenarios/quiet.yaml::quiet", "2 tests collected*"])


def test_tags_are_markers_and_names_select(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q", HOST, "scenarios", "-m", "blackhole")
    result.stdout.fnmatch_lines(["scenarios/cut.yaml::cut", "1/2 tests collected (1 deselected)*"])
    result = project.runpytest("--collect-only", "-q", HOST, "scenarios", "-k", "quiet")
    result.stdout.fnmatch_lines(["scenarios/quiet.yaml::quiet", "1/2 tests collected (1 deselected)*"])


def test_a_bad_scenario_is_a_collection_error_naming_file_line_and_key(project: pytest.Pytester) -> None:
    bad = project.path / "scenarios" / "bad.yaml"
    bad.write_text(SCENARIO.replace("link: path-a", "link: path-z"))
    result = project.runpytest("--collect-only", "-q", HOST, "scenarios")
    result.stdout.fnmatch_lines([f"{bad}:6: steps[0].fault.link: unknown link 'path-z' (expected one of: path-a, path-b)"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_yaml_elsewhere_is_not_collected(project: pytest.Pytester) -> None:
    result = project.runpytest("--collect-only", "-q", HOST, "topologies")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.mark.skipif(not probe().lacks(), reason="this kernel can run scenarios: nothing is skipped")
def test_without_a_capable_kernel_a_scenario_skips_with_the_reason(project: pytest.Pytester) -> None:
    result = project.runpytest(HOST, "scenarios", "-k", "quiet", "-rs")
    result.stdout.fnmatch_lines(["*SKIPPED*lacks*"])
    result.assert_outcomes(skipped=1)
