"""The pytest plugin (entry point ``pytest11``): options, kernel choice, fixtures, scenario files.

When the running kernel cannot do SCTP/netem/veth in namespaces (``--lab-kernel
auto``, the default), the selected tests with the ``kernel`` marker run in one
pytest session inside a User-Mode Linux guest after the others ran here; their
reports join this session's (terminal, JUnit XML, exit status). See
:mod:`lab.plugin.delegate`.

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

from pathlib import Path
from typing import Generator

import pytest

from lab.kernel.caps import NEEDS, probe
from lab.plugin.delegate import plan, prepare_guest_part, run_guest_part, start_guest_part, summary
from lab.plugin.fixtures import (ARTIFACTS, REPORTS, lab_artifacts, lab_associations, lab_captures, lab_events,
                                 lab_evidence, lab_network, lab_processes, lab_profile, lab_topology, link_faults,
                                 sctp_pair)
from lab.plugin.options import add_options, kernel_required

__all__ = ["lab_artifacts", "lab_associations", "lab_captures", "lab_events", "lab_evidence", "lab_network",
           "lab_processes", "lab_profile", "lab_topology", "link_faults", "sctp_pair"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(trylast=True)  # after the terminal reporter exists: a guest part redirects it
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kernel(*needs): needs root and a kernel that can do NEEDS (default: netns, veth, sctp, netem; the guest can)",
    )
    config.addinivalue_line("markers", "topology(name): the topology file the lab_* fixtures build (default dual-homed)")
    config.addinivalue_line("markers", "profile(name): the SCTP timer profile of sctp_pair (default fast)")
    start_guest_part(config)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """A guest part (``--lab-guest-part``) collects the node ids the host handed over."""
    prepare_guest_part(config)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Kernel items run in one guest session after the others ran here, when the kernel choice says so."""
    split = plan(session)
    if split is None:
        return (yield)
    session.items = split.host_items
    try:
        result = yield
    finally:
        session.items = split.all_items
    run_guest_part(session, split)
    return result


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    summary(config, terminalreporter)


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


