"""The scenario file: one failover story (topology, timers, traffic, timeline, expectations).

docs/scenario-format.md describes every key. :func:`read_scenario` validates a
file on its own; :func:`load_scenario` also loads its topology and checks every
link, path and node name against it (:func:`check_names`). Every problem is
one :class:`~lab.errors.ConfigError` naming file, line and key.

A validated :class:`Scenario` gives the runner what it schedules:
:meth:`Scenario.plan` (the timeline as ``(at, action)`` pairs),
:meth:`Scenario.fault_steps` (each fault with its restore time) and
:attr:`Scenario.effective_duration`. The parts of the file live in their own
modules and are importable from here too: the timeline's steps and actions in
:mod:`lab.model.steps`, the expectations in :mod:`lab.model.expect`, the fault
specs in :mod:`lab.model.faultspec` (the command line's ``sctplab fail`` uses
them too).
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

from pydantic import Field, ValidationError, field_validator, model_validator

from lab.errors import ConfigError
from lab.model.application import Applications
from lab.model.base import StrictModel as _Model
from lab.model.base import check_name as _check_name
from lab.model.catalog import is_path
from lab.model.expect import FAULT_REFS, Count, Delivery, Expect, Failover, FaultRef, PathStateExpect
from lab.model.faultspec import FlapFault, LinkDownFault, RouteWithdrawalFault
from lab.model.profile import PROFILES, TimerProfile, get_profile
from lab.model.steps import (
    ACTIONS,
    Action,
    ApplyFault,
    FaultStep,
    PathState,
    RestoreFault,
    SetPrimary,
    Side,
    Step,
    WaitState,
)
from lab.model.placeholders import ENDPOINTS, PlaceholderError, render, render_argv, values_for
from lab.model.topology import Topology, load_topology, resolve_topology_path
from lab.model.yamlsource import KeyedValueError, KeyPath, LineMap, load_yaml, validation_error

__all__ = [
    "SETTLE",
    "ACTIONS",
    "Side",
    "PathState",
    "Count",
    "WaitState",
    "Step",
    "Traffic",
    "Delivery",
    "FaultRef",
    "Failover",
    "PathStateExpect",
    "Expect",
    "Scenario",
    "FaultStep",
    "ApplyFault",
    "RestoreFault",
    "SetPrimary",
    "Action",
    "LoadedScenario",
    "read_scenario",
    "check_names",
    "load_scenario",
    "check_applications",
]

#: Seconds of traffic after the last step is done, when ``traffic.duration`` is not given.
SETTLE = 3.0

_TAG = re.compile(r"[a-z][a-z0-9_]*")


# -- traffic ----------------------------------------------------------------------------------------------


class Traffic(_Model):
    """The messages the client sends while the timeline runs."""

    rate: float = Field(default=100, gt=0, le=10_000)
    size: int = Field(default=100, ge=32, le=65_000)
    streams: int = Field(default=1, ge=1, le=10)  # the kernel's default number of outbound streams
    ppid: int = Field(default=0, ge=0, le=2**32 - 1)
    duration: Annotated[float, Field(gt=0)] | None = None


# -- the scenario ---------------------------------------------------------------------------------------


class Scenario(_Model):
    """A validated scenario file (names of links, paths and nodes are checked by :func:`check_names`)."""

    name: str = Field(description="a scenario name such as primary-blackhole")
    description: str = Field(description="a sentence saying what the scenario shows")
    tags: list[str] = []
    topology: str = Field(description="a topology name such as dual-homed, or a path to a .yaml file")
    profile: TimerProfile = PROFILES["fast"]
    traffic: Traffic = Traffic()
    applications: Applications | None = None
    steps: list[Step] = []
    expect: Expect = Expect()

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        _check_name(name, "scenario")
        return name

    @field_validator("description")
    @classmethod
    def _description(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("empty (expected a sentence saying what the scenario shows)")
        return text

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        for index, tag in enumerate(tags):
            if not _TAG.fullmatch(tag):
                raise KeyedValueError(
                    (index,),
                    f"invalid tag {tag!r} (expected a lowercase letter, then lowercase letters, digits or '_')",
                )
        return tags

    @field_validator("profile", mode="before")
    @classmethod
    def _profile(cls, value: Any) -> Any:
        """A built-in profile's name, or ``{base: <name>, <timer>: <value>, ...}``, then validated as a profile."""
        if isinstance(value, str):
            try:
                return get_profile(value)
            except ConfigError as err:
                raise ValueError(err.reason) from None
        if not isinstance(value, dict):
            raise ValueError(
                f"expected a profile name or a mapping such as {{base: fast, rto_min: 50}} (got {reprlib.repr(value)})"
            )
        for key in value:
            if key != "base" and key not in TimerProfile.model_fields:
                raise KeyedValueError(
                    (key,), f"unknown key (expected one of: base, {', '.join(TimerProfile.model_fields)})"
                )
        base = value.get("base", "fast")
        try:
            profile = get_profile(base) if isinstance(base, str) else None
        except ConfigError as err:
            raise KeyedValueError(("base",), err.reason) from None
        if profile is None:
            raise KeyedValueError(("base",), f"expected a profile name (got {reprlib.repr(base)})")
        overrides = {key: item for key, item in value.items() if key != "base"}
        return {**profile.model_dump(), "name": f"{profile.name}-custom", **overrides}

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        self._check_fault_names()
        self._check_restores()
        end = self.steps_end
        if self.traffic.duration is not None and self.traffic.duration <= end:
            raise KeyedValueError(
                ("traffic", "duration"),
                f"{self.traffic.duration:g} s ends before the last step is done at {end:g} s"
                f" (expected more than {end:g}, or no duration for {end + SETTLE:g})",
            )
        self._check_expect()
        return self

    def _check_fault_names(self) -> None:
        first: dict[str, int] = {}
        for index, step in enumerate(self.steps):
            if step.spec is not None:
                name = step.spec.resolved_name
                if name in first:
                    raise KeyedValueError(
                        ("steps", index, step.action, "name"),
                        f"fault name {name!r} is already used by steps[{first[name]}]"
                        " (expected a name: unique in the file)",
                    )
                first[name] = index

    def _check_restores(self) -> None:
        faults = {fault.name: fault for fault in self.fault_steps()}
        restored_by = {  # fault name -> what restores it
            name: f"its hold (steps[{fault.step}].hold)"
            for name, fault in faults.items()
            if self.steps[fault.step].hold is not None
        }
        for index, step in enumerate(self.steps):
            name = step.restore
            if name is None:
                continue
            key = ("steps", index, "restore")
            if name not in faults:
                raise KeyedValueError(key, f"unknown fault {name!r} ({_expected(faults, 'fault steps')})")
            applied = faults[name].at
            if step.at <= applied:
                raise KeyedValueError(
                    key, f"restore at {step.at:g} s is not after fault {name!r} at {applied:g} s"
                    f" (expected at: greater than {applied:g})",
                )
            if name in restored_by:
                raise KeyedValueError(key, f"fault {name!r} is already restored by {restored_by[name]}")
            restored_by[name] = f"steps[{index}]"

    def _check_expect(self) -> None:
        faults = {fault.name: fault for fault in self.fault_steps()}
        refs: list[tuple[KeyPath, str]] = [
            (("expect", key, "after"), getattr(self.expect, key).after)
            for key in FAULT_REFS
            if getattr(self.expect, key) is not None
        ]
        refs += [(("expect", "path_states", i, "after"), e.after) for i, e in enumerate(self.expect.path_states)]
        for key, name in refs:
            if name not in faults:
                raise KeyedValueError(key, f"unknown fault {name!r} ({_expected(faults, 'fault steps')})")
        failback = self.expect.failback
        if failback is not None and faults[failback.after].ends_at is None:
            raise KeyedValueError(
                ("expect", "failback", "after"),
                f"fault {failback.after!r} is never restored"
                " (expected a hold: on its step or a restore: step, so that data can fail back)",
            )
        failover, no_failover = self.expect.failover, self.expect.no_failover
        if failover is not None and no_failover is not None and failover.after == no_failover.after:
            raise KeyedValueError(
                ("expect", "no_failover", "after"),
                f"expect.failover already expects a failover after fault {failover.after!r}",
            )

    def fault_steps(self) -> list[FaultStep]:
        """Every fault of the timeline in file order, with its restore time (by ``hold`` or a restore step)."""
        restores = {step.restore: step.at for step in self.steps if step.restore is not None}
        faults = []
        for index, step in enumerate(self.steps):
            if step.spec is not None:
                name = step.spec.resolved_name
                restore_at = step.at + step.hold if step.hold is not None else restores.get(name)
                faults.append(FaultStep(name, step.at, step.spec, restore_at, index))
        return faults

    @property
    def steps_end(self) -> float:
        """When the last step is done: the latest ``at``, restore, flap cycle or wait timeout (0 without steps)."""
        times = [step.at for step in self.steps]
        times += [step.at + step.wait.timeout for step in self.steps if step.wait is not None]
        times += [end for fault in self.fault_steps() if (end := fault.ends_at) is not None]
        return max(times, default=0.0)

    @property
    def effective_duration(self) -> float:
        """Seconds of traffic: ``traffic.duration``, or :attr:`steps_end` + :data:`SETTLE`."""
        return self.traffic.duration if self.traffic.duration is not None else self.steps_end + SETTLE

    def plan(self) -> list[tuple[float, Action]]:
        """The timeline as ``(at, action)``, sorted by time; a ``hold`` becomes a :class:`RestoreFault`.

        At one time, restores come first (a link is free again before a new
        fault takes it), then the other actions in file order.
        """
        entries: list[tuple[float, int, int, Action]] = []  # (at, 0 = restore / 1 = other, step, action)
        for fault in self.fault_steps():
            entries.append((fault.at, 1, fault.step, ApplyFault(fault.name, fault.fault)))
            hold = self.steps[fault.step].hold
            if hold is not None:
                entries.append((fault.at + hold, 0, fault.step, RestoreFault(fault.name)))
        for index, step in enumerate(self.steps):
            if step.restore is not None:
                entries.append((step.at, 0, index, RestoreFault(step.restore)))
            elif step.primary is not None:
                entries.append((step.at, 1, index, SetPrimary(step.primary)))
            elif step.wait is not None:
                entries.append((step.at, 1, index, step.wait))
        entries.sort(key=lambda entry: entry[:3])
        return [(at, action) for at, _, _, action in entries]


def _expected(names: Collection[str], what: str) -> str:
    return f"expected one of: {', '.join(names)}" if names else f"there are no {what}"


# -- loading --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario file checked against its topology."""

    scenario: Scenario
    topology: Topology
    topology_file: Path
    file: Path


def read_scenario(path: Path) -> tuple[Scenario, LineMap]:
    """Load and validate the scenario file at ``path`` on its own (no topology); also its :class:`LineMap`.

    ``name`` defaults to the file's stem. :class:`ConfigError` on any problem.
    """
    data, lines = load_yaml(path)
    if isinstance(data, dict) and "name" not in data:
        data = {"name": path.stem, **data}
    try:
        return Scenario.model_validate(data), lines
    except ValidationError as exc:
        raise validation_error(exc, model=Scenario, file=path, lines=lines) from exc


def check_names(
    scenario: Scenario,
    *,
    links: Mapping[str, Collection[str]],
    paths: Collection[str],
    nodes: Collection[str],
    lines: LineMap,
    file: str | Path,
) -> None:
    """Check the scenario's link, path and node names against a topology's.

    ``links`` maps each link name to the names of the nodes on it; ``lines``
    and ``file`` locate the error. :class:`ConfigError` at the first unknown
    name, listing the known ones.
    """

    def fail(path: KeyPath, message: str) -> NoReturn:
        key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
        raise ConfigError(message, file=file, key=key, line=lines.line_of(path))

    def check_path(key: KeyPath, name: str) -> None:
        if name not in paths:
            fail(key, f"unknown path {name!r} ({_expected(paths, 'paths')})")

    for index, step in enumerate(scenario.steps):
        at = ("steps", index, step.action)
        spec = step.spec
        if spec is not None:
            if spec.link not in links:
                fail((*at, "link"), f"unknown link {spec.link!r} ({_expected(links, 'links')})")
            if isinstance(spec, (LinkDownFault, RouteWithdrawalFault, FlapFault)) and spec.node is not None:
                default = "" if "node" in spec.model_fields_set else " (the default)"
                if spec.node not in nodes:
                    fail((*at, "node"), f"unknown node {spec.node!r}{default} ({_expected(nodes, 'nodes')})")
                if spec.node not in links[spec.link]:
                    fail((*at, "node"), f"node {spec.node!r}{default} is not on link {spec.link!r}"
                                        f" ({_expected(links[spec.link], 'nodes')})")
        elif step.primary is not None:
            check_path(at, step.primary)
        elif step.wait is not None:
            check_path((*at, "path"), step.wait.path)
    if scenario.expect.failover is not None:
        check_path(("expect", "failover", "to"), scenario.expect.failover.to)
    for index, state in enumerate(scenario.expect.path_states):
        check_path(("expect", "path_states", index, "path"), state.path)


def load_scenario(path: Path, *, topology_dirs: Sequence[Path]) -> LoadedScenario:
    """Load the scenario file at ``path``, its topology, and check the one against the other.

    ``topology:`` is a path relative to the scenario file if it contains
    ``/`` or ends in ``.yaml``, else a name looked up as ``<name>.yaml`` in
    ``topology_dirs``, then among the shipped topologies
    (:func:`~lab.model.topology.resolve_topology_path`). Errors in the
    topology file itself are reported against that file.
    """
    scenario, lines = read_scenario(path)
    value, line = scenario.topology, lines.line_of(("topology",))
    if is_path(value):
        topology_file = path.parent / value
        if not topology_file.is_file():
            raise ConfigError(f"no such file: {topology_file}", file=path, key="topology", line=line)
    else:
        try:
            topology_file = resolve_topology_path(value, list(topology_dirs))
        except ConfigError as err:
            raise ConfigError(err.reason, file=path, key="topology", line=line) from err
    topology = load_topology(topology_file)
    check_names(
        scenario,
        links={name: link.nodes() for name, link in topology.links.items()},
        paths=topology.path_map,
        nodes=topology.nodes,
        lines=lines,
        file=path,
    )
    check_applications(scenario, topology, lines=lines, file=path)
    return LoadedScenario(scenario, topology, topology_file, path)


def check_applications(scenario: Scenario, topology: Topology, *, lines: LineMap, file: Path) -> None:
    """Check each application's placeholders against the topology, and that its templates exist."""
    apps = scenario.applications
    if apps is None:
        return
    if apps.client is not None:
        for index, step in enumerate(scenario.steps):
            if step.primary is not None:
                raise ConfigError("a primary: step needs the lab's own client (an application's primary path is its"
                                  " own to set)", file=file, key=f"steps[{index}].primary",
                                  line=lines.line_of(("steps", index, "primary")))
    for side in apps.sides():
        app = apps.of(side)
        assert app is not None
        base: KeyPath = ("applications", side)

        def fail(path: KeyPath, message: str) -> NoReturn:
            key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".")
            raise ConfigError(message, file=file, key=key, line=lines.line_of(path))

        if side not in topology.nodes or side not in ENDPOINTS:
            fail(base, f"no endpoint node {side!r} in topology {topology.name}")
        values = values_for(topology, side, port=apps.port, run=Path("/run"), duration=scenario.effective_duration)
        commands: list[tuple[KeyPath, list[str]]] = [((*base, "command"), app.command)]
        commands += [((*base, "setup", i), argv) for i, argv in enumerate(app.setup)]
        commands += [((*base, "checks", i), argv) for i, argv in enumerate(app.checks)]
        key: KeyPath = base
        try:
            for prefix, argv in commands:
                for index, argument in enumerate(argv):
                    key = (*prefix, index)
                    render_argv([argument], values)
            for name, text in app.environment.items():
                key = (*base, "environment", name)
                render(text, values)
            if app.ready is not None and isinstance(app.ready.listening, str):
                key = (*base, "ready", "listening")
                port = render(app.ready.listening, values)
                if not port.isdigit() or not 1 <= int(port) <= 65535:
                    raise PlaceholderError(f"expected a port 1..65535 (got {port!r})")
        except PlaceholderError as err:
            fail(key, str(err))
        for index, item in enumerate(app.files):
            template = file.parent / item.template
            key = (*base, "files", index, "template")
            try:
                render(template.read_text(), values)
            except OSError as err:
                fail(key, f"cannot read template {template}: {err.strerror}")
            except UnicodeDecodeError:
                fail(key, f"template {template} is not UTF-8 text")
            except PlaceholderError as err:
                fail(key, f"{template}: {err}")
