"""The user's applications in a scenario run: rendered, set up, started in order, stopped in reverse, checked.

:func:`started` applies the scenario's timer profile to each endpoint's
namespace (an application that sets no timers of its own inherits it),
renders each application's files and runs its setup commands, then starts
the server, waits until it is ready, starts the client and waits until it
is ready. On leaving (normally, on failure, on Ctrl-C) the applications are
stopped in reverse order: one that ``ends: itself`` gets until its grace
period after the run's end to exit; one that ``ends: stopped`` gets its stop
signal, then SIGKILL after its grace period. :func:`run_checks` runs the
check commands afterwards. Every outcome is an :class:`AppOutcome`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import KernelError, LabError, WaitTimeout
from lab.evidence.associations import AssociationWatcher
from lab.kernel import sysctl
from lab.kernel.network import Network
from lab.kernel.process import CommandResult, NodeProcess, describe_status, run_command, tail
from lab.model.application import READY_TIMEOUT, Application, Applications
from lab.model.placeholders import render, render_argv, values_for
from lab.model.scenario import LoadedScenario

__all__ = ["AppOutcome", "AppError", "started", "run_checks", "SETUP_TIMEOUT", "CHECK_TIMEOUT"]

#: Seconds a setup or check command may take.
SETUP_TIMEOUT = CHECK_TIMEOUT = 60.0


class AppError(LabError):
    """An application could not be set up or started, or died before it was ready."""


@dataclass
class AppOutcome:
    """One application in one run: its process, when it was ready, how it ended, its setup and checks."""

    side: str
    app: Application
    argv: list[str]
    log: Path
    process: NodeProcess | None = None
    ready_after: float | None = None  #: seconds from its start until it was ready
    setup: list[CommandResult] = field(default_factory=list)
    checks: list[CommandResult] = field(default_factory=list)
    died_early: str | None = None  #: set when it ended before the lab stopped it (``ends: stopped``)
    returncode: int | None = None

    @property
    def name(self) -> str:
        return f"{self.side} application ({os.path.basename(self.argv[0])})"

    def status(self) -> str:
        return self.process.status() if self.process is not None else "never started"

    def exit_ok(self) -> bool:
        """Its exit status is one the file expects (the stop signal itself counts when the lab stopped it)."""
        process, expected = self.process, self.app.exit
        if process is None or self.returncode is None or process.killed:
            return False
        if process.stopped_by_lab and self.returncode == -self.app.stop.signum:
            return True
        return expected == "any" or self.returncode in expected


def _ready(outcome: AppOutcome, port: int, values: dict[str, object], *, tick: float) -> None:
    """Wait for the application's readiness condition; :class:`AppError` with its log tail if it fails."""
    app, process = outcome.app, outcome.process
    assert process is not None
    ready = app.ready
    try:
        if ready is None:  # a server listens on the scenario's port; a client has an association
            outcome.ready_after = (process.wait_ready(listening=port, timeout=READY_TIMEOUT)
                                   if outcome.side == "server" else
                                   process.wait_ready(association=True, timeout=READY_TIMEOUT, tick=tick))
        elif ready.listening is not None:
            listening = ready.listening
            number = int(render(listening, values)) if isinstance(listening, str) else listening  # type: ignore[arg-type]
            outcome.ready_after = process.wait_ready(listening=number, timeout=ready.timeout)
        elif ready.log is not None:
            outcome.ready_after = process.wait_ready(log=ready.log, timeout=ready.timeout)
        else:
            outcome.ready_after = process.wait_ready(association=True, timeout=ready.timeout, tick=tick)
    except (KernelError, WaitTimeout) as err:
        raise AppError(str(err)) from None


def _stop(outcome: AppOutcome, *, end: float) -> None:
    """Stop the application (see the module's description); record how it ended."""
    process = outcome.process
    if process is None:
        return
    if process.returncode is not None and outcome.app.ends == "stopped":
        outcome.died_early = (f"{outcome.name} ended before the run's end ({process.status()}); its log "
                              f"({outcome.log}) ends with:\n{process.tail()}")
    elif outcome.app.ends == "itself" and end != float("inf"):
        try:
            process.wait_exit(max(0.0, end + outcome.app.stop.grace - time.monotonic()))
        except WaitTimeout:
            pass
    outcome.returncode = process.stop()


@contextmanager
def started(loaded: LoadedScenario, net: Network, *, folder: Path, watcher: AssociationWatcher,
            mark: str) -> Iterator[dict[str, AppOutcome]]:
    """Start the scenario's applications (server first), each ready before the next; stop them on leaving.

    Yields side -> :class:`AppOutcome`; the run's end (for ``ends: itself``) is
    when the body returns.
    """
    scenario = loaded.scenario
    apps: Applications | None = scenario.applications
    assert apps is not None
    for node in ("client", "server"):
        sysctl.apply(net.netns(node), scenario.profile.sysctls())
    outcomes: dict[str, AppOutcome] = {}
    ended = [float("inf")]  # when the body returned: the applications that end by themselves get their grace from it
    with ExitStack() as stack:
        for side in apps.sides():
            app = apps.of(side)
            assert app is not None
            values = values_for(loaded.topology, side, port=apps.port, run=folder,
                                duration=scenario.effective_duration)
            env = {key: render(text, values) for key, text in app.environment.items()}
            for item in app.files:
                (folder / item.to).write_text(render((loaded.file.parent / item.template).read_text(), values))
            outcome = AppOutcome(side, app, render_argv(app.command, values), folder / f"{side}.log")
            outcomes[side] = outcome
            for index, argv in enumerate(app.setup):
                result = run_command(f"{side} setup {index + 1}", render_argv(argv, values), node=side,
                                     namespace=net.netns(side), log=folder / f"{side}-setup-{index + 1}.log",
                                     timeout=SETUP_TIMEOUT, env=env, cwd=folder, mark=mark)
                outcome.setup.append(result)
                if not result.ok:
                    raise AppError(f"{side} setup command {' '.join(result.argv)} failed "
                                   f"({describe_status(result.returncode)}); its log ({result.log}) ends with:\n"
                                   f"{tail(result.log)}")
            outcome.process = NodeProcess(outcome.name, outcome.argv, node=side, namespace=net.netns(side),
                                          log=outcome.log, env=env, cwd=folder, mark=mark,
                                          stop_signal=app.stop.signum, grace=app.stop.grace)
            stack.callback(lambda o=outcome: _stop(o, end=ended[0]))  # type: ignore[misc]
            _ready(outcome, apps.port, dict(values), tick=watcher.tick)
        try:
            yield outcomes
        finally:
            ended[0] = time.monotonic()


def run_checks(loaded: LoadedScenario, net: Network, outcomes: dict[str, AppOutcome], *, folder: Path,
               mark: str) -> None:
    """Run every application's check commands in its node (after the applications stopped)."""
    apps = loaded.scenario.applications
    assert apps is not None
    for side, outcome in outcomes.items():
        values = values_for(loaded.topology, side, port=apps.port, run=folder,
                            duration=loaded.scenario.effective_duration)
        env = {key: render(text, values) for key, text in outcome.app.environment.items()}
        for index, argv in enumerate(outcome.app.checks):
            outcome.checks.append(run_command(
                f"{side} check {index + 1}", render_argv(argv, values), node=side, namespace=net.netns(side),
                log=folder / f"{side}-check-{index + 1}.log", timeout=CHECK_TIMEOUT, env=env, cwd=folder, mark=mark))
