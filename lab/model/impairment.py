"""netem parameters as they are written in topology and scenario files.

``delay_ms: 80`` or ``loss_pct: 5`` -- the unit is in the key, so a file
never needs unit strings. :meth:`Impairment.params` turns the validated
values into the :class:`~lab.faults.netem.NetemParams` the kernel gets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.model.yamlsource import KeyedValueError

if TYPE_CHECKING:
    from lab.faults.netem import NetemParams

__all__ = ["Impairment", "LinkImpairment", "PARAMETERS"]

_Amount = Annotated[float, Field(ge=0)]
_Percent = Annotated[float, Field(ge=0, le=100)]

#: netem parameters the lab sets, with their units: the keys of a file's
#: impairment, of :class:`~lab.faults.netem.NetemParams` and pyroute2's arguments.
PARAMETERS = {
    "delay_ms": "delay (ms)",
    "jitter_ms": "delay variation (ms)",
    "loss_pct": "loss (%)",
    "loss_corr_pct": "loss correlation (%)",
    "reorder_pct": "reordering (%), needs a delay",
    "duplicate_pct": "duplication (%)",
    "corrupt_pct": "corruption (%)",
    "rate_kbit": "rate limit (kbit/s)",
}


class Impairment(BaseModel):
    """netem on a link's egress: each key 0 (unset) or a value in its unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delay_ms: _Amount = 0
    jitter_ms: _Amount = 0
    loss_pct: _Percent = 0
    loss_corr_pct: _Percent = 0
    reorder_pct: _Percent = 0
    duplicate_pct: _Percent = 0
    corrupt_pct: _Percent = 0
    rate_kbit: _Amount = 0

    @model_validator(mode="after")
    def _consistent(self) -> Impairment:
        if not any(getattr(self, key) for key in PARAMETERS):
            raise KeyedValueError((), f"no impairment given (expected at least one of: {', '.join(PARAMETERS)})")
        if self.reorder_pct and not self.delay_ms:
            raise KeyedValueError(("reorder_pct",), "reordering needs delay_ms > 0 (netem reorders by not delaying some packets)")
        if self.jitter_ms and not self.delay_ms:
            raise KeyedValueError(("jitter_ms",), "jitter needs delay_ms > 0 (it varies the delay)")
        if self.loss_corr_pct and not self.loss_pct:
            raise KeyedValueError(("loss_corr_pct",), "loss correlation needs loss_pct > 0")
        return self

    def params(self) -> NetemParams:
        """The kernel-side parameters."""
        from lab.faults.netem import NetemParams

        return NetemParams(**{key: getattr(self, key) for key in PARAMETERS})


class LinkImpairment(Impairment):
    """An impairment built into a link: both directions, or one (``a-to-b``/``b-to-a``)."""

    direction: Literal["both", "a-to-b", "b-to-a"] = "both"
