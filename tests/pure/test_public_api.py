"""The public API: ``lab.__all__`` is pinned, every name resolves, is documented, and is what the tests use."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import lab

ROOT = Path(__file__).resolve().parents[2]

PUBLIC = [
    "Blackhole", "CapabilityError", "Captures", "Check", "ChunkDrop", "ConfigError", "DeliveryReport", "Direction",
    "EndpointError", "EndpointPair", "Event", "EventKind", "EventLog", "Evidence", "ExpectationError", "Flap",
    "GuestError", "Impair", "KernelError", "LabError", "LinkDown", "LinkFaults", "LoadedScenario", "NetemParams",
    "Network", "PROFILES", "PathPoller", "RouteWithdrawal", "Schedule", "TimerProfile", "Topology", "WaitTimeout",
    "Window", "Wire", "abort_window", "alternate_data_window", "arrived_from", "association_lost", "build",
    "capture", "data_moved", "delivery", "endpoint_pair", "every_peer_address_heartbeated", "expect", "factories",
    "failback_window", "first_strike_window", "get_profile", "heartbeat_window", "init_advertised", "inject",
    "kernel_reported", "kernel_tick", "load_scenario", "load_topology", "no_abort", "no_application_error",
    "no_data", "path_state_seen", "stall_within", "switch_stall_window", "unreachable_window",
    "AssociationWatcher", "NodeProcess", "Processes", "wire_stall_within", "FINDINGS", "Finding", "find_findings",
]


def test_the_public_names_are_pinned() -> None:
    assert lab.__all__ == sorted(PUBLIC)


def test_every_public_name_resolves_and_is_documented() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    for name in lab.__all__:
        assert getattr(lab, name) is not None
        assert re.search(rf"`{name}\b", api), f"docs/api.md does not describe {name}"


def test_import_lab_is_cheap() -> None:
    code = "import sys, lab; print(sorted(m for m in ('pyroute2', 'scapy', 'pytest', 'pydantic') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_kernel_tests_use_only_the_public_api() -> None:
    """What a user's test can import, ours import too: ``from lab import ...`` (and the fixtures)."""
    private = []
    for path in sorted((ROOT / "tests" / "kernel").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lab."):
                private.append(f"{path.name}: from {node.module} import ...")
    allowed = {"test_network.py", "test_fault_restore.py", "test_sockopt.py", "test_capture.py", "test_session.py",
               "test_scenario_verdicts.py", "test_applications.py"}  # these test internals (netns helpers, snapshots, raw options, records)
    assert [p for p in private if p.split(":")[0] not in allowed] == []
