"""sctplab: a network test lab that proves SCTP multihoming failover works.

The public API for your own tests, importable from ``lab`` (loaded lazily, so
``import lab`` is cheap); docs/api.md describes each name with examples.

- topologies and timer profiles: ``load_topology``, ``Topology``, ``get_profile``, ``TimerProfile``,
  ``PROFILES``, ``load_scenario``, ``LoadedScenario``
- building and endpoints: ``build``, ``Network``, ``endpoint_pair``, ``EndpointPair``, ``DeliveryReport``
- faults: ``inject``, ``Blackhole``, ``Impair``, ``LinkDown``, ``RouteWithdrawal``, ``Flap``, ``ChunkDrop``,
  ``Schedule``, ``LinkFaults``, ``NetemParams``, ``Direction``
- evidence: ``EventLog``, ``Event``, ``EventKind``, ``capture``, ``Captures``, ``PathPoller``, ``Evidence``,
  ``Wire``
- the judge: ``expect``, ``ExpectationError``, ``init_advertised``, ``every_peer_address_heartbeated``,
  ``data_moved``, ``no_data``, ``no_abort``, ``kernel_reported``, ``path_state_seen``, ``association_lost``,
  ``delivery``, ``no_application_error``, ``stall_within``, ``arrived_from``, ``Check``
- predicted windows: ``Window``, ``switch_stall_window``, ``alternate_data_window``, ``first_strike_window``,
  ``unreachable_window``, ``heartbeat_window``, ``failback_window``, ``abort_window``, ``kernel_tick``
- errors: ``LabError``, ``ConfigError``, ``CapabilityError``, ``KernelError``, ``GuestError``,
  ``WaitTimeout``, ``EndpointError``
- fixture factories: ``lab.factories`` (:mod:`lab.plugin.factories`)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "load_topology": "lab.model.topology",
    "Topology": "lab.model.topology",
    "get_profile": "lab.model.profile",
    "TimerProfile": "lab.model.profile",
    "PROFILES": "lab.model.profile",
    "load_scenario": "lab.model.scenario",
    "LoadedScenario": "lab.model.scenario",
    "build": "lab.kernel.network",
    "Network": "lab.kernel.network",
    "endpoint_pair": "lab.sctp.pair",
    "EndpointPair": "lab.sctp.pair",
    "DeliveryReport": "lab.sctp.traffic",
    "inject": "lab.faults",
    "Blackhole": "lab.faults",
    "Impair": "lab.faults",
    "LinkDown": "lab.faults",
    "RouteWithdrawal": "lab.faults",
    "Flap": "lab.faults",
    "ChunkDrop": "lab.faults",
    "Schedule": "lab.faults",
    "LinkFaults": "lab.faults",
    "NetemParams": "lab.model.netem",
    "Direction": "lab.model.netem",
    "EventLog": "lab.events",
    "Event": "lab.events",
    "EventKind": "lab.events",
    "capture": "lab.evidence.capture",
    "Captures": "lab.evidence.capture",
    "PathPoller": "lab.evidence.paths",
    "Evidence": "lab.evidence.run",
    "Wire": "lab.evidence.wire",
    "expect": "lab.judge",
    "ExpectationError": "lab.judge",
    "init_advertised": "lab.judge",
    "every_peer_address_heartbeated": "lab.judge",
    "data_moved": "lab.judge",
    "no_data": "lab.judge",
    "no_abort": "lab.judge",
    "kernel_reported": "lab.judge",
    "path_state_seen": "lab.judge",
    "association_lost": "lab.judge",
    "delivery": "lab.judge",
    "no_application_error": "lab.judge",
    "stall_within": "lab.judge",
    "arrived_from": "lab.judge",
    "wire_stall_within": "lab.judge",
    "find_findings": "lab.judge",
    "Finding": "lab.judge.findings",
    "FINDINGS": "lab.judge.findings",
    "NodeProcess": "lab.kernel.process",
    "Processes": "lab.kernel.process",
    "AssociationWatcher": "lab.evidence.associations",
    "Check": "lab.report.model",
    "Window": "lab.timing",
    "switch_stall_window": "lab.timing",
    "alternate_data_window": "lab.timing",
    "first_strike_window": "lab.timing",
    "unreachable_window": "lab.timing",
    "heartbeat_window": "lab.timing",
    "failback_window": "lab.timing",
    "abort_window": "lab.timing",
    "kernel_tick": "lab.kernel.choice",
    "LabError": "lab.errors",
    "ConfigError": "lab.errors",
    "CapabilityError": "lab.errors",
    "KernelError": "lab.errors",
    "GuestError": "lab.errors",
    "WaitTimeout": "lab.errors",
    "EndpointError": "lab.errors",
}
#: Modules reachable as attributes of ``lab``.
_MODULES = {"factories": "lab.plugin.factories"}

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(_MODULES[name])
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lab' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from lab.errors import CapabilityError, ConfigError, EndpointError, GuestError, KernelError, LabError, WaitTimeout
    from lab.events import Event, EventKind, EventLog
    from lab.evidence.associations import AssociationWatcher
    from lab.evidence.capture import Captures, capture
    from lab.evidence.paths import PathPoller
    from lab.evidence.run import Evidence
    from lab.evidence.wire import Wire
    from lab.faults import Blackhole, ChunkDrop, Flap, Impair, LinkDown, LinkFaults, RouteWithdrawal, Schedule, inject
    from lab.judge import (ExpectationError, arrived_from, association_lost, data_moved, delivery,
                           every_peer_address_heartbeated, expect, init_advertised, kernel_reported, no_abort,
                           no_application_error, no_data, path_state_seen, stall_within, wire_stall_within)
    from lab.judge import find_findings
    from lab.judge.findings import FINDINGS, Finding
    from lab.kernel.choice import kernel_tick
    from lab.kernel.network import Network, build
    from lab.kernel.process import NodeProcess, Processes
    from lab.model.netem import Direction, NetemParams
    from lab.model.profile import PROFILES, TimerProfile, get_profile
    from lab.model.scenario import LoadedScenario, load_scenario
    from lab.model.topology import Topology, load_topology
    from lab.report.model import Check
    from lab.sctp.pair import EndpointPair, endpoint_pair
    from lab.sctp.traffic import DeliveryReport
    from lab.timing import (Window, abort_window, alternate_data_window, failback_window, first_strike_window, heartbeat_window,
                            switch_stall_window, unreachable_window)
    from lab.plugin import factories
