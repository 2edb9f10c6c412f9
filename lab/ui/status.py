"""``sctplab status``: a running lab's links, faults, traffic and every association's paths."""

from __future__ import annotations

from typing import Mapping

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.session.status import LabStatus

__all__ = ["render_status", "enter_hints"]

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
    for node, assocs in status.associations.items():
        for assoc in assocs:
            any_assoc = True
            parts.append(Text.assemble(
                (f"{node}", "bold"), f"  association {assoc.assoc_id} ", (assoc.state, "bold"),
                f"  port {assoc.local_port} -> {assoc.peer_port}  retransmissions {assoc.retransmits}",
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
