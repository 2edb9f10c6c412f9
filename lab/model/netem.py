"""netem parameters: one table, and the one value type built from it.

:data:`PARAMETERS` says, per parameter, the key files use (``delay_ms``), the
short name the command line uses (``delay=80ms``), its unit and bounds, and
the pyroute2 argument it becomes. Everything else is derived from it: the
file model (:class:`~lab.model.impairment.Impairment`), the command line's
parser (:mod:`lab.session.faultargs`), ``link_faults.impair(...)`` in pytest
(:meth:`NetemParams.of`) and the kernel's arguments (:meth:`NetemParams.pyroute2`).
All of them validate with :func:`problems`, so the same bad value is refused
with the same words wherever it is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from lab.errors import ConfigError

__all__ = ["Direction", "DIRECTIONS", "NetemParameter", "PARAMETERS", "BY_KEY", "BY_SHORT", "NetemParams",
           "problems"]

#: Which egress of a link a fault or impairment acts on: ``a-to-b``/``b-to-a``
#: follow the link's ``a`` and ``b`` ends in the topology file.
Direction = Literal["both", "a-to-b", "b-to-a"]
DIRECTIONS: tuple[Direction, ...] = ("both", "a-to-b", "b-to-a")


@dataclass(frozen=True)
class NetemParameter:
    """One netem parameter: its names, unit, bounds and what pyroute2 gets."""

    key: str  # in files and in Python: delay_ms
    short: str  # on the command line: delay=80ms
    kind: Literal["time", "percent", "rate"]  # how the command line writes a value with a unit
    meaning: str
    unit: str
    upper: float | None  # inclusive; the lower bound is 0 for every parameter
    pyroute2: str
    convert: Callable[[float], Any]  # file value -> pyroute2 value
    needs: str | None = None  # another parameter that must be > 0 for this one to be set
    why: str = ""  # why it needs it

    def describe(self) -> str:
        return f"{self.meaning} ({self.unit})"


PARAMETERS: tuple[NetemParameter, ...] = (
    NetemParameter("delay_ms", "delay", "time", "delay", "ms", None, "delay", lambda v: int(v * 1000)),  # us
    NetemParameter("jitter_ms", "jitter", "time", "delay variation", "ms", None, "jitter", lambda v: int(v * 1000),
                   needs="delay_ms", why="it varies the delay"),
    NetemParameter("loss_pct", "loss", "percent", "loss", "%", 100, "loss", float),
    NetemParameter("loss_corr_pct", "loss-corr", "percent", "loss correlation", "%", 100, "loss_corr", float,
                   needs="loss_pct", why="it correlates the losses"),
    NetemParameter("reorder_pct", "reorder", "percent", "reordering", "%", 100, "prob_reorder", float,
                   needs="delay_ms", why="netem reorders by not delaying some packets"),
    NetemParameter("duplicate_pct", "duplicate", "percent", "duplication", "%", 100, "duplicate", float),
    NetemParameter("corrupt_pct", "corrupt", "percent", "corruption", "%", 100, "prob_corrupt", float),
    NetemParameter("rate_kbit", "rate", "rate", "rate limit", "kbit/s", None, "rate", lambda v: f"{v:g}kbit"),
)
BY_KEY: Mapping[str, NetemParameter] = {p.key: p for p in PARAMETERS}
BY_SHORT: Mapping[str, NetemParameter] = {p.short: p for p in PARAMETERS}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def problems(values: Mapping[str, object], *, require_one: bool = True) -> list[tuple[str, str]]:
    """What is wrong with the netem keys of ``values``, as (key, one-line reason); other keys are not looked at.

    ``require_one``: at least one parameter must be set (an impairment of nothing is a mistake).
    """
    found: list[tuple[str, str]] = []
    numbers: dict[str, float] = {}
    for parameter in PARAMETERS:
        if parameter.key not in values:
            continue
        value = _number(values[parameter.key])
        if value is None:
            found.append((parameter.key, f"{values[parameter.key]!r} is not a number (expected "
                                         f"{parameter.describe()})"))
            continue
        if value < 0 or value != value:
            found.append((parameter.key, f"{value:g} is below 0 (expected {parameter.describe()}, 0 or more)"))
        elif parameter.upper is not None and value > parameter.upper:
            found.append((parameter.key, f"{value:g} is above {parameter.upper:g} (expected "
                                         f"{parameter.describe()}, 0-{parameter.upper:g})"))
        numbers[parameter.key] = value
    for parameter in PARAMETERS:
        if numbers.get(parameter.key) and parameter.needs and not numbers.get(parameter.needs):
            found.append((parameter.key, f"{parameter.meaning} needs {parameter.needs} > 0 ({parameter.why})"))
    if require_one and not found and not any(numbers.values()):
        found.append(("", f"no impairment given (expected at least one of: {', '.join(BY_KEY)})"))
    return found


class NetemParams(BaseModel):
    """One impairment's netem parameters (0 = not set), valid by :func:`problems`.

    A bad value is a :class:`ConfigError` naming the parameter. The file
    model :class:`~lab.model.impairment.Impairment` is this model with the
    file's rules (at least one parameter; errors with the file's line).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delay_ms: float = 0
    jitter_ms: float = 0
    loss_pct: float = 0
    loss_corr_pct: float = 0
    reorder_pct: float = 0
    duplicate_pct: float = 0
    corrupt_pct: float = 0
    rate_kbit: float = 0

    @model_validator(mode="before")
    @classmethod
    def _valid(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, reason in problems(data, require_one=False):
                raise ConfigError(reason, key=key)
        return data

    @classmethod
    def of(cls, values: Mapping[str, object]) -> NetemParams:
        """From the keys files use; refused (:class:`ConfigError` naming the key) as a file would be."""
        for key in values:
            if key not in BY_KEY:
                raise ConfigError(f"unknown key (expected one of: {', '.join(BY_KEY)})", key=key)
        for key, reason in problems(values):
            raise ConfigError(reason, key=key or None)
        return cls(**{key: float(value) for key, value in values.items()})  # type: ignore[arg-type]

    def values(self) -> dict[str, float]:
        return {p.key: float(getattr(self, p.key)) for p in PARAMETERS}

    def merge(self, other: NetemParams) -> NetemParams:
        """Each parameter's larger value (a blackhole's 100 % loss beats a 5 % loss; a delay and a loss combine)."""
        return NetemParams(**{p.key: max(getattr(self, p.key), getattr(other, p.key)) for p in PARAMETERS})

    def describe(self) -> str:
        return " ".join(f"{p.key}={getattr(self, p.key):g}" for p in PARAMETERS if getattr(self, p.key)) or "none"

    def pyroute2(self) -> dict[str, Any]:
        """The arguments of ``IPRoute.tc('add'|'change', 'netem', ...)``."""
        return {p.pyroute2: p.convert(getattr(self, p.key)) for p in PARAMETERS if getattr(self, p.key)}
