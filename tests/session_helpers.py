"""Driving ``sctplab`` as a user would, for the session tests (kernel and host tiers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lab.kernel.choice import kernel_tick
from lab.sctp.profile import get_profile
from lab.timing import failback_window, unreachable_window
from lab.wait import wait_until

PROJECT = Path(__file__).resolve().parent.parent
FAST = get_profile("fast")
#: The kernel's longest time to declare a blackholed path unreachable, and to take it back.
UNREACHABLE = unreachable_window(FAST, tick=kernel_tick()).high + 1.0
FAILBACK = failback_window(FAST, tick=kernel_tick()).high + 1.0


class Sctplab:
    """Runs ``python -m lab`` with its own state directory; every call must finish in ``timeout`` s."""

    def __init__(self, state: Path, *extra: str) -> None:
        self.env = {**os.environ, "SCTPLAB_STATE_DIR": str(state), "NO_COLOR": "1", "COLUMNS": "120"}
        self.extra = list(extra)

    def run(self, *args: str, check: int | None = 0, timeout: float = 240, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "lab", *self.extra, *args], env=self.env, cwd=PROJECT,
                              capture_output=True, text=True, timeout=timeout,
                              input=stdin if stdin is not None else "")
        if check is not None:
            assert done.returncode == check, (f"sctplab {' '.join(args)} exited {done.returncode}, expected {check}\n"
                                              f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
        return done

    def status(self) -> dict[str, Any]:
        return json.loads(self.run("status", "--json").stdout)

    def path_state(self, node: str, address: str) -> str | None:
        for assoc in self.status()["associations"][node]:
            for path in assoc["paths"]:
                if path["address"] == address:
                    return str(path["state"])
        return None

    def wait_path_state(self, node: str, address: str, state: str, timeout: float) -> None:
        wait_until(lambda: self.path_state(node, address) == state, timeout=timeout, interval=0.2,
                   what=f"{node}'s path to {address} to be {state} (sctplab status)")

    def wait_arriving_from(self, address: str, timeout: float) -> None:
        wait_until(lambda: address in self.status()["traffic"]["per_peer"], timeout=timeout, interval=0.2,
                   what=f"the lab's messages to arrive from {address} (sctplab status)")
