"""What a scenario run must show: the ``expect:`` section of a scenario file.

Part of the scenario file model (:mod:`lab.model.scenario`); docs/scenario-format.md
describes each check.
"""

from __future__ import annotations

import reprlib
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, field_validator, model_validator

from lab.model.base import StrictModel as _Model
from lab.model.steps import PathStateOf
from lab.model.yamlsource import KeyedValueError

__all__ = ["FAULT_REFS", "FINDING_IDS", "Count", "Delivery", "FaultRef", "Failover", "PathStateExpect", "Expect"]

#: The identifiers of the judge's findings (lab.judge.findings.FINDINGS describes each), for ``expect.findings``.
FINDING_IDS = (
    "advertised-foreign-address",
    "single-homed-end",
    "init-ack-from-other-address",
    "heartbeat-ack-from-other-address",
    "peer-address-never-heartbeated",
    "peer-address-never-confirmed",
    "no-failover",
    "abort-with-confirmed-alternative",
)

#: The expectations that name a fault with ``after:`` (besides ``path_states``).
FAULT_REFS = ("failover", "no_failover", "failback", "abort")


def _count(value: object) -> int | Literal["any"]:
    if value == "any" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ValueError(f"expected an integer >= 0 or 'any' (got {reprlib.repr(value)})")


#: How many of something an expectation allows: an exact number, or ``"any"``.
Count = Annotated[int | Literal["any"], PlainValidator(_count)]


class Delivery(_Model):
    """How many messages may be lost, duplicated or reordered."""

    lost: Count = 0
    duplicated: Count = 0
    reordered: Count = 0


class FaultRef(_Model):
    """An expectation about what follows one fault step."""

    after: str = Field(description="the name of a fault step, e.g. cut")


class Failover(FaultRef):
    """Data moves to path ``to`` within the predicted window after fault ``after``."""

    to: str = Field(description="the name of the path data moves to, e.g. path-b")


class PathStateExpect(PathStateOf):
    """``side``'s kernel reports ``state`` for ``path`` after fault ``after``."""

    after: str = Field(description="the name of a fault step, e.g. cut")


class Expect(_Model):
    """What the run must show; see docs/scenario-format.md for each check."""

    delivery: Delivery = Delivery()
    application_errors: Count = 0
    init_addresses: bool = True
    heartbeat_matrix: bool = True
    failover: Failover | None = None
    no_failover: FaultRef | None = None
    failback: FaultRef | None = None
    abort: FaultRef | None = None
    path_states: list[PathStateExpect] = []
    findings: list[str] = []  #: findings this run may show (runs of applications report every other as a failure)

    @field_validator("findings")
    @classmethod
    def _findings(cls, ids: list[str]) -> list[str]:
        for index, item in enumerate(ids):
            if item not in FINDING_IDS:
                raise KeyedValueError((index,), f"unknown finding {item!r} (expected one of: {', '.join(FINDING_IDS)})")
        return ids

    @model_validator(mode="before")
    @classmethod
    def _lost_after_abort(cls, data: Any) -> Any:
        """With ``abort``, unacknowledged messages fail: ``delivery.lost`` defaults to ``any``."""
        if isinstance(data, dict) and data.get("abort") is not None:
            delivery = data.get("delivery", {})
            if isinstance(delivery, dict) and "lost" not in delivery:
                return {**data, "delivery": {**delivery, "lost": "any"}}
        return data
