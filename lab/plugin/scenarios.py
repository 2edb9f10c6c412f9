"""Scenario files as pytest items: every ``scenarios/*.yaml`` is a regression test.

A YAML file in a directory named ``scenarios`` is collected as one item
named after the scenario (node id ``scenarios/<file>.yaml::<name>``), so
``-k`` selects by name and adding a file adds a test. Each tag becomes a
marker (``-m blackhole``). The item needs a capable kernel like every kernel
test (``kernel`` marker: the session runs in the guest when the host lacks
SCTP). It writes ``report.json`` and ``timeline.png`` to
``<artifacts>/scenarios/<name>/`` always, and keeps the captures and
timelines there when it fails (or with ``--lab-keep-artifacts``).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from lab.errors import ConfigError
from lab.model.scenario import LoadedScenario, load_scenario
from lab.plugin.options import artifacts_root, topology_dirs
from lab.report.model import REPORT_NAME, Report

__all__ = ["ScenarioFile", "ScenarioItem", "ScenarioFailed", "is_scenario_file"]

#: What stays in a passing scenario's folder.
_KEPT_ON_PASS = (REPORT_NAME, "timeline.png")


def is_scenario_file(path: Path) -> bool:
    return path.suffix in (".yaml", ".yml") and path.parent.name == "scenarios"


class ScenarioFailed(Exception):
    """A scenario ran and broke expectations; carries its report and folder."""

    def __init__(self, report: Report, folder: Path) -> None:
        super().__init__(f"scenario {report.scenario} failed")
        self.report, self.folder = report, folder


class ScenarioFile(pytest.File):
    """A scenario YAML file: validated at collection (a bad file is a collection error naming file and line)."""

    def collect(self) -> list[pytest.Item]:
        config = self.config
        dirs = [*topology_dirs(config), self.path.parent.parent / "topologies"]
        try:
            loaded = load_scenario(self.path, topology_dirs=dirs)
        except ConfigError as err:
            raise self.CollectError(str(err)) from None
        item = ScenarioItem.from_parent(self, name=loaded.scenario.name, loaded=loaded)
        item.add_marker(pytest.mark.kernel)
        for tag in loaded.scenario.tags:
            config.addinivalue_line("markers", f"{tag}: scenarios tagged {tag}")
            item.add_marker(tag)
        return [item]


class ScenarioItem(pytest.Item):
    """One scenario run: build, traffic, timeline, judgement, report."""

    def __init__(self, *, loaded: LoadedScenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded

    def _folder(self) -> Path:
        return artifacts_root(self.config) / "scenarios" / self.loaded.scenario.name

    def runtest(self) -> None:
        from lab.scenario.judge import judge
        from lab.scenario.reporting import build_report, write_report
        from lab.scenario.runner import run_scenario

        folder = self._folder()
        shutil.rmtree(folder, ignore_errors=True)
        run = run_scenario(self.loaded, folder=folder)
        judgement = judge(run)
        report = build_report(run, judgement)
        write_report(report, folder)
        self.user_properties.append(("report", str(folder / REPORT_NAME)))
        if report.longest_stall is not None:
            self.user_properties.append(("stall_s", round(report.longest_stall.seconds, 6)))
        if report.verdict != "pass":
            raise ScenarioFailed(report, folder)
        if not self.config.getoption("--lab-keep-artifacts"):
            for path in folder.iterdir():
                if path.name not in _KEPT_ON_PASS:
                    path.unlink()

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        failure = excinfo.value
        if not isinstance(failure, ScenarioFailed):
            return str(super().repr_failure(excinfo, style=style))
        report, folder = failure.report, failure.folder
        lines = [f"scenario {report.scenario} ({self.path}) failed:"]
        lines += [f"  {check.name}: {check.sentence()}"
                  for check in report.checks if not check.passed]
        lines.append(f"  {report.counts.sent} sent, {report.counts.delivered} delivered; kernel {report.kernel}")
        lines.append(f"  report: {folder / REPORT_NAME}, picture: {folder / 'timeline.png'}")
        lines.append(f"  captures and timelines: {folder}")
        return "\n".join(lines)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.loaded.scenario.name}"
