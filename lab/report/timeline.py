"""``timeline.png``: the failover of one run in a single picture.

Top to bottom: the scenario, its verdict, counts and failed checks; a lane
with the scenario's steps, the predicted windows and the longest stall, each
labelled where it happens; then one row per path with the DATA chunks per
second it carried and, under them, the path's state as the client and as the
server saw it. Step lines cross every row and predicted windows are shaded
behind the data. Drawn with matplotlib's object API (a ``Figure`` saved by
the Agg canvas), so no pyplot state is touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import AutoMinorLocator

from lab.report.model import PathRef, Report, StateChange, StepRecord

__all__ = ["render_timeline", "STATE_COLOURS"]

#: Colour of each kernel path state in the state bands (any other state is purple).
STATE_COLOURS = {
    "ACTIVE": "#2ca25f",
    "PF": "#f39c12",
    "INACTIVE": "#d7301f",
    "UNCONFIRMED": "#9e9e9e",
}
_OTHER_STATE = "#8e6bbf"
_DATA = "#31587a"
_WINDOWS = ("#4a98c9", "#9b7fd1", "#3aa59a", "#e377c2")  # the shading uses them at _SHADE
_SHADE = 0.25
_FAULT, _RESTORE, _STEP = "#d7301f", "#1e8449", "#7f7f7f"
_PASS, _FAIL = "#1e8449", "#c0392b"
_TEXT, _MUTED = "#222222", "#555555"

_WIDTH, _DPI = 12.0, 110  # inches, dots per inch
_LEFT, _RIGHT = 1.15, 0.35  # margins, inches
_PLOT_W = _WIDTH - _LEFT - _RIGHT
_LANE_FONT = 8.5  # points
_LABEL_CHARS = 40
_LANE_ROW = 0.21  # inches
_HEADER_LINE = 0.27
_DATA_H, _STATE_H, _PATH_TITLE, _PATH_GAP = 1.35, 0.42, 0.3, 0.22
_MAX_PROBLEMS = 4


@dataclass(frozen=True)
class _Mark:
    """Something on the lane: a step (``start == end``) or a bar, with its text after or before it."""

    start: float
    end: float
    text: str
    colour: str
    bold: bool
    bar: bool
    level: int = 0
    text_before: bool = False


def render_timeline(report: Report, path: Path) -> Path:
    """Draw ``report`` as a PNG at ``path`` and return ``path``."""
    x0, x1 = _span(report)
    marks = _stack(_step_marks(report), x0, x1)
    marks += _stack(_bar_marks(report, x0, x1), x0, x1, first_level=max((m.level + 1 for m in marks), default=0))
    levels = max(max((m.level + 1 for m in marks), default=0), 1)
    header = _header_lines(report)
    legend = _legend(report)
    legend_rows = math.ceil(len(legend) / 8)
    legend_columns = math.ceil(len(legend) / legend_rows)

    heights = [
        0.25 + _HEADER_LINE * len(header),  # title block
        levels * _LANE_ROW + 0.1,  # lane
        *[_PATH_TITLE + _DATA_H + _STATE_H + _PATH_GAP for _ in report.paths],
        0.45,  # time axis
        0.15 + 0.22 * legend_rows,  # legend
        0.3,  # footer
    ]
    fig_h = sum(heights)
    fig = Figure(figsize=(_WIDTH, fig_h), dpi=_DPI, facecolor="white")

    def box(top: float, height: float) -> Axes:
        """An axes as wide as the plot, ``top`` inches below the figure's top edge."""
        return fig.add_axes((_LEFT / _WIDTH, 1 - (top + height) / fig_h, _PLOT_W / _WIDTH, height / fig_h))

    _draw_header(fig, header, report.verdict == "pass", fig_h)
    lane = box(heights[0], heights[1] - 0.1)
    top = heights[0] + heights[1]
    peak = max((c / s.bucket for s in report.data for c in s.counts), default=0.0)
    rows: list[Axes] = []
    for ref in report.paths:
        data_ax = box(top + _PATH_TITLE, _DATA_H)
        state_ax = box(top + _PATH_TITLE + _DATA_H, _STATE_H)
        for ax in (data_ax, state_ax):
            ax.set_xlim(x0, x1)
        _draw_data(data_ax, report, ref, peak)
        _draw_states(state_ax, report.states, ref, (x0, x1))
        rows += [data_ax, state_ax]
        top += _PATH_TITLE + _DATA_H + _STATE_H + _PATH_GAP
    lane.set_xlim(x0, x1)
    _draw_lane(lane, marks, levels)
    bottom = rows[-1] if rows else lane
    bottom.tick_params(axis="x", which="both", bottom=True, labelbottom=True)
    bottom.set_xlabel("seconds from traffic start", fontsize=9)
    _draw_step_lines([lane, *rows], report.steps)
    fig.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 1 - (top + 0.45) / fig_h),
               ncol=legend_columns, frameon=False, fontsize=8.5, handlelength=1.8, columnspacing=1.5)
    fig.text(_LEFT / _WIDTH, 0.12 / fig_h, _footer(report), fontsize=8, color=_MUTED, va="bottom")
    fig.savefig(path, dpi=_DPI, facecolor="white")
    return path


def _span(report: Report) -> tuple[float, float]:
    """The time axis: from 0 (or an earlier step) to the end of the run, its data, steps and state changes.

    Predicted windows do not stretch it (a window reaching far past the run is cut at the edge).
    """
    x0 = min([0.0, *(s.at for s in report.steps)])
    x1 = max([report.duration, *(s.end for s in report.data), *(s.at for s in report.steps),
              *(c.at for c in report.states)])
    return x0, x1 if x1 > x0 else x0 + 1.0


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _step_style(action: str) -> tuple[str, Literal["--", "-", ":"]]:
    """Colour and line style of a step's line: red dashed fault, green restore, grey dotted others."""
    if action == "fault":
        return _FAULT, "--"
    if action == "restore":
        return _RESTORE, "-"
    return _STEP, ":"


def _step_marks(report: Report) -> list[_Mark]:
    marks = []
    for step in sorted(report.steps, key=lambda s: s.at):
        colour, _ = _step_style(step.action)
        text = _short(step.detail or step.action, _LABEL_CHARS)
        marks.append(_Mark(step.at, step.at, text, colour, step.action in ("fault", "restore"), bar=False))
    return marks


def _bar_marks(report: Report, x0: float, x1: float) -> list[_Mark]:
    """The predicted windows (cut to the axis) and the longest stall, as labelled bars."""
    marks = []
    for i, w in enumerate(report.windows):
        start, end = min(max(w.start, x0), x1), max(min(w.end, x1), x0)
        text = f"predicted: {_short(w.label, _LABEL_CHARS)}  {w.start:.2f}–{w.end:.2f} s"
        marks.append(_Mark(start, end, text, _WINDOWS[i % len(_WINDOWS)], False, bar=True))
    stall = report.longest_stall
    if stall is not None:
        end = stall.at + stall.seconds
        marks.append(_Mark(stall.at, end, f"longest stall {stall.seconds:.3f} s", _TEXT, True, bar=True))
    return sorted(marks, key=lambda m: m.start)


def _stack(marks: Sequence[_Mark], x0: float, x1: float, first_level: int = 0) -> list[_Mark]:
    """Put each mark on the first lane row (from ``first_level``) where it overlaps no earlier one.

    Text goes after the mark, or before it when it would run past the axis.
    """
    per_char = _LANE_FONT * 0.58 / 72 / _PLOT_W * (x1 - x0)  # estimated width of a character, in seconds
    ends: list[float] = []  # per row: where its last mark ends
    placed = []
    for m in marks:
        width = (len(m.text) + 2) * per_char
        before = m.end + width > x1
        start, end = (m.start - width, m.end) if before else (m.start, m.end + width)
        row = next((i for i, taken in enumerate(ends) if taken + per_char <= start), len(ends))
        if row == len(ends):
            ends.append(end)
        ends[row] = end
        placed.append(_Mark(m.start, m.end, m.text, m.colour, m.bold, m.bar, first_level + row, before))
    return placed


def _header_lines(report: Report) -> list[str]:
    """Title, description, counts, stall, then the failed checks."""
    c = report.counts
    lines = [
        report.scenario,
        _short(report.description, 160),
        f"sent {c.sent}  ·  delivered {c.delivered}  ·  lost {c.lost}  ·  duplicated {c.duplicated}"
        f"  ·  reordered {c.reordered}  ·  app errors {c.app_errors}",
    ]
    stall = report.longest_stall
    if stall is None:
        lines.append("no stall measured")
    else:
        line = (f"longest stall {stall.seconds:.3f} s from {stall.at:.2f} s"
                f" (between messages {stall.before_seq} and {stall.after_seq})")
        if stall.predicted is not None:
            low, high = stall.predicted
            verdict = "within" if stall.in_prediction else "OUTSIDE"
            line += f"  ·  {verdict} the predicted {low:.2f}–{high:.2f} s"
        lines.append(line)
    problems = report.problems
    lines += [_short("✗ " + p, 170) for p in problems[:_MAX_PROBLEMS]]
    if len(problems) > _MAX_PROBLEMS:
        lines.append(f"✗ … and {len(problems) - _MAX_PROBLEMS} more failed checks (see report.json)")
    return lines


def _draw_header(fig: Figure, lines: list[str], passed: bool, fig_h: float) -> None:
    left, right = _LEFT / _WIDTH, 1 - _RIGHT / _WIDTH
    y = 1 - 0.45 / fig_h
    fig.text(left, y, lines[0], fontsize=15, fontweight="bold", color=_TEXT, va="baseline")
    fig.text(right, y, "PASS" if passed else "FAIL", fontsize=14, fontweight="bold", color="white",
             ha="right", va="baseline",
             bbox={"boxstyle": "round,pad=0.35", "facecolor": _PASS if passed else _FAIL, "edgecolor": "none"})
    for i, line in enumerate(lines[1:]):
        y -= (_HEADER_LINE + (0.05 if i == 0 else 0)) / fig_h
        colour = _FAIL if line.startswith("✗") else (_MUTED if i == 0 else _TEXT)
        fig.text(left, y, line, fontsize=9.5, color=colour, va="baseline", style="italic" if i == 0 else "normal")


def _draw_data(ax: Axes, report: Report, ref: PathRef, peak: float) -> None:
    """DATA chunks per second on one path, its predicted windows shaded, its title above."""
    primary = "  (primary)" if ref.name == report.primary else ""
    ax.set_title(f"{ref.name}   client {ref.client} → server {ref.server}{primary}", loc="left",
                 fontsize=10.5, fontweight="bold", color=_TEXT, pad=6)
    series = report.series(ref.name)
    hb = _heartbeats(report, ref)
    total = "no DATA captured" if series is None else f"{series.total} DATA chunks"
    ax.set_title(total + (f"  ·  {hb}" if hb else ""), loc="right", fontsize=8.5, color=_MUTED, pad=6)
    for i, w in enumerate(report.windows):
        ax.axvspan(w.start, w.end, color=_WINDOWS[i % len(_WINDOWS)], alpha=_SHADE, linewidth=0, zorder=0)
    if series is not None and series.total:
        edges = [i * series.bucket for i in range(len(series.counts) + 1)]
        ax.stairs([c / series.bucket for c in series.counts], edges, fill=True, color=_DATA, linewidth=0,
                  zorder=2)
    else:
        ax.text(0.5, 0.5, "no DATA on this path", transform=ax.transAxes, ha="center", va="center",
                color=_MUTED, fontsize=9, style="italic")
    ax.set_ylim(0, peak * 1.12 if peak > 0 else 1)
    ax.set_ylabel("DATA chunks/s", fontsize=8.5)
    ax.tick_params(labelsize=8, labelbottom=False)
    ax.xaxis.set_minor_locator(AutoMinorLocator())
    ax.grid(axis="x", which="major", color="#e3e3e3", linewidth=0.7)
    ax.grid(axis="y", color="#efefef", linewidth=0.7)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _heartbeats(report: Report, ref: PathRef) -> str:
    """The path's heartbeats in both directions, e.g. "heartbeats acked client→server 14/21, server→client 12/19"."""
    parts = [f"{label} {h.acks}/{h.heartbeats}"
             for label, src, dst in (("client→server", ref.client, ref.server),
                                     ("server→client", ref.server, ref.client))
             for h in report.heartbeats if (h.src, h.dst) == (src, dst)]
    return "heartbeats acked " + ", ".join(parts) if parts else ""


def _segments(changes: Iterable[StateChange], end: float) -> list[tuple[float, float, str]]:
    """``(start, stop, state)`` spans: each state lasts until the next change, the last one until ``end``."""
    ordered = sorted(changes, key=lambda c: c.at)
    stops = [c.at for c in ordered[1:]] + [max(end, ordered[-1].at)] if ordered else []
    return [(c.at, stop, c.state) for c, stop in zip(ordered, stops)]


def _draw_states(ax: Axes, states: Sequence[StateChange], ref: PathRef, span: tuple[float, float]) -> None:
    """Two bands: the path's state as the client sees it (peer: server address) and as the server sees it.

    A span wide enough for it carries its state's name; a band without any state says so.
    """
    x0, x1 = span
    inch = (x1 - x0) / _PLOT_W  # seconds per inch of the time axis
    for y, (side, peer) in ((1, ("client", ref.server)), (0, ("server", ref.client))):
        segments = _segments((c for c in states if (c.side, c.peer) == (side, peer)), x1)
        if not segments:
            ax.text((x0 + x1) / 2, y, f"no state reported for {peer}", ha="center", va="center", fontsize=7.5,
                    color=_MUTED, style="italic")
        for start, stop, state in segments:
            ax.broken_barh([(start, stop - start)], (y - 0.4, 0.8), facecolors=STATE_COLOURS.get(state, _OTHER_STATE),
                           edgecolors="white", linewidth=0.6)
            shown = max(start, x0), min(stop, x1)
            if shown[1] - shown[0] > (len(state) * 0.075 + 0.1) * inch:
                ax.text(sum(shown) / 2, y, state, ha="center", va="center", fontsize=7, color="white",
                        fontweight="bold")
    ax.set_ylim(-0.55, 1.55)
    ax.set_yticks([1, 0], ["seen by client", "seen by server"], fontsize=8)
    ax.tick_params(axis="y", length=0)
    ax.tick_params(axis="x", which="both", labelsize=8.5, bottom=False, labelbottom=False)
    ax.xaxis.set_minor_locator(AutoMinorLocator())
    for spine in ax.spines.values():
        spine.set_visible(False)


def _draw_lane(lane: Axes, marks: Sequence[_Mark], levels: int) -> None:
    """Step labels at their lines; windows and the stall as bars with their labels."""
    lane.set_ylim(levels, 0)
    lane.axis("off")
    for m in marks:
        y = m.level + 0.5
        if m.bar:
            lane.plot([m.start, m.end], [y, y], color=m.colour, linewidth=5, solid_capstyle="butt",
                      alpha=0.9 if m.colour == _TEXT else 0.75)
            lane.plot([m.start, m.start], [y - 0.3, y + 0.3], [m.end, m.end], [y - 0.3, y + 0.3],
                      color=m.colour, linewidth=1)
        text = f"{m.text}  " if m.text_before else f"  {m.text}"
        lane.text(m.start if m.text_before else m.end, y, text, ha="right" if m.text_before else "left",
                  va="center", fontsize=_LANE_FONT, color=_TEXT if m.bar else m.colour,
                  fontweight="bold" if m.bold else "normal", clip_on=False, zorder=6,
                  bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _draw_step_lines(axes: Sequence[Axes], steps: Sequence[StepRecord]) -> None:
    """One vertical line per step through the lane and every path row (not through the path titles)."""
    for step in steps:
        colour, style = _step_style(step.action)
        width = 1.6 if step.action in ("fault", "restore") else 1.2
        for ax in axes:
            ax.axvline(step.at, color=colour, linestyle=style, linewidth=width, zorder=5)


def _legend(report: Report) -> list[Artist]:
    """The colour keys: data, every state, and the kinds of step present (windows are labelled in the lane)."""
    handles: list[Artist] = [Patch(color=_DATA, label="DATA chunks/s")]
    states = list(STATE_COLOURS) + sorted({c.state for c in report.states} - set(STATE_COLOURS))
    for state in states:
        label = "INACTIVE (unreachable)" if state == "INACTIVE" else state
        handles.append(Patch(color=STATE_COLOURS.get(state, _OTHER_STATE), label=label))
    actions = {s.action for s in report.steps}
    for action in ("fault", "restore"):
        if action in actions:
            colour, style = _step_style(action)
            handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=1.6, label=action))
    if actions - {"fault", "restore"}:
        handles.append(Line2D([], [], color=_STEP, linestyle=":", linewidth=1.2, label="other step"))
    if report.windows:
        handles.append(Patch(color=_WINDOWS[0], alpha=_SHADE + 0.1, label="predicted window"))
    return handles


def _footer(report: Report) -> str:
    return (f"topology {report.topology}  ·  profile {report.profile}  ·  kernel {report.kernel}"
            f"  ·  started {report.started}  ·  run {report.duration:.2f} s")
