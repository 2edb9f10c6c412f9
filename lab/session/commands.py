"""The ``sctplab`` commands for a lab that stays up: up, status, fail, impair, restore, shell, down, clean."""

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
from lab.session.records import LabRecord, find_lab
from lab.session.shell import run_shell, stream
from lab.session.status import LabStatus
from lab.ui.status import enter_hints, render_status

__all__ = ["up", "down", "status", "fail", "restore", "shell", "clean", "replay_and_keep", "WATCH_INTERVAL"]

#: Seconds between two frames of ``status --watch``.
WATCH_INTERVAL = 0.5


def _print_up(console: Console, record: LabRecord, snapshot: LabStatus) -> None:
    console.print(render_status(snapshot, kernel=record.kernel))
    console.print(f"\n[bold]lab {record.tag} is up[/] ({record.topology}, kernel: {record.kernel}). Get into a node:")
    for line in enter_hints(snapshot, kernel=record.kernel):
        console.print(line, markup=False, highlight=False)
    console.print("Then: sctplab status [--watch] | fail LINK | impair LINK delay=80ms loss=5% | restore LINK | down",
                  markup=False, highlight=False)
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


def shell(tag: str | None, node: str, argv: Sequence[str]) -> int:
    record = find_lab(tag)
    nodes = list(_topology(record).nodes)
    if node not in nodes:
        raise ConfigError(f"sctplab shell: no node {node!r} in topology {record.topology} (nodes: {', '.join(nodes)})")
    conversation = connect(record, timeout=None)
    try:
        return run_shell(conversation, node, argv)
    finally:
        conversation.close()


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
