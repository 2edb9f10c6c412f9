"""sctplab: a network test lab that proves SCTP multihoming failover works.

The public API, importable from ``lab`` (loaded lazily, so ``import lab`` is
cheap):

- topology files: :func:`load_topology`, :class:`Topology`
- timer profiles: :func:`get_profile`, :class:`TimerProfile`, ``PROFILES``
- building: :func:`build` -> :class:`Network` (namespaces, veth links)
- endpoints: :func:`endpoint_pair` -> :class:`EndpointPair`
- faults: :func:`inject` with :class:`Blackhole`, :class:`Impair` (netem), :class:`LinkDown`,
  :class:`RouteWithdrawal`, :class:`Flap`
- timeline and verdict: :class:`EventLog`, :class:`DeliveryReport`,
  :func:`failover_problems`, :class:`FailoverEvidence`
- prediction: :func:`switch_stall_window`, :func:`unreachable_window`,
  :func:`failback_window`, :func:`abort_window`, :class:`Window`
- kernels: :func:`choose_kernel`, :func:`run_in_guest`
- errors: :class:`LabError` and its subclasses
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
    "build": "lab.kernel.network",
    "Network": "lab.kernel.network",
    "endpoint_pair": "lab.sctp.pair",
    "EndpointPair": "lab.sctp.pair",
    "inject": "lab.faults",
    "Blackhole": "lab.faults",
    "Impair": "lab.faults",
    "LinkDown": "lab.faults",
    "RouteWithdrawal": "lab.faults",
    "Flap": "lab.faults",
    "NetemParams": "lab.model.netem",
    "EventLog": "lab.events",
    "DeliveryReport": "lab.sctp.traffic",
    "FailoverEvidence": "lab.verdict",
    "failover_problems": "lab.verdict",
    "Window": "lab.timing",
    "switch_stall_window": "lab.timing",
    "unreachable_window": "lab.timing",
    "failback_window": "lab.timing",
    "abort_window": "lab.timing",
    "choose_kernel": "lab.kernel.choice",
    "run_in_guest": "lab.guest.uml",
    "LabError": "lab.errors",
    "ConfigError": "lab.errors",
    "CapabilityError": "lab.errors",
    "KernelError": "lab.errors",
    "GuestError": "lab.errors",
    "WaitTimeout": "lab.errors",
    "EndpointError": "lab.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lab' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from lab.errors import (CapabilityError, ConfigError, EndpointError, GuestError, KernelError, LabError,
                            WaitTimeout)
    from lab.events import EventLog
    from lab.guest.uml import run_in_guest
    from lab.kernel.choice import choose_kernel
    from lab.faults import Blackhole, Flap, Impair, LinkDown, RouteWithdrawal, inject
    from lab.model.netem import NetemParams
    from lab.kernel.network import Network, build
    from lab.model.topology import Topology, load_topology
    from lab.sctp.pair import EndpointPair, endpoint_pair
    from lab.model.profile import PROFILES, TimerProfile, get_profile
    from lab.sctp.traffic import DeliveryReport
    from lab.timing import Window, abort_window, failback_window, switch_stall_window, unreachable_window
    from lab.verdict import FailoverEvidence, failover_problems
