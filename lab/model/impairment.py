"""netem parameters as they are written in topology and scenario files.

``delay_ms: 80`` or ``loss_pct: 5`` -- the unit is in the key, so a file
never needs unit strings. The keys, bounds and rules are those of the one
table, :data:`lab.model.netem.PARAMETERS`; :meth:`Impairment.params` gives
the :class:`~lab.model.netem.NetemParams` the kernel gets.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from lab.model.netem import BY_KEY, Direction, NetemParams, problems
from lab.model.yamlsource import KeyedValueError

__all__ = ["Impairment", "LinkImpairment"]


class Impairment(BaseModel):
    """netem on a link's egress: each key (those of the netem table) 0 (unset) or a value in its unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
        if isinstance(data, dict) and all(key in cls.model_fields for key in data):  # else: unknown key first
            for key, reason in problems(data):
                raise KeyedValueError((key,) if key else (), reason)
        return data

    def params(self) -> NetemParams:
        """The kernel-side parameters."""
        return NetemParams(**{key: getattr(self, key) for key in BY_KEY})


class LinkImpairment(Impairment):
    """An impairment built into a link: both directions, or one (``a-to-b``/``b-to-a``)."""

    direction: Direction = "both"
