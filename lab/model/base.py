"""The strict pydantic base of the lab's file formats."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from lab.model.yamlsource import KeyedValueError

__all__ = ["StrictModel", "check_name", "NAME_RULE"]

_NAME = re.compile(r"[a-z][a-z0-9-]*")
NAME_RULE = "expected a lowercase letter, then lowercase letters, digits or '-'"


def check_name(name: str | None, what: str) -> None:
    if name is not None and not _NAME.fullmatch(name):
        raise ValueError(f"invalid {what} name {name!r} ({NAME_RULE})")


class StrictModel(BaseModel):
    """Frozen, no unknown keys.

    Unknown and missing keys are reported here rather than by pydantic, so the
    message lists the allowed keys (or completes "missing (expected ...)"
    with the field's description) also inside unions and optional sections.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _check_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    raise KeyedValueError((key,), f"unknown key (expected one of: {', '.join(cls.model_fields)})")
            for name, field in cls.model_fields.items():
                if field.is_required() and name not in data:
                    raise KeyedValueError((name,), f"missing (expected {field.description})")
            cls._check_mapping(data)
        return data

    @classmethod
    def _check_mapping(cls, data: dict[Any, Any]) -> None:
        """Checks of the raw mapping, after its keys are known to be right (none by default)."""
