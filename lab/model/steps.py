"""The timeline of a scenario file: its steps, and the actions :meth:`Scenario.plan` makes of them.

Part of the scenario file model (:mod:`lab.model.scenario`); docs/scenario-format.md
describes the keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator

from lab.model.base import StrictModel as _Model
from lab.model.faultspec import FaultSpec, FlapFault, ImpairFault, parse_fault
from lab.model.yamlsource import KeyedValueError

__all__ = [
    "ACTIONS",
    "Side",
    "PathState",
    "PathStateOf",
    "WaitState",
    "Step",
    "FaultStep",
    "ApplyFault",
    "RestoreFault",
    "SetPrimary",
    "Action",
]

#: The keys of which a step has exactly one.
ACTIONS = ("fault", "impair", "restore", "primary", "wait")

Side = Literal["client", "server"]
#: A path state as the kernel reports it (``unreachable`` is the kernel's INACTIVE).
PathState = Literal["active", "pf", "unreachable", "unconfirmed"]


class PathStateOf(_Model):
    """A path state one side's kernel reports."""

    side: Side = Field(description="client or server: the side whose kernel reports the state")
    path: str = Field(description="the name of a path of the topology, e.g. path-a")
    state: PathState = Field(description="one of: active, pf, unreachable, unconfirmed")


class WaitState(PathStateOf):
    """Wait until ``side``'s kernel reports ``state`` for ``path``, at most ``timeout`` s."""

    timeout: float = Field(gt=0, description="the longest wait in seconds, e.g. 3")


class Step(_Model):
    """One point of the timeline: ``at`` seconds after traffic starts, exactly one action."""

    at: float = Field(ge=0, description="the time of the step in seconds after traffic starts, e.g. 2")
    fault: Annotated[FaultSpec, PlainValidator(parse_fault)] | None = None
    impair: ImpairFault | None = None
    restore: str | None = None
    primary: str | None = None
    wait: WaitState | None = None
    hold: Annotated[float, Field(gt=0)] | None = None

    @classmethod
    def _check_mapping(cls, data: dict[Any, Any]) -> None:
        given = [key for key in data if key in ACTIONS and data[key] is not None]
        if not given:
            raise KeyedValueError((), f"no action (expected one of: {', '.join(ACTIONS)})")
        if len(given) > 1:
            raise KeyedValueError(
                (given[1],),
                f"second action in one step (it already has {given[0]}; expected exactly one of: {', '.join(ACTIONS)})",
            )
        if "hold" in data and given[0] not in ("fault", "impair"):
            raise KeyedValueError(("hold",), f"only a fault or impair step can be held (this step has {given[0]})")

    @property
    def action(self) -> str:
        """The step's action key: one of :data:`ACTIONS`."""
        return next(key for key in ACTIONS if getattr(self, key) is not None)

    @property
    def spec(self) -> FaultSpec | None:
        """The fault this step applies (from ``fault:`` or ``impair:``), if any."""
        return self.fault if self.fault is not None else self.impair



@dataclass(frozen=True)
class FaultStep:
    """A fault of the timeline: applied at ``at``, undone at ``restore_at`` (``None``: at the end of the run)."""

    name: str
    at: float
    fault: FaultSpec
    restore_at: float | None
    step: int  # index in ``steps``

    @property
    def ends_at(self) -> float | None:
        """When the fault is over: its restore, else a flap's last cycle, else ``None`` (the end of the run)."""
        if self.restore_at is None and isinstance(self.fault, FlapFault):
            return self.at + self.fault.length
        return self.restore_at


@dataclass(frozen=True)
class ApplyFault:
    name: str
    fault: FaultSpec


@dataclass(frozen=True)
class RestoreFault:
    name: str


@dataclass(frozen=True)
class SetPrimary:
    path: str


#: What the runner does at a point of :meth:`Scenario.plan`.
Action = ApplyFault | RestoreFault | SetPrimary | WaitState
