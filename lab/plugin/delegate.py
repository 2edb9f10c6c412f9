"""Kernel tests run in ONE guest pytest session; every other test runs here, on the host.

When the kernel choice (:func:`~lab.kernel.choice.choose_kernel`, option
``--lab-kernel``) says "guest", the plugin's ``pytest_runtestloop`` wrapper
asks :func:`plan` to set aside the selected items that carry the ``kernel``
marker (scenario files have it too), lets pytest run the others here as
usual, and then calls :func:`run_guest_part`: one pytest in a User-Mode
Linux guest (:func:`~lab.guest.run_in_guest`) runs the kernel items. No
kernel item selected, no guest.

The handoff is a fresh directory under ``/var/tmp`` (the guest's root file
system is the host's):

- ``items``: the kernel items' node ids, one a line (absolute paths, so the
  guest's working directory does not matter). The guest pytest gets the
  user's own arguments plus ``--lab-guest-part=DIR`` and collects these node
  ids instead of its positional arguments; ``-k``, ``-m``, ``--lab-*`` and
  the like apply there too, ``--maxfail`` counts the host's failures.
- ``events.jsonl``: written by the guest session (:class:`GuestReports`),
  one JSON line per report, serialized with pytest's own report hooks.
  :class:`Replay` feeds them into this session's hooks as they arrive, so
  the terminal, the ``-ra`` summary, the one JUnit XML file, the ``--lf``
  cache and the exit status cover both parts as if all had run here.
- ``pytest.log``: the guest session's own terminal output (its progress is
  shown here instead); its tail is shown when the guest part breaks down.

When the guest part ends without reporting tests (it could not boot, timed
out, or its pytest stopped with a usage or internal error), each test it did
not report becomes an error here, and the summary says the guest part FAILED.
Ctrl-C reaches the guest session as SIGINT; this session then reports what
ran and ends as interrupted.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pytest

from lab.errors import LabError
from lab.guest import run_in_guest
from lab.kernel.caps import in_guest
from lab.kernel.choice import Choice, choose_kernel
from lab.plugin.options import option

__all__ = ["SKIP_GUEST_FOR", "Split", "plan", "run_guest_part", "summary", "node_arg", "guest_argv", "Replay",
           "guest_part_dir", "prepare_guest_part", "start_guest_part", "GuestReports"]

#: Options under which no guest boots: nothing runs (help, collection only, listings).
SKIP_GUEST_FOR = ("help", "version", "collectonly", "markers", "showfixtures", "fixtures_per_test")

ITEMS, EVENTS, LOG = "items", "events.jsonl", "pytest.log"
_POLL = 0.1  # seconds between looks at the guest's events
_LOG_TAIL = 40  # lines of the guest's own output shown when its part breaks down
_EXIT_NAMES = {int(code): code.name for code in pytest.ExitCode}


@dataclass
class Split:
    """Which items run where, and how the guest part went."""

    choice: Choice
    host_items: list[pytest.Item]
    guest_items: list[pytest.Item]
    all_items: list[pytest.Item]
    counts: Counter[str] = field(default_factory=Counter)  # guest outcomes: passed, failed, error, skipped ...
    reported: set[str] = field(default_factory=set)  # guest node ids that finished (logfinish)
    status: int | None = None  # the guest pytest's exit status (None: interrupted or no guest run)
    problem: str | None = None  # why the guest part broke down
    seconds: float = 0.0

    @property
    def where(self) -> str:
        guest = self.choice.guest
        return f"the User-Mode Linux {guest.release} guest" if guest is not None else "the guest kernel"


_SPLIT = pytest.StashKey[Split]()


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _terminal(config: pytest.Config) -> pytest.TerminalReporter | None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter if isinstance(reporter, pytest.TerminalReporter) else None


def _say(config: pytest.Config, text: str, **markup: bool) -> None:
    tr = _terminal(config)
    if tr is None:
        print(text, flush=True)
    else:
        tr.write_line(text, **markup)


def _end_line(config: pytest.Config) -> None:
    """Finish the current progress line as pytest does before a new file, so our lines start clean."""
    tr = _terminal(config)
    if tr is None:
        return
    if getattr(getattr(tr, "_tw", None), "width_of_current_line", 1):
        fill = getattr(tr, "_write_progress_information_filling_space", None)
        if config.get_verbosity() <= 0 and getattr(tr, "_show_progress_info", False) and fill is not None:
            fill()  # the "[ 80%]" pytest writes when the next file starts (verbose lines have theirs)
        tr.write("\n")
    tr.currentfspath = None


# --- host side -------------------------------------------------------------------------------


def plan(session: pytest.Session) -> Split | None:
    """The split of the selected items, or None when everything runs here (no guest boots)."""
    config = session.config
    if in_guest() or guest_part_dir(config) is not None:
        return None
    if any(getattr(config.option, name, False) for name in SKIP_GUEST_FOR):
        return None
    if session.testsfailed and not config.option.continue_on_collection_errors:
        return None  # collection errors: pytest stops before any test
    guest_items = [item for item in session.items if item.get_closest_marker("kernel") is not None]
    if not guest_items:
        return None
    try:
        choice = choose_kernel(option(config, "kernel"))  # type: ignore[arg-type]
    except LabError as err:
        _say(config, f"sctplab: {err}")
        return None  # kernel tests skip here with the reason (or fail with --lab-require-kernel)
    if choice.where == "here":
        return None
    host_items = [item for item in session.items if item.get_closest_marker("kernel") is None]
    split = Split(choice, host_items, guest_items, list(session.items))
    config.stash[_SPLIT] = split
    _say(config, choice.banner)
    _say(config, f"sctplab: {_count(len(host_items), 'test')} run here on the host kernel; then "
                 f"{_count(len(guest_items), 'kernel test')} in one pytest session in {split.where}")
    return split


def node_arg(config: pytest.Config, nodeid: str) -> str:
    """A node id as an argument that works from any directory (its path made absolute)."""
    path, sep, rest = nodeid.partition("::")
    return str(config.rootpath / path) + sep + rest


def guest_argv(session: pytest.Session, folder: Path) -> list[str]:
    """The guest's pytest command: the user's arguments, the handoff directory, the failures left."""
    config = session.config
    argv = [sys.executable, "-m", "pytest", *config.invocation_params.args, f"--lab-guest-part={folder}"]
    maxfail = int(config.option.maxfail or 0)
    if maxfail > 0:
        argv.append(f"--maxfail={max(1, maxfail - session.testsfailed)}")
    if config.option.basetemp:  # the guest session empties its basetemp: not the host's
        argv.append(f"--basetemp={config.option.basetemp}-guest")
    return argv


def run_guest_part(session: pytest.Session, split: Split) -> None:
    """Run the kernel items in one guest pytest session, its reports replayed here as they come."""
    config = session.config
    _end_line(config)
    tr = _terminal(config)
    title = f"sctplab: {_count(len(split.guest_items), 'kernel test')} in {split.where}"
    if tr is not None:
        tr.write_sep("-", title, cyan=True)
    else:
        print(title, flush=True)
    folder = Path(tempfile.mkdtemp(prefix="sctplab-part-", dir="/var/tmp"))
    replay = Replay(config, folder / EVENTS, split)
    started = time.monotonic()
    try:
        (folder / ITEMS).write_text("".join(node_arg(config, item.nodeid) + "\n" for item in split.guest_items))
        replay.start()
        timeout = float(option(config, "guest_timeout")) or None
        try:
            split.status = run_in_guest(guest_argv(session, folder), cwd=config.invocation_params.dir,
                                        timeout=timeout, kernel=split.choice.guest)
        except LabError as err:
            split.problem = f"the guest failed: {err}"
        finally:  # on Ctrl-C too: the reports that arrived count, then the interrupt goes on
            split.seconds = time.monotonic() - started
            replay.finish()
        split.problem = split.problem or _unexplained(split)
        if split.problem is not None:
            _show_log_tail(config, folder / LOG)
            if not _report_missing(config, split):
                raise session.Failed(f"sctplab: guest part FAILED: {split.problem}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if session.shouldfail:
        raise session.Failed(session.shouldfail)
    if session.shouldstop:
        raise session.Interrupted(session.shouldstop)


def _unexplained(split: Split) -> str | None:
    """Why the guest's exit status does not match its reports, or None when it does."""
    status = split.status
    assert status is not None
    name = f"exit status {status} ({_EXIT_NAMES.get(status, 'unknown')})"
    missing = len(split.guest_items) - len(split.reported)
    if status == pytest.ExitCode.OK:
        return None if missing <= 0 else f"its pytest ended ({name}) without reporting {_count(missing, 'test')}"
    if status in (pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED):
        return None if split.counts["failed"] + split.counts["error"] else f"its pytest ended with {name}"
    return f"its pytest ended with {name}"


def _show_log_tail(config: pytest.Config, log: Path) -> None:
    try:
        lines = log.read_text(errors="replace").splitlines()[-_LOG_TAIL:]
    except OSError:
        return
    if lines:
        _end_line(config)
        _say(config, "sctplab: the guest session's own output ends with:", red=True)
        for line in lines:
            _say(config, "    " + line)


def _report_missing(config: pytest.Config, split: Split) -> int:
    """Report each guest item that did not finish as an error naming the problem; how many there were."""
    hook = config.hook
    missing = [item for item in split.guest_items if item.nodeid not in split.reported]
    for item in missing:
        hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        report = pytest.TestReport(item.nodeid, item.location, {name: 1 for name in item.keywords}, "failed",
                                   f"sctplab: did not finish in {split.where}: {split.problem}", "setup")
        split.counts["error"] += 1
        hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return len(missing)


def summary(config: pytest.Config, tr: pytest.TerminalReporter) -> None:
    """Where the tests ran, and whether the guest part failed (in the terminal summary)."""
    split = config.stash.get(_SPLIT, None)
    if split is None:
        return
    counts = ", ".join(_count(n, category) if category == "error" else f"{n} {category}"
                       for category, n in sorted(split.counts.items()) if n) or "no results"
    if split.problem is not None or split.counts["failed"] or split.counts["error"]:
        verdict, markup = "FAILED", {"red": True, "bold": True}
    elif split.status is None:
        verdict, markup = "INTERRUPTED", {"yellow": True, "bold": True}
    else:
        verdict, markup = "passed", {"green": True}
    if split.status is not None:
        status = f"exit status {split.status}"
    else:
        status = "no exit status" if split.problem is not None else "interrupted"
    tr.write_sep("-", f"sctplab: guest part {verdict}", **markup)
    tr.write_line(f"{_count(len(split.host_items), 'test')} ran here on the host kernel {os.uname().release}")
    tr.write_line(f"{_count(len(split.guest_items), 'kernel test')} went to {split.where}: {counts} "
                  f"in {split.seconds:.1f} s (guest pytest {status})")
    if split.problem is not None:
        tr.write_line(f"the guest part broke down: {split.problem}", red=True)


class Replay(threading.Thread):
    """Feeds the guest's reports (``events.jsonl``) into this session's hooks as they arrive."""

    def __init__(self, config: pytest.Config, path: Path, split: Split) -> None:
        super().__init__(name="sctplab-guest-reports", daemon=True)
        self.config, self.path, self.split = config, path, split
        self.stopping = threading.Event()
        self.offset = 0
        self.partial = b""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                stopped = self.stopping.wait(_POLL)
                self.drain()
                if stopped:
                    return
        except BaseException as err:  # handed to finish(), in the session's thread
            self.error = err

    def finish(self) -> None:
        """Stop after replaying everything the guest wrote; raise what went wrong in the replay."""
        self.stopping.set()
        if self.is_alive():
            self.join()
        else:
            self.drain()
        if self.error is not None:
            raise self.error

    def drain(self) -> None:
        try:
            with open(self.path, "rb") as events:
                events.seek(self.offset)
                chunk = events.read()
        except FileNotFoundError:
            return
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            if line.strip():
                self.replay(json.loads(line))

    def replay(self, event: dict[str, Any]) -> None:
        config, hook, kind = self.config, self.config.hook, event["event"]
        if kind == "logstart":
            hook.pytest_runtest_logstart(nodeid=event["nodeid"], location=tuple(event["location"]))
        elif kind == "logfinish":
            self.split.reported.add(event["nodeid"])
            hook.pytest_runtest_logfinish(nodeid=event["nodeid"], location=tuple(event["location"]))
        elif kind == "report":
            report = hook.pytest_report_from_serializable(config=config, data=event["report"])
            if isinstance(report, pytest.CollectReport):
                self.split.counts["error"] += 1
                hook.pytest_collectreport(report=report)
                return
            category = hook.pytest_report_teststatus(report=report, config=config)[0]
            if category:
                self.split.counts[category] += 1
            hook.pytest_runtest_logreport(report=report)
        elif kind == "warning":
            location = tuple(event["location"]) if event["location"] else None
            hook.pytest_warning_recorded.call_historic(kwargs=dict(
                warning_message=_warning(event), when=event["when"], nodeid=event["nodeid"], location=location))


def _warning(event: dict[str, Any]) -> warnings.WarningMessage:
    name = event["category"]
    category = getattr(builtins, name, None) or getattr(pytest, name, None)
    if not (isinstance(category, type) and issubclass(category, Warning)):
        category = type(name, (UserWarning,), {})
    return warnings.WarningMessage(event["message"], category, event["filename"], event["lineno"])


# --- guest side ------------------------------------------------------------------------------


def guest_part_dir(config: pytest.Config) -> Path | None:
    """The handoff directory when this session is a guest part (``--lab-guest-part``)."""
    value = config.getoption("--lab-guest-part", None)
    return Path(value) if value else None


def prepare_guest_part(config: pytest.Config) -> None:
    """In a guest part, before configuration: collect the host's node ids; the host writes the JUnit XML."""
    folder = guest_part_dir(config)
    if folder is None:
        return
    config.args = (folder / ITEMS).read_text().splitlines()
    config.option.xmlpath = None


def start_guest_part(config: pytest.Config) -> None:
    """In a guest part, after configuration: terminal output to ``pytest.log``, reports to ``events.jsonl``."""
    folder = guest_part_dir(config)
    if folder is None:
        return
    log = open(folder / LOG, "w", encoding="utf-8")
    reporter = _terminal(config)
    if reporter is not None:
        config.pluginmanager.unregister(reporter)
        config.pluginmanager.register(pytest.TerminalReporter(config, log), "terminalreporter")
    config.pluginmanager.register(GuestReports(config, folder / EVENTS, log), "sctplab-guest-reports")


class GuestReports:
    """The guest part's plugin: every report, failed collection and warning, one JSON line each."""

    def __init__(self, config: pytest.Config, path: Path, log: TextIO) -> None:
        self.config = config
        self.out = open(path, "w", encoding="utf-8")
        self.log = log

    def _write(self, event: dict[str, Any]) -> None:
        self.out.write(json.dumps(event, default=str) + "\n")
        self.out.flush()
        os.fsync(self.out.fileno())  # the host reads it through hostfs as it comes

    def _report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        self._write({"event": "report", "report": data})

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._write({"event": "logstart", "nodeid": nodeid, "location": location})

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._report(report)

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self._write({"event": "logfinish", "nodeid": nodeid, "location": location})

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # the host collected these files already: only errors are news
            self._report(report)

    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage, when: str, nodeid: str,
                                location: tuple[str, int, str] | None) -> None:
        self._write({"event": "warning", "message": str(warning_message.message),
                     "category": warning_message.category.__name__, "filename": warning_message.filename,
                     "lineno": warning_message.lineno, "when": when, "nodeid": nodeid, "location": location})

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self) -> None:
        self.out.close()
        self.log.close()
