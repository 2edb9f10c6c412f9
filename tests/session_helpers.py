"""Driving ``sctplab`` as a user would, for the session tests (kernel and host tiers)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab.kernel.choice import kernel_tick
from lab.model.profile import get_profile
from lab.session.status import RATE_WINDOW, LabStatus
from lab.timing import Window, failback_window, heartbeat_window, unreachable_window
from lab.wait import wait_until

PROJECT = Path(__file__).resolve().parent.parent
FAST = get_profile("fast")
#: Until an idle path is heartbeated (and so confirmed); from a blackhole until the kernel declares
#: the path unreachable; from the restore until data is back.
HEARTBEAT = heartbeat_window(FAST, tick=kernel_tick())
UNREACHABLE = unreachable_window(FAST, tick=kernel_tick())
FAILBACK = failback_window(FAST, tick=kernel_tick())
_POLL = 0.2
#: The commands :meth:`Sctplab.run` runs in the test's own process: they only talk to a running lab.
IN_PROCESS = ("status", "fail", "impair", "restore", "run", "ps", "logs", "stop")


class Sctplab:
    """Runs ``python -m lab`` with its own state directory; every call must finish in ``timeout`` s."""

    def __init__(self, state: Path, *extra: str) -> None:
        self.env = {**os.environ, "SCTPLAB_STATE_DIR": str(state), "NO_COLOR": "1", "COLUMNS": "120"}
        self.extra = list(extra)
        self.slowest_query = 0.0

    def run(self, *args: str, check: int | None = 0, timeout: float = 240, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        """``sctplab ARGS``: the commands that only talk to a running lab run in this process (a Python start
        costs seconds in the guest kernel), the others (up, down, shell, clean, replay) as a process of their own."""
        if args and args[0] in IN_PROCESS and stdin is None:
            done = self._in_process(list(args))
        else:
            done = subprocess.run([sys.executable, "-m", "lab", *self.extra, *args], env=self.env, cwd=PROJECT,
                                  capture_output=True, text=True, timeout=timeout,
                                  input=stdin if stdin is not None else "")
        if check is not None:
            assert done.returncode == check, (f"sctplab {' '.join(args)} exited {done.returncode}, expected {check}\n"
                                              f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
        return done

    def _in_process(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        from lab.cli import main

        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)  # logs writes bytes to .buffer
        err = io.StringIO()
        saved = {key: os.environ.get(key) for key in self.env}
        os.environ.update(self.env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main([*self.extra, *args])
                except SystemExit as leaving:  # argparse refusing the arguments
                    code = leaving.code if isinstance(leaving.code, int) else 2
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        out.flush()
        raw = out.buffer.getvalue()  # type: ignore[attr-defined]
        return subprocess.CompletedProcess(["sctplab", *args], code, raw.decode(errors="replace"), err.getvalue())

    def status(self) -> dict[str, Any]:
        """``sctplab status --json``, checked to be a whole :class:`LabStatus` (it reads back to the same JSON)."""
        start = time.monotonic()
        status: dict[str, Any] = json.loads(self.run("status", "--json").stdout)
        self.slowest_query = max(self.slowest_query, time.monotonic() - start)
        assert LabStatus.from_json(status).to_json() == status
        return status

    def within(self, seconds: float) -> float:
        """``seconds`` plus what watching costs: the query that just missed the change, the one that sees it, a pause."""
        if not self.slowest_query:
            self.status()  # measures a query
        return seconds + 2 * self.slowest_query + _POLL

    def path_state(self, node: str, address: str) -> str | None:
        for assoc in self.status()["associations"][node]:
            for path in assoc["paths"]:
                if path["address"] == address:
                    return str(path["state"])
        return None

    def wait_path_state(self, node: str, address: str, state: str, window: Window) -> None:
        wait_until(lambda: self.path_state(node, address) == state, timeout=self.within(window.high), interval=_POLL,
                   what=f"{node}'s path to {address} to be {state} (sctplab status)")

    def wait_arriving_from(self, address: str, window: Window) -> None:
        wait_until(lambda: address in self.status()["traffic"]["per_peer"], timeout=self.within(window.high),
                   interval=_POLL, what=f"the lab's messages to arrive from {address} (sctplab status)")

    def wait_not_arriving_from(self, address: str) -> None:
        """Until no message from ``address`` is left in the status's rate window."""
        wait_until(lambda: address not in self.status()["traffic"]["per_peer"], timeout=self.within(RATE_WINDOW),
                   interval=_POLL, what=f"no message from {address} in the last {RATE_WINDOW:g} s (sctplab status)")

    def wait_all_delivered(self, window: Window) -> None:
        """Until every message sent so far has been delivered (distinct), no later than ``window`` allows."""
        sent = self.status()["traffic"]["sent"]
        wait_until(lambda: self.status()["traffic"]["delivered"] >= sent, timeout=self.within(window.high),
                   interval=_POLL, what=f"the {sent} messages sent so far to be delivered (sctplab status)")
