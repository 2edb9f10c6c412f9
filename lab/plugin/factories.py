"""Fixture factories: declare your own networks, pairs, captures and faults, at the scope you choose.

In the style of pytest-postgresql: each factory returns a fixture; the
name you assign it to is the fixture's name. Dependencies are named by
fixture name, so one test module can hold two networks, a module-scoped
network shared by its tests, or a pair without captures::

    from lab.plugin import factories

    core = factories.network("three-paths", scope="module")
    core_pair = factories.sctp_pair("core", profile="fast", port=2905, scope="module")
    core_faults = factories.link_faults("core")

    def test_m3ua_port(core_pair):
        core_pair.start_traffic(rate=50)
        ...

The lab's own fixtures (``lab_network``, ``sctp_pair``, ...) are made with
these same factories (:mod:`lab.plugin.fixtures`). Artifacts of a fixture
wider than a function are kept when any test failed while it was up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from lab.events import EventLog
from lab.evidence.artifacts import discard, folder_for
from lab.evidence.associations import AssociationWatcher
from lab.evidence.capture import Captures, capture
from lab.evidence.paths import PathPoller
from lab.evidence.run import Evidence
from lab.faults.links import LinkFaults
from lab.judge import captures_complete
from lab.kernel import sysctl
from lab.kernel.choice import kernel_tick
from lab.kernel.network import Network, build, new_tag
from lab.kernel.process import Processes
from lab.model.profile import TimerProfile, get_profile
from lab.model.topology import Topology, load_topology, resolve_topology_path
from lab.plugin.options import artifacts_root, topology_dirs
from lab.sctp.pair import DEFAULT_PORT, EndpointPair, endpoint_pair

__all__ = ["Scope", "topology", "profile", "network", "captures", "sctp_pair", "evidence", "link_faults",
           "processes", "associations", "events_of", "REPORTS", "ARTIFACTS"]

Scope = Literal["function", "class", "module", "package", "session"]
Fixture = Callable[..., Any]

#: Each test's reports by phase, and its artifact folder (the plugin keeps failed tests' folders).
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
ARTIFACTS = pytest.StashKey[Path]()

#: The timeline of each live network (by tag): its endpoints, faults and captures share it.
_LOGS: dict[str, EventLog] = {}


def events_of(net: Network) -> EventLog:
    """The event log shared by everything on ``net`` (endpoints, faults, the captures' drop check)."""
    return _LOGS.setdefault(net.tag, EventLog())


def _marker_arg(request: pytest.FixtureRequest, name: str, default: str) -> str:
    marker = request.node.get_closest_marker(name)
    return str(marker.args[0]) if marker and marker.args else default


def _topology(request: pytest.FixtureRequest, name: str | Path | None) -> Topology:
    """``name`` (a name or a file), else ``@pytest.mark.topology``, else dual-homed; looked up as the plugin does."""
    chosen = str(name) if name is not None else _marker_arg(request, "topology", "dual-homed")
    return load_topology(resolve_topology_path(chosen, topology_dirs(request.config)))


def _profile(request: pytest.FixtureRequest, name: str | None) -> TimerProfile:
    """``name``, else ``@pytest.mark.profile``, else fast."""
    return get_profile(name if name is not None else _marker_arg(request, "profile", "fast"))


def topology(name: str | Path | None = None, *, scope: Scope = "function") -> Fixture:
    """A fixture giving the topology ``name`` (a name or a file); None: ``@pytest.mark.topology``, else dual-homed."""

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Topology:
        return _topology(request, name)

    return fixture


def profile(name: str | None = None, *, scope: Scope = "function") -> Fixture:
    """A fixture giving the timer profile ``name``; None: ``@pytest.mark.profile``, else fast."""

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> TimerProfile:
        return _profile(request, name)

    return fixture


def network(topology: str | Path | None = None, *, scope: Scope = "function", of: str | None = None) -> Fixture:
    """A fixture building a topology into namespaces and veth links (torn down after its scope).

    ``topology``: a name or a file (None: ``@pytest.mark.topology``, else dual-homed); or
    ``of``: the name of a fixture giving the :class:`Topology`.
    """

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Iterator[Network]:
        chosen: Topology = request.getfixturevalue(of) if of is not None else _topology(request, topology)
        with build(chosen) as net:
            try:
                yield net
            finally:
                _LOGS.pop(net.tag, None)

    return fixture


def _artifacts(request: pytest.FixtureRequest) -> Iterator[Path]:
    """The artifact folder of the requesting scope: kept if a test failed meanwhile (or --lab-keep-artifacts)."""
    config = request.config
    folder = folder_for(artifacts_root(config), request.node.nodeid)
    failed_before = request.session.testsfailed
    if isinstance(request.node, pytest.Item):
        request.node.stash[ARTIFACTS] = folder
    yield folder
    if isinstance(request.node, pytest.Item):
        failed = any(r.failed for r in request.node.stash.get(REPORTS, {}).values())
    else:
        failed = request.session.testsfailed > failed_before
    if not config.getoption("--lab-keep-artifacts") and not failed:
        discard(folder)


def artifacts(*, scope: Scope = "function") -> Fixture:
    """A fixture giving a fresh artifact folder named after the test (or module): removed unless a test failed."""
    return pytest.fixture(scope=scope)(_artifacts)


def captures(network: str, *, artifacts: str = "lab_artifacts", scope: Scope = "function") -> Fixture:
    """tcpdump on both ends of every link of the ``network`` fixture, pcaps in the ``artifacts`` fixture's folder.

    Fails the test if a capture dropped packets (except on links a fault took down).
    """

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Iterator[Captures]:
        net: Network = request.getfixturevalue(network)
        folder: Path = request.getfixturevalue(artifacts)
        with capture(net, folder) as taken:
            yield taken
        check = captures_complete(taken, events_of(net))
        if not check.passed:
            pytest.fail(f"the captures dropped packets, so the wire evidence is incomplete: {check.seen}",
                        pytrace=False)

    return fixture


def sctp_pair(network: str, *, profile: str | None = None, port: int = DEFAULT_PORT, client: str = "client",
              server: str = "server", captures: str | None = None, scope: Scope = "function") -> Fixture:
    """A multihomed association between nodes ``client`` and ``server`` of the ``network`` fixture.

    ``profile``: a timer profile name (None: ``@pytest.mark.profile``, else fast). ``captures``: the name
    of a captures fixture to start before the association (so the wire shows its INIT), or None.
    """

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Iterator[EndpointPair]:
        net: Network = request.getfixturevalue(network)
        if captures is not None:
            request.getfixturevalue(captures)
        with endpoint_pair(net, profile=_profile(request, profile), client=client, server=server, port=port, log=events_of(net)) as pair:
            yield pair

    return fixture


def evidence(pair: str, *, captures: str, artifacts: str = "lab_artifacts", scope: Scope = "function") -> Fixture:
    """The evidence of the ``pair`` fixture's run: path-state timeline (polled), wire (``captures``), application."""

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Iterator[Evidence]:
        live: EndpointPair = request.getfixturevalue(pair)
        taken: Captures = request.getfixturevalue(captures)
        folder: Path = request.getfixturevalue(artifacts)
        with PathPoller(live) as poller:
            found = Evidence.of_pair(live, folder=folder, captures=taken, paths=poller)
            yield found
        found.save()

    return fixture


def link_faults(network: str, *, scope: Scope = "function") -> Fixture:
    """:class:`LinkFaults` on the ``network`` fixture, recorded in its timeline."""

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> LinkFaults:
        net: Network = request.getfixturevalue(network)
        return LinkFaults(net, events_of(net))

    return fixture


def processes(network: str, *, profile: str | None = None, artifacts: str = "lab_artifacts",
              scope: Scope = "function") -> Fixture:
    """:class:`Processes`: start your own programs in the nodes of the ``network`` fixture
    (``start(node, argv)`` gives a :class:`NodeProcess`: ``wait_ready``, ``wait_exit``, ``output``,
    ``returncode``, ``stop``); every one still running is stopped, last started first, when the fixture ends.
    Logs go to ``<artifacts>/processes/``. The timer profile (``profile``, else ``@pytest.mark.profile``, else
    fast) is applied to the client's and server's namespaces first, so a program that sets no timers inherits it.
    """

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Iterator[Processes]:
        net: Network = request.getfixturevalue(network)
        folder: Path = request.getfixturevalue(artifacts)
        timers = _profile(request, profile)
        for node in ("client", "server"):
            if node in net.topology.nodes:
                sysctl.apply(net.netns(node), timers.sysctls())
        with Processes({node: net.netns(node) for node in net.topology.nodes}, folder / "processes",
                       mark=f"{new_tag()}:{os.getpid()}") as started:
            yield started

    return fixture


def associations(network: str, *, scope: Scope = "function") -> Fixture:
    """An :class:`AssociationWatcher` of every association in the client's and server's namespaces of the
    ``network`` fixture (``/proc/net/sctp``, black-box): ``wait_association``, ``wait_state(side, peer, state,
    ports=...)``, ``latest``, ``states``."""

    @pytest.fixture(scope=scope)
    def fixture(request: pytest.FixtureRequest) -> Iterator[AssociationWatcher]:
        net: Network = request.getfixturevalue(network)
        nodes: dict[str, str] = {node: net.netns(node) for node in ("client", "server") if node in net.topology.nodes}
        with AssociationWatcher(nodes, tick=kernel_tick()) as watcher:
            yield watcher

    return fixture
