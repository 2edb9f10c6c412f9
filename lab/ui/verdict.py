"""The closing lines of a replay: every check, the counts, the verdict and where the report is."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lab.report.model import Report

__all__ = ["show_verdict"]


def show_verdict(console: Console, report: Report, path: Path) -> None:
    """Print the checks as a table, then the verdict line and the files."""
    table = Table(title="checks", expand=True, show_lines=False)
    table.add_column("", width=4)
    table.add_column("check")
    table.add_column("expected")
    table.add_column("seen")
    for check in report.checks:
        mark = Text("ok", style="green") if check.passed else Text("FAIL", style="bold red")
        table.add_row(mark, check.name, check.expected, check.seen)
    console.print(table)
    c = report.counts
    stall = report.longest_stall
    stall_text = "no stall" if stall is None else f"longest stall {stall.seconds:.3f} s" + (
        f" (predicted {stall.predicted[0]:.2f}-{stall.predicted[1]:.2f} s)" if stall.predicted else "")
    verdict = Text("PASS", style="bold green") if report.verdict == "pass" else Text("FAIL", style="bold red")
    console.print(Text.assemble("VERDICT: ", verdict, f"  sent={c.sent} delivered={c.delivered} lost={c.lost} "
                                f"duplicated={c.duplicated} reordered={c.reordered} app errors={c.app_errors}, {stall_text}"))
    console.print(f"report: {path}", markup=False)
    console.print(f"picture: {path.parent / report.artifacts.get('timeline', 'timeline.png')}", markup=False)
    console.print(f"captures and timelines: {path.parent}", markup=False)
