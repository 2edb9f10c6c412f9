"""The ``sctplab`` commands for a lab that stays up: up, status, fail, impair, restore, shell, run, ps, logs, stop,
down, clean."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console

from lab.errors import ConfigError, LabError
from lab.model.topology import Topology, load_topology
from lab.session.control import ask, ask_ready, ask_status, bring_down, connect, start_lab
from lab.session.faultargs import fault_spec
from lab.session.processes import check_command, check_grace, check_name, parse_signal, unknown_process
from lab.session.records import LabRecord, find_lab
from lab.session.shell import run_shell, stream
from lab.session.status import LabStatus, ProcessStatus
from lab.ui.status import enter_hints, process_lines, render_status

__all__ = ["up", "down", "status", "fail", "restore", "shell", "run", "ps", "logs", "stop", "clean",
           "replay_and_keep", "WATCH_INTERVAL", "FOLLOW_INTERVAL"]

#: Seconds between two frames of ``status --watch``.
WATCH_INTERVAL = 0.5
#: Seconds between two looks at a log that ``logs --follow`` prints.
FOLLOW_INTERVAL = 0.2


def _print_up(console: Console, record: LabRecord, snapshot: LabStatus) -> None:
    console.print(render_status(snapshot, kernel=record.kernel))
    console.print(f"\n[bold]lab {record.tag} is up[/] ({record.topology}, kernel: {record.kernel}). Get into a node:")
    for line in enter_hints(snapshot, kernel=record.kernel):
        console.print(line, markup=False, highlight=False)
    console.print("Then: sctplab status [--watch] | fail LINK | impair LINK delay=80ms loss=5% | restore LINK"
                  " | run NODE -- CMD | down", markup=False, highlight=False)
    console.print(f"State and log: {record.folder}", markup=False, highlight=False)


def up(topology_file: Path, *, profile: str, rate: float, where: str) -> int:
    """Start a lab on ``topology_file`` and say how to use it."""
    record, snapshot = start_lab(topology_file, profile=profile, rate=rate, where=where)
    _print_up(Console(highlight=False), record, snapshot)
    return 0


def down(tag: str | None) -> int:
    record = find_lab(tag)
    message = bring_down(record)
    print(f"lab {record.tag} is down" + (f": {message}" if message else ""))
    return 0


def status(tag: str | None, *, watch: bool, as_json: bool) -> int:
    record = find_lab(tag)
    if as_json:
        print(json.dumps(ask_status(record).to_json(), indent=2))
        return 0
    console = Console(highlight=False)
    if not watch:
        console.print(render_status(ask_status(record), kernel=record.kernel))
        return 0
    from rich.live import Live

    with Live(console=console, auto_refresh=False, screen=False) as live:
        try:
            while True:
                live.update(render_status(ask_status(record), kernel=record.kernel), refresh=True)
                time.sleep(WATCH_INTERVAL)  # the frame rate of the view, not a wait for any state
        except KeyboardInterrupt:
            pass
    return 0


def _topology(record: LabRecord) -> Topology:
    return load_topology(Path(record.topology_file))


def _link(record: LabRecord, link: str, command: str) -> None:
    try:
        _topology(record).link(link)
    except ConfigError as err:
        raise ConfigError(f"sctplab {command}: {err.reason}") from None


def _fault(record: LabRecord, kind: str, link: str, words: Sequence[str], direction: str | None,
           command: str) -> dict[str, Any]:
    """The fault as a scenario file would write it, validated here before the lab sees it."""
    _link(record, link, command)
    return fault_spec(kind, link, words, direction=direction, command=command)


def fail(tag: str | None, link: str, *, kind: str, direction: str | None, words: Sequence[str]) -> int:
    record = find_lab(tag)
    spec = _fault(record, kind, link, words, direction, "fail")
    print(ask(record, {"op": "fail", "fault": spec})["message"])
    return 0


def impair(tag: str | None, link: str, *, direction: str | None, words: Sequence[str]) -> int:
    record = find_lab(tag)
    if not words:
        raise ConfigError("sctplab impair: no impairment given (e.g. delay=80ms loss=5% jitter=10ms rate=2mbit)")
    spec = _fault(record, "impair", link, words, direction, "impair")
    print(ask(record, {"op": "impair", "fault": spec})["message"])
    return 0


def restore(tag: str | None, link: str | None) -> int:
    record = find_lab(tag)
    if link is not None:
        _link(record, link, "restore")
    print(ask(record, {"op": "restore", "link": link}, timeout=120)["message"])
    return 0


def _node(record: LabRecord, node: str, command: str) -> None:
    nodes = list(_topology(record).nodes)
    if node not in nodes:
        raise ConfigError(f"sctplab {command}: no node {node!r} in topology {record.topology} (nodes: {', '.join(nodes)})")


def shell(tag: str | None, node: str, argv: Sequence[str]) -> int:
    record = find_lab(tag)
    _node(record, node, "shell")
    conversation = connect(record, timeout=None)
    try:
        return run_shell(conversation, node, argv)
    finally:
        conversation.close()


def run(tag: str | None, node: str, argv: Sequence[str], *, name: str | None) -> int:
    """Start ``argv`` in ``node`` as a process of the lab; say its name, pid, node and log."""
    argv = check_command(argv)
    if name is not None:
        check_name(name)
    record = find_lab(tag)
    _node(record, node, "run")
    process = ProcessStatus.from_json(ask(record, {"op": "run", "node": node, "argv": argv, "name": name,
                                                   "cwd": os.getcwd()})["process"])
    print(f"started {process.name} (pid {process.pid}) in node {process.node}"
          + ("" if process.running else f"; it has ended already: {process.status}"))
    print(f"  log: {process.log}")
    print(f"  sctplab logs {process.name} --follow | sctplab stop {process.name}")
    return 0


def _processes(record: LabRecord) -> list[ProcessStatus]:
    return [ProcessStatus.from_json(item) for item in ask(record, {"op": "ps"})["processes"]]


def ps(tag: str | None, *, as_json: bool) -> int:
    record = find_lab(tag)
    processes = _processes(record)
    if as_json:
        print(json.dumps([process.to_json() for process in processes], indent=2))
    elif processes:
        print("\n".join(process_lines(processes)))
    else:
        print(f"no processes in lab {record.tag}; start one with: sctplab run NODE -- CMD...")
    return 0


def _process(record: LabRecord, name: str) -> ProcessStatus:
    processes = _processes(record)
    for process in processes:
        if process.name == name:
            return process
    raise unknown_process(name, [p.name for p in processes], record.tag)


def _copy_new(log: Path, offset: int) -> int:
    """Print what ``log`` holds past ``offset``; the new offset."""
    try:
        if log.stat().st_size <= offset:
            return offset
        with open(log, "rb") as source:
            source.seek(offset)
            data = source.read()
    except FileNotFoundError:
        return offset
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return offset + len(data)


def logs(tag: str | None, name: str, *, follow: bool) -> int:
    """Print the process's log; with ``follow``, what it writes next too, until it ends (or Ctrl-C)."""
    record = find_lab(tag)
    process = _process(record, name)
    log = Path(process.log)
    offset = _copy_new(log, 0)
    try:
        while follow and process.running:
            time.sleep(FOLLOW_INTERVAL)  # the frame rate of the copy, not a wait for any state
            process = _process(record, name)  # before the copy: once it has ended, the copy gets the rest
            offset = _copy_new(log, offset)
    except KeyboardInterrupt:
        pass
    except LabError as err:  # the lab went down under us
        _copy_new(log, offset)
        print(f"sctplab logs: stopped following {name}: {err}", file=sys.stderr)
        return 1
    return 0


def stop(tag: str | None, name: str, *, signame: str, grace: float) -> int:
    """Stop the process (``signame``, SIGKILL after ``grace`` s) and say how it ended."""
    signame, grace = parse_signal(signame), check_grace(grace)
    record = find_lab(tag)
    process = ProcessStatus.from_json(ask(record, {"op": "stop", "name": name, "signal": signame, "grace": grace},
                                          timeout=grace + 30)["process"])
    print(f"{process.name} (pid {process.pid} in node {process.node}): {process.status}")
    return 0


def clean(*, dry_run: bool) -> int:
    from lab.session.clean import clean as remove_leftovers

    done = remove_leftovers(dry_run=dry_run)
    for line in done:
        print(line)
    if not done:
        print("nothing of the lab's to clean")
    return 0


def replay_and_keep(scenario: Path, topology_file: Path, *, folder: Path, step: bool, where: str) -> int:
    """``replay --keep``: a lab that replays the scenario on its network, then stays up."""
    console = Console(highlight=False)
    live = os.environ.get("SCTPLAB_LIVE", "1" if sys.stdout.isatty() and not os.environ.get("CI") else "0") == "1"
    record, _ = start_lab(topology_file, profile="fast", rate=10.0, where=where, scenario=scenario, out=folder)
    size = os.get_terminal_size() if sys.stdout.isatty() else os.terminal_size((100, 40))
    conversation = connect(record, timeout=None)
    try:
        code = stream(conversation, {"op": "replay", "rows": size.lines, "cols": size.columns, "live": live,
                                     "step": step, "color": console.color_system}, raw=False, forward_input=step)
    except KeyboardInterrupt:
        conversation.close()
        console.print(f"interrupted; bringing lab {record.tag} down")
        bring_down(record)
        raise
    finally:
        conversation.close()
    try:
        snapshot = ask_ready(record, timeout=120)
    except LabError:
        bring_down(record)
        raise
    console.print("\n[bold]The scenario's network stays up[/] with a new association of the scenario's timer profile.")
    _print_up(console, record, snapshot)
    return code
