"""``sctplab status``: a running lab's links, faults, traffic, every association's paths and its processes;
``sctplab ps``: the processes."""

from __future__ import annotations

import shlex
from typing import Mapping, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.session.status import LabStatus, ProcessStatus

__all__ = ["render_status", "enter_hints", "render_processes", "process_lines"]

_STATE_STYLE = {"ACTIVE": "green", "PF": "yellow", "INACTIVE": "red", "UNCONFIRMED": "cyan"}


def _name(names: Mapping[str, str], address: str) -> str:
    where = names.get(address)
    return f"{address} ({where})" if where else address


def render_status(status: LabStatus, *, kernel: str) -> RenderableType:
    """The snapshot from the lab service as tables."""
    lab, names = status.lab, status.names
    parts: list[RenderableType] = [Text.assemble(
        ("lab ", "bold"), (lab.tag, "bold cyan"), f"  topology {lab.topology} ({lab.file})  profile ",
        lab.profile, f"  kernel {kernel}  up {lab.uptime:.0f} s",
    )]
    faults_on: dict[str, list[str]] = {}
    for fault in status.faults:
        faults_on.setdefault(fault.link, []).append(f"#{fault.number} {fault.what}")
    links = Table(title="links", title_justify="left", expand=False)
    for column in ("link", "end a", "end b", "faults"):
        links.add_column(column)
    for link in status.links:
        ends = [f"{node} {end.interface}\n{end.address} {_oper(end.state)}" for node, end in link.ends.items()]
        links.add_row(link.name, *ends, "\n".join(faults_on.get(link.name, [])) or "-")
    parts.append(links)
    any_assoc = False
    owners = {(p.node, assoc_id): p.name for p in status.processes for assoc_id in p.associations}
    for node, assocs in status.associations.items():
        for assoc in assocs:
            any_assoc = True
            owner = owners.get((node, assoc.assoc_id))
            parts.append(Text.assemble(
                (f"{node}", "bold"), f"  association {assoc.assoc_id} ", (assoc.state, "bold"),
                f"  port {assoc.local_port} -> {assoc.peer_port}  retransmissions {assoc.retransmits}",
                (f"  process {owner}", "bold cyan") if owner else "",
            ))
            paths = Table(box=None, padding=(0, 1), pad_edge=False, show_edge=False)
            for column in ("", "remote address", "state", "rto", "errors"):
                paths.add_column(column)
            for path in assoc.paths:
                paths.add_row("  *" if path.primary else "   ", _name(names, path.address),
                              Text(path.state, style=_STATE_STYLE.get(path.state, "")),
                              f"{path.rto_s:.2f} s", str(path.errors))
            parts.append(paths)
    if not any_assoc:
        parts.append(Text("no SCTP associations in the lab's namespaces", style="red"))
    if status.processes:
        parts.append(render_processes(status.processes))
    traffic = status.traffic
    line = Text.assemble(("lab traffic ", "bold"), f"{traffic.rate:g} msg/s: sent {traffic.sent}, "
                         f"delivered {traffic.delivered}; arriving now: ")
    line.append(", ".join(f"{rate:g}/s from {_name(names, peer)}" for peer, rate in traffic.per_peer.items())
                or "nothing", style="" if traffic.per_peer else "bold red")
    parts.append(line)
    for error in traffic.errors:
        parts.append(Text(f"application error: {error}", style="bold red"))
    if status.events:
        parts.append(Text("recent events (s since up):", style="bold"))
        parts.extend(Text("  " + event.line()) for event in status.events)
    return Group(*parts)


def _process_style(process: ProcessStatus) -> str:
    return "green" if process.running else ("" if process.returncode == 0 else "red")


def render_processes(processes: Sequence[ProcessStatus]) -> Table:
    """The processes ``sctplab run`` started: name, node, pid, status, the associations it holds, command."""
    table = Table(title="processes", title_justify="left", expand=False)
    for column in ("name", "node", "pid", "status", "associations", "command"):
        table.add_column(column)
    for process in processes:
        table.add_row(process.name, process.node, str(process.pid),
                      Text(process.status, style=_process_style(process)),
                      ", ".join(map(str, process.associations)) or "-", shlex.join(process.command))
    return table


def process_lines(processes: Sequence[ProcessStatus]) -> list[str]:
    """``sctplab ps``: a header and a line per process, in columns, the command and log path last."""
    rows = [("NAME", "NODE", "PID", "STATUS", "UPTIME", "COMMAND", "LOG")]
    rows += [(p.name, p.node, str(p.pid), p.status, f"{p.uptime:.1f} s", shlex.join(p.command), p.log)
             for p in processes]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows]


def _oper(state: str) -> str:
    return state.lower() if state else "?"


def enter_hints(status: LabStatus, *, kernel: str) -> list[str]:
    """How to get into each node."""
    lines = []
    for node, netns in status.lab.namespaces.items():
        line = f"  {node:<8} sctplab shell {node}"
        if kernel == "host":
            line += f"   or   ip netns exec {netns} bash"
        lines.append(line)
    if kernel == "guest":
        lines.append("  (the namespaces live in the guest kernel; `sctplab shell NODE -- CMD` runs one command)")
    return lines
