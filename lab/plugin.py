"""The pytest plugin (entry point ``pytest11``): options, kernel choice, fixtures.

When the running kernel cannot do SCTP/netem/veth in namespaces, the whole
pytest session re-runs inside a User-Mode Linux guest (``--lab-kernel auto``,
the default), with the same arguments, directory and environment; its output
streams live and its exit status is the session's.

Fixtures are thin ``with ...: yield`` wrappers over the library:

- ``lab_topology``: the topology named by ``@pytest.mark.topology(NAME)`` (default dual-homed)
- ``lab_profile``: the timer profile named by ``@pytest.mark.profile(NAME)`` (default fast)
- ``lab_events``: the run's :class:`~lab.events.EventLog`
- ``lab_network``: the topology built into namespaces and veth links
- ``lab_artifacts``: this test's folder of artifacts (kept when it fails)
- ``lab_captures``: tcpdump on both ends of every link, pcaps in the artifacts
- ``sctp_pair``: a multihomed client/server association on it
- ``lab_evidence``: application, kernel (path-state timeline) and wire evidence
- ``link_faults``: ``link_faults.blackhole(LINK)``, ``.impair(LINK, delay_ms=80)``, ``.link_down(...)``,
  ``.withdraw_route(...)``, ``.flap(...)``: context managers that undo exactly

Scenario files (``scenarios/*.yaml``) are collected as tests too (lab/scenario/collect.py).
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Generator, Iterator, Literal

import pytest

from lab.errors import LabError
from lab.events import EventLog
from lab.evidence.artifacts import discard, folder_for
from lab.evidence.capture import Captures, capture
from lab.evidence.expect import Evidence
from lab.evidence.paths import PathPoller
from lab.faults import Blackhole, ChunkDrop, Direction, Fault, Flap, Impair, LinkDown, NetemParams, RouteWithdrawal, inject
from lab.kernel.caps import NEEDS, in_guest, probe
from lab.kernel.choice import choose_kernel
from lab.kernel.network import Network, build
from lab.model.topology import Topology, load_topology, resolve_topology_path
from lab.sctp.pair import EndpointPair, endpoint_pair
from lab.sctp.profile import TimerProfile, get_profile

__all__ = ["LinkFaults", "artifacts_root", "topology_dirs"]

_SKIP_GUEST_FOR = ("help", "version", "collectonly", "markers", "showfixtures", "fixtures_per_test")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("sctplab", "SCTP multihoming lab")
    group.addoption(
        "--lab-kernel",
        choices=("auto", "host", "guest"),
        default=None,
        help="where kernel tests run: auto (guest kernel if this one lacks SCTP/netem), host, guest. ini: lab_kernel",
    )
    group.addoption(
        "--lab-guest-timeout",
        type=float,
        default=None,
        help="stop the guest kernel after this many seconds. ini: lab_guest_timeout",
    )
    group.addoption(
        "--lab-require-kernel",
        action="store_true",
        default=None,
        help="fail kernel tests instead of skipping them when no capable kernel is available. ini: lab_require_kernel",
    )
    group.addoption(
        "--lab-artifacts",
        default=None,
        metavar="DIR",
        help="where per-test artifacts (pcaps, timeline, messages) go; default: artifacts/. ini: lab_artifacts",
    )
    group.addoption(
        "--lab-keep-artifacts",
        action="store_true",
        default=False,
        help="keep the artifacts of passing tests too (failing tests always keep theirs)",
    )
    parser.addini("lab_kernel", "default for --lab-kernel", default="auto")
    parser.addini("lab_artifacts", "default for --lab-artifacts", default="artifacts")
    parser.addini("lab_require_kernel", "default for --lab-require-kernel", type="bool", default=False)
    parser.addini("lab_guest_timeout", "default for --lab-guest-timeout (seconds, 0 = none)", default="0")
    parser.addini("lab_topologies", "directories searched for topology names", type="paths", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "kernel(*needs): needs root and a kernel that can do NEEDS (default: netns, veth, sctp, netem; the guest can)",
    )
    config.addinivalue_line("markers", "topology(name): the topology file the lab_* fixtures build (default dual-homed)")
    config.addinivalue_line("markers", "profile(name): the SCTP timer profile of sctp_pair (default fast)")


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"--lab-{name.replace('_', '-')}")
    return str(value) if value is not None else str(config.getini(f"lab_{name}"))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Re-run the whole session in a guest kernel when this one cannot run the lab."""
    if in_guest() or any(getattr(config.option, name, False) for name in _SKIP_GUEST_FOR):
        return None
    try:
        choice = choose_kernel(_option(config, "kernel"))  # type: ignore[arg-type]
    except LabError as err:
        print(f"sctplab: {err}", file=sys.stderr)
        return None  # kernel tests skip with the reason; pure tests still run
    if choice.where == "here":
        return None
    from lab.guest import run_in_guest

    print(choice.banner, flush=True)
    timeout = float(_option(config, "guest_timeout")) or None
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
    """Every YAML file in a ``scenarios`` directory is a scenario test (lab/scenario/collect.py)."""
    from lab.scenario.collect import ScenarioFile, is_scenario_file

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
        required = item.config.getoption("--lab-require-kernel") or item.config.getini("lab_require_kernel")
        if required:
            pytest.fail(reason + " (--lab-require-kernel)", pytrace=False)
        pytest.skip(reason)


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
_ARTIFACTS = pytest.StashKey[Path]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    folder = item.stash.get(_ARTIFACTS, None)
    if folder is not None and report.failed:
        report.sections.append(("sctplab artifacts", f"kept in {folder}"))
    return report


def artifacts_root(config: pytest.Config) -> Path:
    """Where artifacts go: --lab-artifacts (ini lab_artifacts), relative to the rootdir."""
    root = Path(config.getoption("--lab-artifacts") or config.getini("lab_artifacts"))
    return root if root.is_absolute() else config.rootpath / root


def topology_dirs(config: pytest.Config) -> list[Path]:
    """Where topology names are looked up: ini lab_topologies, then <rootdir>/topologies, ./topologies."""
    return [*config.getini("lab_topologies"), config.rootpath / "topologies", Path.cwd() / "topologies"]


@pytest.fixture
def lab_artifacts(request: pytest.FixtureRequest) -> Iterator[Path]:
    """This test's artifact folder; removed after a pass unless --lab-keep-artifacts."""
    config = request.config
    folder = folder_for(artifacts_root(config), request.node.nodeid)
    request.node.stash[_ARTIFACTS] = folder
    yield folder
    reports = request.node.stash.get(_REPORTS, {})
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


class LinkFaults:
    """Faults bound to one network and timeline; each method returns a context manager.

    See :mod:`lab.faults` and docs/faults.md for what each does to the kernel.
    """

    def __init__(self, net: Network, log: EventLog) -> None:
        self.net, self.log = net, log

    def inject(self, fault: Fault) -> AbstractContextManager[Fault]:
        return inject(self.net, fault, log=self.log)

    def blackhole(self, link: str, *, direction: Direction = "both") -> AbstractContextManager[Fault]:
        return self.inject(Blackhole(link, direction=direction))

    def impair(self, link: str, *, direction: Direction = "both", **params: float) -> AbstractContextManager[Fault]:
        return self.inject(Impair(link, NetemParams(**params), direction=direction))

    def link_down(self, link: str, *, node: str | None = None, side: Literal["near", "far"] = "near"
                  ) -> AbstractContextManager[Fault]:
        return self.inject(LinkDown(link, node=node, side=side))

    def withdraw_route(self, link: str, *, node: str = "client") -> AbstractContextManager[Fault]:
        return self.inject(RouteWithdrawal(link, node=node))

    def drop_chunks(self, link: str, *chunks: str, direction: Direction = "both") -> AbstractContextManager[Fault]:
        return self.inject(ChunkDrop(link, chunks, direction=direction))

    def flap(self, link: str, *, count: int = 3, period: float = 2.0, duty: float = 0.5, node: str | None = None,
             side: Literal["near", "far"] = "near") -> AbstractContextManager[Fault]:
        return self.inject(Flap(link, count=count, period=period, duty=duty, node=node, side=side, log=self.log))


@pytest.fixture
def link_faults(lab_network: Network, lab_events: EventLog) -> LinkFaults:
    return LinkFaults(lab_network, lab_events)
