"""Fault specifications as files and the command line write them.

Each model validates one fault ``kind`` (its keys are documented in
docs/scenario-format.md); :func:`lab.faults.from_spec` turns it into the
live fault. :func:`parse_fault` picks the model by ``kind``.
"""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, ValidationError, field_validator

from lab.model.base import StrictModel as _Model
from lab.model.base import check_name as _check_name
from lab.model.impairment import LinkImpairment
from lab.model.netem import Direction
from lab.model.protocol import CHUNK_TYPES
from lab.model.yamlsource import KeyedValueError, dotted, explain

__all__ = [
    "BlackholeFault",
    "ImpairFault",
    "LinkDownFault",
    "RouteWithdrawalFault",
    "FlapFault",
    "DropChunksFault",
    "FaultSpec",
    "FAULT_KINDS",
    "parse_fault",
    "error_text",
]



class _Fault(_Model):
    """What every fault kind has: the kind, the link it acts on and an optional name."""

    kind: str = Field(description="a fault kind")
    link: str = Field(description="the name of a link of the topology, e.g. path-a")
    name: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str | None) -> str | None:
        _check_name(name, "fault")
        return name

    @property
    def resolved_name(self) -> str:
        """``name``, or ``<kind>-<link>`` when none is given."""
        return self.name if self.name is not None else f"{self.kind}-{self.link}"


class BlackholeFault(_Fault):
    """Drop everything on a link, both directions or one."""

    kind: Literal["blackhole"] = "blackhole"
    direction: Direction = "both"



class ImpairFault(LinkImpairment, _Fault):
    """netem on a link (delay, loss, ...): the keys of :class:`~lab.model.impairment.Impairment`."""

    kind: Literal["impair"] = "impair"



class LinkDownFault(_Fault):
    """Administratively down ``node``'s interface on the link (``near``) or its peer's (``far``).

    ``node`` defaults to the node at the link's end ``a``.
    """

    kind: Literal["link-down"] = "link-down"
    node: str | None = None
    side: Literal["near", "far"] = "near"



class RouteWithdrawalFault(_Fault):
    """Delete ``node``'s route to the link's subnet."""

    kind: Literal["route-withdrawal"] = "route-withdrawal"
    node: str = "client"



class FlapFault(_Fault):
    """The link goes down and up ``count`` times, ``period`` s a cycle, down for ``duty`` of it."""

    kind: Literal["flap"] = "flap"
    count: int = Field(default=3, ge=1)
    period: float = Field(default=2.0, gt=0)
    duty: float = Field(default=0.5, gt=0, lt=1)
    node: str | None = None
    side: Literal["near", "far"] = "near"

    @property
    def length(self) -> float:
        """Seconds until the last cycle is over."""
        return self.count * self.period



class DropChunksFault(_Fault):
    """Drop packets whose first chunk is one of ``chunks`` (names of :data:`lab.model.protocol.CHUNK_TYPES`)."""

    kind: Literal["drop-chunks"] = "drop-chunks"
    chunks: list[str] = Field(description="a list of SCTP chunk types such as [HEARTBEAT-ACK]")
    direction: Direction = "both"

    @field_validator("chunks")
    @classmethod
    def _chunks(cls, chunks: list[str]) -> list[str]:
        if not chunks:
            raise ValueError(f"no chunk types given (expected some of: {', '.join(CHUNK_TYPES)})")
        for index, chunk in enumerate(chunks):
            if chunk not in CHUNK_TYPES:
                raise KeyedValueError(
                    (index,), f"unknown chunk type {chunk!r} (expected one of: {', '.join(CHUNK_TYPES)})"
                )
        return chunks



#: A validated ``fault:`` (or ``impair:``) mapping.
FaultSpec = BlackholeFault | ImpairFault | LinkDownFault | RouteWithdrawalFault | FlapFault | DropChunksFault

#: The fault models by ``kind``.
FAULT_KINDS: Mapping[str, type[FaultSpec]] = {
    model.model_fields["kind"].default: model
    for model in (BlackholeFault, ImpairFault, LinkDownFault, RouteWithdrawalFault, FlapFault, DropChunksFault)
}


def parse_fault(value: object) -> FaultSpec:
    """Validate a ``fault:`` mapping as the model of its ``kind``.

    Done by hand rather than as a pydantic tagged union so that error paths
    have no union tag in them: an error in the member model comes out as
    ``steps[0].fault.direction``, not ``steps[0].fault.blackhole.direction``.
    """
    if isinstance(value, FaultSpec):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping with a kind: key (got {reprlib.repr(value)})")
    kinds = ", ".join(FAULT_KINDS)
    if "kind" not in value:
        raise KeyedValueError(("kind",), f"missing (expected a fault kind, one of: {kinds})")
    kind = value["kind"]
    model = FAULT_KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise KeyedValueError(("kind",), f"unknown fault kind {kind!r} (expected one of: {kinds})")
    return model.model_validate(value)  # its ValidationError nests under this key


def error_text(err: Exception) -> str:
    """A fault's validation error on one line, ``key: reason``, worded as a file's error would be."""
    if isinstance(err, ValidationError):
        path, reason = explain(err, model=_model_of(err))
        return f"{dotted(path)}: {reason}" if path else reason
    if isinstance(err, KeyedValueError) and err.key_path:
        return f"{dotted(err.key_path)}: {err}"
    return str(err)


def _model_of(err: ValidationError) -> type[FaultSpec]:
    return next((m for m in FAULT_KINDS.values() if m.__name__ == err.title), BlackholeFault)
