"""netem parameters as they are written in topology and scenario files.

``delay_ms: 80`` or ``loss_pct: 5`` -- the unit is in the key, so a file
never needs unit strings. The keys, bounds and rules are those of the one
table, :data:`lab.model.netem.PARAMETERS`; :meth:`Impairment.params` gives
the :class:`~lab.model.netem.NetemParams` the kernel gets.
"""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from lab.model.netem import Direction, NetemParams, problems
from lab.model.yamlsource import KeyedValueError

__all__ = ["Impairment", "LinkImpairment"]


class Impairment(NetemParams):
    """netem on a link's egress as a file writes it: the keys of the netem table, at least one of them set."""

    @model_validator(mode="before")
    @classmethod
    def _valid(cls, data: Any) -> Any:  # replaces NetemParams's: errors name the file's key and line
        if isinstance(data, dict) and all(key in cls.model_fields for key in data):  # else: unknown key first
            for key, reason in problems(data):
                raise KeyedValueError((key,) if key else (), reason)
        return data

    def params(self) -> NetemParams:
        """The kernel-side parameters."""
        return NetemParams(**self.values())


class LinkImpairment(Impairment):
    """An impairment built into a link: both directions, or one (``a-to-b``/``b-to-a``)."""

    direction: Direction = "both"
