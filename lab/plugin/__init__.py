"""The pytest plugin (entry point ``pytest11``): options, kernel choice, fixtures, scenario files.

When the running kernel cannot do SCTP/netem/veth in namespaces, the whole
pytest session re-runs inside a User-Mode Linux guest (``--lab-kernel auto``,
the default), with the same arguments, directory and environment; its output
streams live and its exit status is the session's.

The fixtures (:mod:`lab.plugin.fixtures`) are thin ``with ...: yield`` wrappers over the library:

- ``lab_topology``: the topology named by ``@pytest.mark.topology(NAME)`` (default dual-homed)
- ``lab_profile``: the timer profile named by ``@pytest.mark.profile(NAME)`` (default fast)
- ``lab_events``: the run's :class:`~lab.events.EventLog`
- ``lab_network``: the topology built into namespaces and veth links
- ``lab_artifacts``: this test's folder of artifacts (kept when it fails)
- ``lab_captures``: tcpdump on both ends of every link, pcaps in the artifacts
- ``sctp_pair``: a multihomed client/server association on it
- ``lab_evidence``: application, kernel (path-state timeline) and wire evidence
- ``link_faults``: :class:`~lab.faults.links.LinkFaults`

Scenario files (``scenarios/*.yaml``) are collected as tests too (:mod:`lab.plugin.scenarios`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Generator

import pytest

from lab.errors import LabError
from lab.kernel.caps import NEEDS, in_guest, probe
from lab.kernel.choice import choose_kernel
from lab.plugin.fixtures import (ARTIFACTS, REPORTS, lab_artifacts, lab_captures, lab_events, lab_evidence,
                                 lab_network, lab_profile, lab_topology, link_faults, sctp_pair)
from lab.plugin.options import add_options, kernel_required, option

__all__ = ["lab_artifacts", "lab_captures", "lab_events", "lab_evidence", "lab_network", "lab_profile",
           "lab_topology", "link_faults", "sctp_pair"]

_SKIP_GUEST_FOR = ("help", "version", "collectonly", "markers", "showfixtures", "fixtures_per_test")


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kernel(*needs): needs root and a kernel that can do NEEDS (default: netns, veth, sctp, netem; the guest can)",
    )
    config.addinivalue_line("markers", "topology(name): the topology file the lab_* fixtures build (default dual-homed)")
    config.addinivalue_line("markers", "profile(name): the SCTP timer profile of sctp_pair (default fast)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Re-run the whole session in a guest kernel when this one cannot run the lab."""
    if in_guest() or any(getattr(config.option, name, False) for name in _SKIP_GUEST_FOR):
        return None
    try:
        choice = choose_kernel(option(config, "kernel"))  # type: ignore[arg-type]
    except LabError as err:
        print(f"sctplab: {err}", file=sys.stderr)
        return None  # kernel tests skip with the reason; pure tests still run
    if choice.where == "here":
        return None
    from lab.guest import run_in_guest

    print(choice.banner, flush=True)
    timeout = float(option(config, "guest_timeout")) or None
    params = config.invocation_params
    try:
        return run_in_guest(
            [sys.executable, "-m", "pytest", *params.args], cwd=params.dir, timeout=timeout, kernel=choice.guest
        )
    except KeyboardInterrupt:  # the session in the guest was interrupted and has reported
        return int(pytest.ExitCode.INTERRUPTED)
    except LabError as err:
        print(f"sctplab: {err}", file=sys.stderr)
        return int(pytest.ExitCode.INTERNAL_ERROR)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Every YAML file in a ``scenarios`` directory is a scenario test (lab/plugin/scenarios.py)."""
    from lab.plugin.scenarios import ScenarioFile, is_scenario_file

    if is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


def pytest_report_header(config: pytest.Config) -> str:
    return f"sctplab kernel: {probe().describe()}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("kernel")
    if marker is None:
        return
    lacking = probe().lacks(tuple(marker.args) or NEEDS)
    if lacking:
        reason = f"kernel {probe().release} lacks " + "; ".join(f"{k}: {v}" for k, v in lacking.items())
        if kernel_required(item.config):
            pytest.fail(reason + " (--lab-require-kernel)", pytrace=False)
        pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    folder = item.stash.get(ARTIFACTS, None)
    if folder is not None and report.failed:
        report.sections.append(("sctplab artifacts", f"kept in {folder}"))
    return report


