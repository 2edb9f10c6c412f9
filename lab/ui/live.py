"""The live view of ``sctplab replay``: a scenario as it happens.

On a terminal, a rich panel redrawn four times a second: the clock, each
path with its state as each end's kernel sees it and the messages per
second arriving over it, the current and longest stall, the timeline's
steps (done, failed, next), and the latest kernel and lab events. Without a
terminal (CI logs) the same events are printed one line each.

``--step`` mode pauses before each step until Enter is pressed.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lab.events import Event
from lab.model.scenario import LoadedScenario
from lab.scenario.runner import describe_action
from lab.sctp.endpoint import Client
from lab.sctp.traffic import Arrival

if TYPE_CHECKING:
    from lab.scenario.runner import Run, StepDone

__all__ = ["LiveView", "STATE_STYLES"]

#: Colours of the kernel's path states.
STATE_STYLES = {"ACTIVE": "bold green", "PF": "bold yellow", "INACTIVE": "bold red", "UNCONFIRMED": "dim"}
_SHOWN_EVENTS = ("paddr", "assoc", "fault", "restore", "flap", "primary", "error", "data-path")
_RATE_WINDOW = 1.0  # seconds of arrivals behind "messages/s"


class _Tally:
    """Deliveries counted as they arrive: each frame reads only the arrivals new since the last one."""

    def __init__(self) -> None:
        self.read = 0
        self.seqs: set[int] = set()
        self.last: float | None = None
        self.longest = 0.0
        self.recent: deque[tuple[float, str]] = deque()  # (received_at, peer) within the rate window

    def update(self, arrivals: list[Arrival], now: float) -> None:
        for a in arrivals[self.read:]:
            self.seqs.add(a.seq)
            if self.last is not None:
                self.longest = max(self.longest, a.received_at - self.last)
            self.last = a.received_at
            self.recent.append((a.received_at, a.peer))
            self.read += 1
        while self.recent and self.recent[0][0] <= now - _RATE_WINDOW:
            self.recent.popleft()

    def rate_from(self, peer: str) -> float:
        return sum(1 for _, p in self.recent if p == peer) / _RATE_WINDOW


class LiveView:
    """An :class:`~lab.scenario.runner.Observer` that draws the run (or prints it, without a terminal)."""

    def __init__(self, loaded: LoadedScenario, *, console: Console, live: bool, step_mode: bool = False,
                 input_stream: TextIO | None = None) -> None:
        self.loaded, self.console, self.step_mode = loaded, console, step_mode
        self.input_stream = input_stream  # where --step's Enter comes from (default: stdin)
        self.use_live = live
        self.run: Run | None = None
        self.events: deque[str] = deque(maxlen=8)
        self.done: list[StepDone] = []
        self.plan = [(at, describe_action(action)) for at, action in loaded.scenario.plan()]
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._tally = _Tally()

    # -- Observer --------------------------------------------------------------------------------------------

    def ready(self, run: Run) -> None:
        self.run = run
        run.log.subscribe(self._on_event)
        topology = self.loaded.topology
        self._say(f"association up: client {', '.join(str(a) for _, a in topology.addresses_of('client'))}"
                  f" <-> server {', '.join(str(a) for _, a in topology.addresses_of('server'))}")
        if self.use_live:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4, get_renderable=self._render)
            self._live.start()

    def before_step(self, at: float, detail: str) -> None:
        if not self.step_mode:
            return
        if self._live is not None:
            self._live.stop()
        self.console.input(f"[bold]next step at {at:g} s:[/] {detail}  [dim](press Enter)[/]", stream=self.input_stream)
        if self._live is not None:
            self._live.start()

    def step(self, done: StepDone) -> None:
        with self._lock:
            self.done.append(done)
        if self._live is None and self.run is not None:
            mark = "" if done.ok else "  FAILED"
            self.console.print(f"t={self.run.clock(done.at):7.3f} s  step    {done.detail}{mark}")

    def close(self) -> None:
        """Stop redrawing (the last frame stays on the screen)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- drawing ---------------------------------------------------------------------------------------------

    def _say(self, text: str) -> None:
        self.console.print(text)

    def _on_event(self, event: Event) -> None:
        if event.kind not in _SHOWN_EVENTS or self.run is None or event.detail.startswith("SEND_FAILED"):
            return  # (SEND_FAILED comes once per message: the traffic line counts application errors)
        line = f"t={self.run.clock(event.at):7.3f} s  {event.side:<6} {event.kind:<9} {event.detail}"
        with self._lock:
            self.events.append(line)
        if self._live is None:
            self.console.print(line, markup=False, highlight=False)

    def _render(self) -> Panel:
        run = self.run
        if run is None:
            return Panel("starting...")
        now = time.monotonic()
        server = run.pair.server if run.pair is not None else run.lab_end
        self._tally.update(getattr(server, "arrivals", []), now)
        scenario, topology = self.loaded.scenario, self.loaded.topology
        title = Text.assemble((scenario.name, "bold"), f"   t = {run.clock(now):6.2f} s of {scenario.effective_duration:g} s")
        return Panel(Group(self._paths(run, now), self._traffic(run, now), self._steps(run, now), self._events()),
                     title=title, subtitle=f"{topology.name} / {scenario.profile.name}", expand=True)

    def _paths(self, run: Run, now: float) -> Table:
        table = Table(expand=True, box=None, pad_edge=False)
        for column in ("path", "client -> server", "client sees", "server sees", "msg/s"):
            table.add_column(column, justify="right" if column == "msg/s" else "left")
        poller = run.poller
        for name in self.loaded.topology.path_map:
            client, server = (str(a) for a in self.loaded.topology.path_addresses(name))
            cells = []
            for side, peer in (("client", server), ("server", client)):
                sample = poller.latest(side, peer)
                state = sample.state if sample else "?"
                primary = " (primary)" if sample is not None and sample.primary else ""
                cells.append(Text(state + primary, style=STATE_STYLES.get(state, "")))
            table.add_row(name, f"{client} -> {server}", *cells, f"{self._tally.rate_from(client):.0f}")
        return table

    def _traffic(self, run: Run, now: float) -> Text:
        if run.pair is None:  # the user's applications: how each runs (the wire tells the rest, afterwards)
            apps = "  ".join(f"{side}: {app.status()} ({_last_line(app.log)})" for side, app in run.apps.items())
            sent = f"lab client sent {run.lab_end.sent}  " if isinstance(run.lab_end, Client) else ""
            return Text.assemble(sent, apps, (f"  app errors {len(run.log.errors())}",
                                              "bold red" if run.log.errors() else ""))
        tally = self._tally
        current = now - (tally.last if tally.last is not None else run.t0)
        style = "bold red" if current > 2 / self.loaded.scenario.traffic.rate else ""  # two messages overdue
        return Text.assemble(f"sent {run.pair.client.sent}  delivered {len(tally.seqs)}  ",
                             (f"stall now {current:.3f} s", style), f"  longest stall {tally.longest:.3f} s  ",
                             (f"app errors {len(run.log.errors())}", "bold red" if run.log.errors() else ""))

    def _steps(self, run: Run, now: float) -> Table:
        table = Table(expand=True, box=None, pad_edge=False, show_header=False)
        table.add_column("when", width=9)
        table.add_column("step")
        with self._lock:
            done = list(self.done)
        for index, (at, text) in enumerate(self.plan):
            if index < len(done):
                mark = Text(f"t={run.clock(done[index].at):5.2f}", style="green" if done[index].ok else "bold red")
            else:
                mark = Text(f"at {at:5.2f}", style="bold yellow" if index == len(done) else "dim")
            table.add_row(mark, text)
        return table

    def _events(self) -> Text:
        with self._lock:
            return Text("\n".join(self.events), style="dim")


def _last_line(log: Path) -> str:
    """The last line an application wrote (its log streams into the live view a line at a time)."""
    try:
        with open(log, "rb") as out:
            out.seek(max(0, out.seek(0, 2) - 200))
            lines = out.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return lines[-1][:60] if lines else "no output yet"
