"""The lab's fixtures: thin ``with ...: yield`` wrappers over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from lab.events import EventLog
from lab.evidence.artifacts import discard, folder_for
from lab.evidence.capture import Captures, capture
from lab.evidence.expect import Evidence
from lab.evidence.paths import PathPoller
from lab.faults.links import LinkFaults
from lab.kernel.network import Network, build
from lab.model.profile import TimerProfile, get_profile
from lab.model.topology import Topology, load_topology, resolve_topology_path
from lab.plugin.options import artifacts_root, topology_dirs
from lab.sctp.pair import EndpointPair, endpoint_pair

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
ARTIFACTS = pytest.StashKey[Path]()


@pytest.fixture
def lab_artifacts(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This test's artifact folder; removed after a pass unless --lab-keep-artifacts."""
    config = request.config
    folder = folder_for(artifacts_root(config), request.node.nodeid)
    request.node.stash[ARTIFACTS] = folder
    yield folder
    reports = request.node.stash.get(REPORTS, {})
    if not config.getoption("--lab-keep-artifacts") and not any(r.failed for r in reports.values()):
        discard(folder)


def _marker_arg(request: pytest.FixtureRequest, name: str, default: str) -> str:
    marker = request.node.get_closest_marker(name)
    return str(marker.args[0]) if marker and marker.args else default


@pytest.fixture
def lab_topology(request: pytest.FixtureRequest) -> Topology:
    """The topology of ``@pytest.mark.topology(NAME_OR_PATH)``, default ``dual-homed``."""
    search = topology_dirs(request.config)
    return load_topology(resolve_topology_path(_marker_arg(request, "topology", "dual-homed"), search))


@pytest.fixture
def lab_profile(request: pytest.FixtureRequest) -> TimerProfile:
    """The timer profile of ``@pytest.mark.profile(NAME)``, default ``fast``."""
    return get_profile(_marker_arg(request, "profile", "fast"))


@pytest.fixture
def lab_events() -> EventLog:
    return EventLog()


@pytest.fixture
def lab_network(lab_topology: Topology) -> Iterator[Network]:
    with build(lab_topology) as net:
        yield net


@pytest.fixture
def lab_captures(lab_network: Network, lab_artifacts: Path, lab_events: EventLog) -> Iterator[Captures]:
    """tcpdump on both ends of every link, ready before any endpoint starts; pcaps in the artifacts."""
    with capture(lab_network, lab_artifacts) as captures:
        yield captures
    downed = {str(e.data["link"]) for e in lab_events.events(kind="fault") if e.data.get("downs")}
    lossy = captures.unexplained_drops(downed)
    if lossy:
        pytest.fail(f"the captures dropped packets, so this test's wire evidence is incomplete: {lossy}", pytrace=False)


@pytest.fixture
def sctp_pair(
    lab_network: Network, lab_profile: TimerProfile, lab_events: EventLog, lab_captures: Captures
) -> Iterator[EndpointPair]:
    """A multihomed association on the lab network, captured on the wire from its first INIT."""
    with endpoint_pair(lab_network, profile=lab_profile, log=lab_events) as pair:
        yield pair


@pytest.fixture
def lab_evidence(sctp_pair: EndpointPair, lab_captures: Captures, lab_artifacts: Path) -> Iterator[Evidence]:
    """The run's evidence: application, kernel path-state timeline (polled), wire."""
    with PathPoller(sctp_pair) as poller:
        evidence = Evidence(sctp_pair, folder=lab_artifacts, captures=lab_captures, poller=poller)
        yield evidence
    evidence.save()


@pytest.fixture
def link_faults(lab_network: Network, lab_events: EventLog) -> LinkFaults:
    return LinkFaults(lab_network, lab_events)
