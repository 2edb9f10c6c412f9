"""A scenario replayed for a person: header, live view, verdict table, report files."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console

if TYPE_CHECKING:
    from lab.kernel.network import Network
    from lab.model.scenario import LoadedScenario

__all__ = ["replay"]


def replay(loaded: LoadedScenario, *, console: Console, folder: Path, live: bool, step: bool = False,
           net: Network | None = None, input_stream: TextIO | None = None,
           cancel: threading.Event | None = None) -> bool:
    """Run the scenario with a live view on ``console``; write report.json and timeline.png; True if it passed."""
    from lab.scenario.judge import judge
    from lab.scenario.reporting import build_report, write_report
    from lab.scenario.runner import run_scenario
    from lab.ui.live import LiveView
    from lab.ui.verdict import show_verdict

    scenario = loaded.scenario
    console.print(f"[bold]{scenario.name}[/]: {scenario.description}")
    console.print(f"topology {loaded.topology.name} ({loaded.topology_file}), profile {scenario.profile.describe()}",
                  markup=False)
    view = LiveView(loaded, console=console, live=live, step_mode=step, input_stream=input_stream)
    try:
        run = run_scenario(loaded, folder=folder, observer=view, net=net, cancel=cancel)
    finally:
        view.close()
    report = build_report(run, judge(run))
    path = write_report(report, folder)
    show_verdict(console, report, path)
    return report.verdict == "pass"
