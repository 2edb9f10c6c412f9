"""Scenario files: loading, defaults, the timeline plan, and one-line errors for bad files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.model.catalog import shipped_dir
from lab.model.faultspec import (
    BlackholeFault,
    DropChunksFault,
    FlapFault,
    ImpairFault,
    LinkDownFault,
    RouteWithdrawalFault,
)
from lab.model.scenario import (
    SETTLE,
    ApplyFault,
    RestoreFault,
    Scenario,
    SetPrimary,
    WaitState,
    check_names,
    load_scenario,
    read_scenario,
)
from lab.model.profile import PROFILES

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"

GOOD = """\
name: s
description: Cut the primary; data moves to path-b and comes back.
tags: [failover, blackhole]
topology: dual-homed
profile: fast
traffic:
  rate: 100
  ppid: 46
steps:
  - at: 2
    fault: {kind: blackhole, link: path-a, name: cut}
    hold: 3
  - at: 1
    impair: {link: path-b, delay_ms: 20, name: slow-b}
  - at: 6
    restore: slow-b
  - at: 3
    primary: path-b
  - at: 4
    wait: {side: client, path: path-a, state: unreachable, timeout: 3}
expect:
  failover: {after: cut, to: path-b}
  failback: {after: cut}
  path_states:
    - {side: client, path: path-a, state: unreachable, after: cut}
"""

CUT = "fault: {kind: blackhole, link: path-a, name: cut}"
SLOW = "impair: {link: path-b, delay_ms: 20, name: slow-b}"
WAIT = "wait: {side: client, path: path-a, state: unreachable, timeout: 3}"

#: The stand-in topology of :func:`check_names` tests: two direct links, a path over each.
LINKS = {"path-a": ("client", "server"), "path-b": ("client", "server")}
PATHS = ("path-a", "path-b")
NODES = ("client", "server")


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(call: Callable[..., object], *args: object, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def check_stand_in(path: Path) -> None:
    scenario, lines = read_scenario(path)
    check_names(scenario, links=LINKS, paths=PATHS, nodes=NODES, lines=lines, file=path)


def test_good_file_plan_and_times(tmp_path: Path) -> None:
    scenario, _ = read_scenario(write(tmp_path, GOOD, "s.yaml"))
    assert scenario.name == "s"
    assert scenario.tags == ["failover", "blackhole"]
    assert scenario.profile is PROFILES["fast"]
    cut = BlackholeFault(link="path-a", name="cut")
    slow = ImpairFault(link="path-b", delay_ms=20, name="slow-b")
    wait = WaitState(side="client", path="path-a", state="unreachable", timeout=3)
    assert scenario.plan() == [
        (1.0, ApplyFault("slow-b", slow)),
        (2.0, ApplyFault("cut", cut)),
        (3.0, SetPrimary("path-b")),
        (4.0, wait),
        (5.0, RestoreFault("cut")),  # the hold
        (6.0, RestoreFault("slow-b")),
    ]
    assert [(f.name, f.at, f.restore_at, f.step) for f in scenario.fault_steps()] == [
        ("cut", 2.0, 5.0, 0),
        ("slow-b", 1.0, 6.0, 1),
    ]
    assert scenario.steps_end == 7.0  # the wait's timeout
    assert scenario.effective_duration == 7.0 + SETTLE
    assert scenario.expect.failover is not None and scenario.expect.failover.to == "path-b"
    check_stand_in(tmp_path / "s.yaml")


def test_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "description: Nothing happens.\ntopology: dual-homed\n", "quiet-run.yaml")
    scenario, _ = read_scenario(path)
    assert scenario.name == "quiet-run"
    assert scenario.tags == []
    assert scenario.profile == PROFILES["fast"]
    traffic = scenario.traffic
    assert (traffic.rate, traffic.size, traffic.streams, traffic.ppid) == (100, 100, 1, 0)
    assert traffic.duration is None
    assert scenario.plan() == []
    assert scenario.effective_duration == SETTLE
    expect = scenario.expect
    assert (expect.delivery.lost, expect.delivery.duplicated, expect.delivery.reordered) == (0, 0, 0)
    assert (expect.application_errors, expect.init_addresses, expect.heartbeat_matrix) == (0, True, True)
    assert (expect.failover, expect.no_failover, expect.failback, expect.abort, expect.path_states) == (
        None, None, None, None, [],
    )


def test_duration_defaults_to_last_step_plus_settle(tmp_path: Path) -> None:
    text = "description: d\ntopology: t\nsteps:\n  - at: 2.5\n    primary: path-b\n"
    scenario, _ = read_scenario(write(tmp_path, text, "d.yaml"))
    assert scenario.effective_duration == 2.5 + SETTLE


def test_explicit_duration_wins(tmp_path: Path) -> None:
    text = GOOD.replace("  rate: 100\n", "  rate: 100\n  duration: 7.5\n")
    scenario, _ = read_scenario(write(tmp_path, text, "d.yaml"))
    assert scenario.effective_duration == 7.5


def test_flap_ends_by_itself(tmp_path: Path) -> None:
    text = GOOD.replace(CUT, "fault: {kind: flap, link: path-a, count: 2, period: 1.5, name: cut}").replace(
        "    hold: 3\n", ""
    )
    scenario, _ = read_scenario(write(tmp_path, text, "f.yaml"))
    (flap, _) = scenario.fault_steps()
    assert flap.restore_at is None
    assert flap.ends_at == 2 + 2 * 1.5  # failback may follow it without a hold
    assert RestoreFault("cut") not in [action for _, action in scenario.plan()]


def test_restores_come_first_at_one_time(tmp_path: Path) -> None:
    text = GOOD.replace("  - at: 3\n    primary", "  - at: 5\n    primary").replace(
        "  - at: 6\n    restore: slow-b", "  - at: 5\n    fault: {kind: link-down, link: path-a}"
    )
    scenario, _ = read_scenario(write(tmp_path, text, "r.yaml"))
    at_five = [action for at, action in scenario.plan() if at == 5]
    down = ApplyFault("link-down-path-a", LinkDownFault(link="path-a"))
    assert at_five == [RestoreFault("cut"), down, SetPrimary("path-b")]  # the hold's restore, then file order


def test_profile_overrides_a_base(tmp_path: Path) -> None:
    text = GOOD.replace("profile: fast", "profile: {base: kernel-defaults, hb_interval: 5000}")
    scenario, _ = read_scenario(write(tmp_path, text, "p.yaml"))
    expected = PROFILES["kernel-defaults"].model_copy(update={"name": "kernel-defaults-custom", "hb_interval": 5000})
    assert scenario.profile == expected


def test_abort_lets_messages_be_lost(tmp_path: Path) -> None:
    text = GOOD.replace("  failback: {after: cut}\n", "  abort: {after: cut}\n")
    scenario, _ = read_scenario(write(tmp_path, text, "a.yaml"))
    assert scenario.expect.delivery.lost == "any"
    assert scenario.expect.delivery.duplicated == 0
    text = text.replace("expect:\n", "expect:\n  delivery: {lost: 2}\n")
    scenario, _ = read_scenario(write(tmp_path, text, "a.yaml"))
    assert scenario.expect.delivery.lost == 2


def test_impair_shorthand_is_fault_kind_impair(tmp_path: Path) -> None:
    text = GOOD.replace(SLOW, "fault: {kind: impair, link: path-b, delay_ms: 20, name: slow-b}")
    long, _ = read_scenario(write(tmp_path, text, "long.yaml"))
    short, _ = read_scenario(write(tmp_path, GOOD, "short.yaml"))
    assert long.plan() == short.plan()


def test_fault_specs_become_live_faults() -> None:
    from lab.faults import Blackhole, ChunkDrop, Flap, Impair, LinkDown, RouteWithdrawal, from_spec
    from lab.model.netem import NetemParams

    hole = from_spec(BlackholeFault(link="path-a", direction="a-to-b"))
    assert isinstance(hole, Blackhole) and (hole.link, hole.direction) == ("path-a", "a-to-b")
    impair = from_spec(ImpairFault(link="path-b", delay_ms=80, loss_pct=5))
    assert isinstance(impair, Impair) and impair.params == NetemParams(delay_ms=80, loss_pct=5)
    down = from_spec(LinkDownFault(link="path-a", node="server", side="far"))
    assert isinstance(down, LinkDown) and (down.link, down.node, down.side) == ("path-a", "server", "far")
    route = from_spec(RouteWithdrawalFault(link="path-a"))
    assert isinstance(route, RouteWithdrawal) and (route.link, route.node) == ("path-a", "client")
    flap = from_spec(FlapFault(link="path-a", count=2, period=1, duty=0.25))
    assert isinstance(flap, Flap) and (flap.count, flap.period, flap.duty, flap.node) == (2, 1, 0.25, None)
    drop = from_spec(DropChunksFault(link="path-b", chunks=["HEARTBEAT-ACK"], direction="b-to-a"))
    assert isinstance(drop, ChunkDrop) and (drop.chunks, drop.direction) == (("HEARTBEAT-ACK",), "b-to-a")


def test_import_does_not_load_pyroute2() -> None:
    code = "import sys, lab.model.scenario; print('pyroute2' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_scenario_model_validates_data_without_a_file() -> None:
    scenario = Scenario.model_validate(
        {"name": "x", "description": "d", "topology": "t", "steps": [{"at": 1, "fault": {"kind": "flap", "link": "l"}}]}
    )
    assert scenario.plan() == [(1.0, ApplyFault("flap-l", FlapFault(link="l")))]


NETEM = "delay_ms, jitter_ms, loss_pct, loss_corr_pct, reorder_pct, duplicate_pct, corrupt_pct, rate_kbit"
KINDS = "blackhole, impair, link-down, route-withdrawal, flap, drop-chunks"
TIMERS = (
    "name, rto_initial, rto_min, rto_max, hb_interval, path_max_retrans, pf_retrans, pf_expose,"
    " sack_timeout, association_max_retrans, max_init_retransmits"
)

# (old text in GOOD, new text, line, key, message)
BAD = {
    "unknown top-level key": (
        "name: s\n", "name: s\ncolour: red\n",
        2, "colour", "unknown key (expected one of: name, description, tags, topology, profile, traffic, applications, steps, expect)",
    ),
    "missing description": (
        "description: Cut the primary; data moves to path-b and comes back.\n", "",
        1, "description", "missing (expected a sentence saying what the scenario shows)",
    ),
    "empty description": (
        "description: Cut the primary; data moves to path-b and comes back.", "description: ' '",
        2, "description", "empty (expected a sentence saying what the scenario shows)",
    ),
    "bad scenario name": (
        "name: s", "name: S1",
        1, "name", "invalid scenario name 'S1' (expected a lowercase letter, then lowercase letters, digits or '-')",
    ),
    "bad tag": (
        "tags: [failover, blackhole]", "tags: [failover, Black-hole]",
        3, "tags[1]", "invalid tag 'Black-hole' (expected a lowercase letter, then lowercase letters, digits or '_')",
    ),
    "unknown profile": (
        "profile: fast", "profile: slow",
        5, "profile", "unknown timer profile 'slow' (expected one of: fast, kernel-defaults)",
    ),
    "profile neither name nor mapping": (
        "profile: fast", "profile: [fast]",
        5, "profile", "expected a profile name or a mapping such as {base: fast, rto_min: 50} (got ['fast'])",
    ),
    "bad profile override": (
        "profile: fast", "profile: {base: fast, rto_min: 300}",
        5, "profile.rto_min", "rto_min (300 ms) must be <= rto_initial (200 ms)",
    ),
    "profile override of the wrong type": (
        "profile: fast", "profile:\n  rto_max: 0.5",
        6, "profile.rto_max", "expected an integer (got 0.5)",
    ),
    "unknown profile base": (
        "profile: fast", "profile: {base: quick, rto_min: 100}",
        5, "profile.base", "unknown timer profile 'quick' (expected one of: fast, kernel-defaults)",
    ),
    "unknown profile key": (
        "profile: fast", "profile: {base: fast, rto_mni: 100}",
        5, "profile.rto_mni", f"unknown key (expected one of: base, {TIMERS})",
    ),
    "rate zero": (
        "rate: 100", "rate: 0",
        7, "traffic.rate", "input should be greater than 0 (got 0)",
    ),
    "rate too high": (
        "rate: 100", "rate: 20000",
        7, "traffic.rate", "input should be less than or equal to 10000 (got 20000)",
    ),
    "size too small": (
        "  rate: 100\n", "  rate: 100\n  size: 8\n",
        8, "traffic.size", "input should be greater than or equal to 32 (got 8)",
    ),
    "unknown traffic key": (
        "ppid: 46", "ppid: 46\n  stlye: one-to-one",
        9, "traffic.stlye", "unknown key (expected one of: rate, size, streams, ppid, duration)",
    ),
    "step with two actions": (
        "    restore: slow-b\n", "    restore: slow-b\n    primary: path-a\n",
        17, "steps[2].primary",
        "second action in one step (it already has restore; expected exactly one of: fault, impair, restore, primary, wait)",
    ),
    "step with no action": (
        "    restore: slow-b\n", "",
        15, "steps[2]", "no action (expected one of: fault, impair, restore, primary, wait)",
    ),
    "step without at": (
        "  - at: 6\n    restore: slow-b", "  - restore: slow-b",
        15, "steps[2].at", "missing (expected the time of the step in seconds after traffic starts, e.g. 2)",
    ),
    "unknown step key": (
        "    restore: slow-b\n", "    restore: slow-b\n    after: 2\n",
        17, "steps[2].after", "unknown key (expected one of: at, fault, impair, restore, primary, wait, hold)",
    ),
    "negative at": (
        "  - at: 2\n", "  - at: -1\n",
        10, "steps[0].at", "input should be greater than or equal to 0 (got -1)",
    ),
    "hold on a primary step": (
        "    primary: path-b\n", "    primary: path-b\n    hold: 1\n",
        19, "steps[3].hold", "only a fault or impair step can be held (this step has primary)",
    ),
    "zero hold": (
        "    hold: 3", "    hold: 0",
        12, "steps[0].hold", "input should be greater than 0 (got 0)",
    ),
    "unknown fault kind": (
        "kind: blackhole", "kind: blackhol",
        11, "steps[0].fault.kind", f"unknown fault kind 'blackhol' (expected one of: {KINDS})",
    ),
    "fault without kind": (
        CUT, "fault: {link: path-a, name: cut}",
        11, "steps[0].fault.kind", f"missing (expected a fault kind, one of: {KINDS})",
    ),
    "fault without link": (
        CUT, "fault: {kind: blackhole, name: cut}",
        11, "steps[0].fault.link", "missing (expected the name of a link of the topology, e.g. path-a)",
    ),
    "fault not a mapping": (
        CUT, "fault: cut",
        11, "steps[0].fault", "expected a mapping with a kind: key (got 'cut')",
    ),
    "unknown key in a fault": (
        CUT, "fault: {kind: blackhole, link: path-a, name: cut, node: server}",
        11, "steps[0].fault.node", "unknown key (expected one of: kind, link, name, direction)",
    ),
    "bad direction": (
        CUT, "fault: {kind: blackhole, link: path-a, name: cut, direction: up}",
        11, "steps[0].fault.direction", "input should be 'both', 'a-to-b' or 'b-to-a' (got 'up')",
    ),
    "bad fault name": (
        "name: cut}", "name: Cut}",
        11, "steps[0].fault.name", "invalid fault name 'Cut' (expected a lowercase letter, then lowercase letters, digits or '-')",
    ),
    "bad link-down side": (
        CUT, "fault: {kind: link-down, link: path-a, name: cut, side: left}",
        11, "steps[0].fault.side", "input should be 'near' or 'far' (got 'left')",
    ),
    "flap duty of one": (
        CUT, "fault: {kind: flap, link: path-a, name: cut, duty: 1}",
        11, "steps[0].fault.duty", "input should be less than 1 (got 1)",
    ),
    "flap count zero": (
        CUT, "fault: {kind: flap, link: path-a, name: cut, count: 0}",
        11, "steps[0].fault.count", "input should be greater than or equal to 1 (got 0)",
    ),
    "impair with no netem key": (
        SLOW, "impair: {link: path-b, name: slow-b}",
        14, "steps[1].impair", f"no impairment given (expected at least one of: {NETEM})",
    ),
    "impair fault kind with no netem key": (
        SLOW, "fault: {kind: impair, link: path-b, name: slow-b}",
        14, "steps[1].fault", f"no impairment given (expected at least one of: {NETEM})",
    ),
    "reorder without delay": (
        SLOW, "impair: {link: path-b, reorder_pct: 20, name: slow-b}",
        14, "steps[1].impair.reorder_pct", "reordering needs delay_ms > 0 (netem reorders by not delaying some packets)",
    ),
    "loss over 100 percent": (
        SLOW, "impair: {link: path-b, loss_pct: 120, name: slow-b}",
        14, "steps[1].impair.loss_pct", "120 is above 100 (expected loss (%), 0-100)",
    ),
    "unknown key in impair": (
        SLOW, "impair: {link: path-b, delay: 20, name: slow-b}",
        14, "steps[1].impair.delay", f"unknown key (expected one of: kind, link, name, {NETEM}, direction)",
    ),
    "unknown chunk type": (
        CUT, "fault: {kind: drop-chunks, link: path-a, name: cut, chunks: [DATA, HB]}",
        11, "steps[0].fault.chunks[1]",
        "unknown chunk type 'HB' (expected one of: DATA, INIT, INIT-ACK, SACK, HEARTBEAT, HEARTBEAT-ACK,"
        " ABORT, SHUTDOWN, COOKIE-ECHO, COOKIE-ACK)",
    ),
    "no chunk types": (
        CUT, "fault: {kind: drop-chunks, link: path-a, name: cut, chunks: []}",
        11, "steps[0].fault.chunks",
        "no chunk types given (expected some of: DATA, INIT, INIT-ACK, SACK, HEARTBEAT, HEARTBEAT-ACK,"
        " ABORT, SHUTDOWN, COOKIE-ECHO, COOKIE-ACK)",
    ),
    "duplicate fault names": (
        "name: slow-b}", "name: cut}",
        14, "steps[1].impair.name", "fault name 'cut' is already used by steps[0] (expected a name: unique in the file)",
    ),
    "duplicate default fault names": (
        "  - at: 3\n    primary: path-b", "  - at: 3\n    fault: {kind: link-down, link: path-a}\n"
        "  - at: 3.5\n    fault: {kind: link-down, link: path-a}",
        20, "steps[4].fault.name",
        "fault name 'link-down-path-a' is already used by steps[3] (expected a name: unique in the file)",
    ),
    "restore of an unknown fault": (
        "restore: slow-b", "restore: slow-c",
        16, "steps[2].restore", "unknown fault 'slow-c' (expected one of: cut, slow-b)",
    ),
    "restore before the fault": (
        "  - at: 6\n    restore", "  - at: 0.5\n    restore",
        16, "steps[2].restore", "restore at 0.5 s is not after fault 'slow-b' at 1 s (expected at: greater than 1)",
    ),
    "restore of a held fault": (
        "restore: slow-b", "restore: cut",
        16, "steps[2].restore", "fault 'cut' is already restored by its hold (steps[0].hold)",
    ),
    "double restore": (
        "  - at: 3\n", "  - at: 7\n    restore: slow-b\n  - at: 3\n",
        18, "steps[3].restore", "fault 'slow-b' is already restored by steps[2]",
    ),
    "duration not after the last step": (
        "  rate: 100\n", "  rate: 100\n  duration: 7\n",
        8, "traffic.duration",
        "7 s ends before the last step is done at 7 s (expected more than 7, or no duration for 10)",
    ),
    "wait without timeout": (
        WAIT, "wait: {side: client, path: path-a, state: unreachable}",
        20, "steps[4].wait.timeout", "missing (expected the longest wait in seconds, e.g. 3)",
    ),
    "wait for a bad state": (
        WAIT, "wait: {side: client, path: path-a, state: down, timeout: 3}",
        20, "steps[4].wait.state", "input should be 'active', 'pf', 'unreachable' or 'unconfirmed' (got 'down')",
    ),
    "wait on a bad side": (
        WAIT, "wait: {side: router, path: path-a, state: pf, timeout: 3}",
        20, "steps[4].wait.side", "input should be 'client' or 'server' (got 'router')",
    ),
    "failover after an unknown fault": (
        "failover: {after: cut,", "failover: {after: cutt,",
        22, "expect.failover.after", "unknown fault 'cutt' (expected one of: cut, slow-b)",
    ),
    "failover without to": (
        "failover: {after: cut, to: path-b}", "failover: {after: cut}",
        22, "expect.failover.to", "missing (expected the name of the path data moves to, e.g. path-b)",
    ),
    "unknown key in an expectation": (
        "failback: {after: cut}", "failback: {after: cut, within: 2}",
        23, "expect.failback.within", "unknown key (expected one of: after)",
    ),
    "path state after an unknown fault": (
        "state: unreachable, after: cut}", "state: unreachable, after: slow}",
        25, "expect.path_states[0].after", "unknown fault 'slow' (expected one of: cut, slow-b)",
    ),
    "failback on a fault never restored": (
        "    hold: 3\n", "",
        22, "expect.failback.after",
        "fault 'cut' is never restored (expected a hold: on its step or a restore: step, so that data can fail back)",
    ),
    "failover and no failover after one fault": (
        "  failback: {after: cut}\n", "  no_failover: {after: cut}\n",
        23, "expect.no_failover.after", "expect.failover already expects a failover after fault 'cut'",
    ),
    "bad delivery count": (
        "expect:\n", "expect:\n  delivery: {lost: some}\n",
        22, "expect.delivery.lost", "expected an integer >= 0 or 'any' (got 'some')",
    ),
    "negative application errors": (
        "expect:\n", "expect:\n  application_errors: -1\n",
        22, "expect.application_errors", "expected an integer >= 0 or 'any' (got -1)",
    ),
}


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), BAD.values(), ids=BAD.keys())
def test_bad_scenario(tmp_path: Path, old: str, new: str, line: int, key: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert error_of(read_scenario, path) == f"{path}:{line}: {key}: {message}"


# (old text in GOOD, new text, line, key, message) -- names checked against the stand-in topology
BAD_NAMES = {
    "unknown link": (
        "link: path-a, name: cut", "link: path-c, name: cut",
        11, "steps[0].fault.link", "unknown link 'path-c' (expected one of: path-a, path-b)",
    ),
    "unknown link in impair": (
        "link: path-b, delay_ms", "link: path-z, delay_ms",
        14, "steps[1].impair.link", "unknown link 'path-z' (expected one of: path-a, path-b)",
    ),
    "unknown node": (
        CUT, "fault: {kind: route-withdrawal, link: path-a, node: router, name: cut}",
        11, "steps[0].fault.node", "unknown node 'router' (expected one of: client, server)",
    ),
    "unknown primary path": (
        "primary: path-b", "primary: path-c",
        18, "steps[3].primary", "unknown path 'path-c' (expected one of: path-a, path-b)",
    ),
    "unknown wait path": (
        WAIT, "wait: {side: client, path: path-x, state: pf, timeout: 3}",
        20, "steps[4].wait.path", "unknown path 'path-x' (expected one of: path-a, path-b)",
    ),
    "unknown failover path": (
        "to: path-b}", "to: path-c}",
        22, "expect.failover.to", "unknown path 'path-c' (expected one of: path-a, path-b)",
    ),
    "unknown path state path": (
        "path: path-a, state: unreachable, after", "path: path-q, state: unreachable, after",
        25, "expect.path_states[0].path", "unknown path 'path-q' (expected one of: path-a, path-b)",
    ),
}


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_bad_names(tmp_path: Path, old: str, new: str, line: int, key: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert error_of(check_stand_in, path) == f"{path}:{line}: {key}: {message}"


def test_node_must_be_on_the_link(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace(CUT, "fault: {kind: link-down, link: path-a, name: cut, node: client}"))
    scenario, lines = read_scenario(path)
    links = {"path-a": ("router", "server"), "path-b": ("client", "router")}
    message = error_of(
        check_names, scenario, links=links, paths=PATHS, nodes=("client", "router", "server"), lines=lines, file=path
    )
    assert message == (
        f"{path}:11: steps[0].fault.node: node 'client' is not on link 'path-a'"
        " (expected one of: router, server)"
    )


def test_load_scenario_with_a_named_topology(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, "s.yaml")
    loaded = load_scenario(path, topology_dirs=[TOPOLOGIES])
    assert loaded.file == path
    assert loaded.topology_file == TOPOLOGIES / "dual-homed.yaml"
    assert loaded.topology.name == "dual-homed"
    assert loaded.scenario.name == "s"


def test_load_scenario_with_a_relative_topology_path(tmp_path: Path) -> None:
    (tmp_path / "topo").mkdir()
    topology = write(tmp_path / "topo", (TOPOLOGIES / "dual-homed.yaml").read_text(), "mine.yaml")
    (tmp_path / "scen").mkdir()
    path = write(tmp_path / "scen", GOOD.replace("topology: dual-homed", "topology: ../topo/mine.yaml"), "s.yaml")
    assert load_scenario(path, topology_dirs=[]).topology_file.resolve() == topology.resolve()


def test_load_scenario_checks_names_against_the_topology(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("to: path-b}", "to: path-c}"), "s.yaml")
    assert error_of(load_scenario, path, topology_dirs=[TOPOLOGIES]) == (
        f"{path}:22: expect.failover.to: unknown path 'path-c' (expected one of: path-a, path-b)"
    )


def test_topology_name_not_found(tmp_path: Path) -> None:
    scenarios, topologies = tmp_path / "scenarios", tmp_path / "topologies"
    scenarios.mkdir()
    topologies.mkdir()
    write(topologies, (TOPOLOGIES / "dual-homed.yaml").read_text(), "dual-homed.yaml")
    path = write(scenarios, GOOD.replace("topology: dual-homed", "topology: triple-homed"), "s.yaml")
    shipped = ", ".join(sorted(path.stem for path in TOPOLOGIES.glob("*.yaml")))
    assert error_of(load_scenario, path, topology_dirs=[topologies]) == (
        f"{path}:4: topology: unknown topology 'triple-homed'"
        f" (searched {topologies}, {shipped_dir('topology')} (shipped);"
        f" available: dual-homed (yours); {shipped} (shipped))"
    )


def test_topology_path_not_found(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("topology: dual-homed", "topology: nets/none.yaml"), "s.yaml")
    assert error_of(load_scenario, path, topology_dirs=[TOPOLOGIES]) == (
        f"{path}:4: topology: no such file: {tmp_path / 'nets' / 'none.yaml'}"
    )


def test_topology_errors_name_the_topology_file(tmp_path: Path) -> None:
    topology = write(tmp_path, "name: broken\n", "broken.yaml")
    path = write(tmp_path, GOOD.replace("topology: dual-homed", "topology: broken"), "s.yaml")
    assert error_of(load_scenario, path, topology_dirs=[tmp_path]).startswith(f"{topology}:")


def test_documented_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_scenario(write(tmp_path, example, "primary-blackhole.yaml"), topology_dirs=[TOPOLOGIES])
    scenario = loaded.scenario
    assert scenario.name == "primary-blackhole"
    assert scenario.profile.hb_interval == 300
    assert scenario.effective_duration == 8.0
    assert [(f.name, f.restore_at) for f in scenario.fault_steps()] == [("slow-b", None), ("cut", 5.0)]
