"""Fault settings as the command line writes them: ``delay=80ms loss=5% direction=a-to-b``.

:func:`settings` turns ``key=value`` words into the mapping a scenario file
would hold for the fault (:mod:`lab.model.faultspec` then validates it): the
netem keys have short names with units (:data:`lab.model.netem.PARAMETERS`) (``delay=80ms`` is ``delay_ms: 80``,
``loss=5%`` is ``loss_pct: 5``, ``rate=2mbit`` is ``rate_kbit: 2000``), the
file's own keys work too, and ``chunks=DATA,SACK`` is a list.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from lab.errors import ConfigError
from lab.model.faultspec import error_text, parse_fault
from lab.model.netem import BY_KEY, BY_SHORT

__all__ = ["settings", "fault_spec"]

_NUMBER = r"(-?(?:\d+(?:\.\d*)?|\.\d+))"  # negative too: the table says why it is refused
_DURATION = re.compile(_NUMBER + r"\s*(us|ms|s)?", re.IGNORECASE)
_PERCENT = re.compile(_NUMBER + r"\s*%?")
_RATE = re.compile(_NUMBER + r"\s*(bit|kbit|mbit|gbit)?", re.IGNORECASE)
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_TO_KBIT = {"bit": 0.001, "kbit": 1.0, "mbit": 1000.0, "gbit": 1_000_000.0}


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _value(key: str, raw: str) -> Any:
    kind = BY_KEY[key].kind if key in BY_KEY else None
    if kind == "time":
        match = _DURATION.fullmatch(raw)
        if not match:
            raise ValueError("expected a duration such as 80ms, 0.5s or 80 (ms)")
        return _number(str(float(match[1]) * _TO_MS[(match[2] or "ms").lower()]))
    if kind == "percent":
        match = _PERCENT.fullmatch(raw)
        if not match:
            raise ValueError("expected a percentage such as 5% or 5")
        return _number(match[1])
    if kind == "rate":
        match = _RATE.fullmatch(raw)
        if not match:
            raise ValueError("expected a rate such as 500kbit, 2mbit or 500 (kbit/s)")
        return _number(str(float(match[1]) * _TO_KBIT[(match[2] or "kbit").lower()]))
    if key == "period":
        match = _DURATION.fullmatch(raw)
        if not match:
            raise ValueError("expected a duration such as 2s, 500ms or 2 (s)")
        return _number(str(float(match[1]) * _TO_MS[(match[2] or "s").lower()] / 1000))
    if key == "chunks":
        return [c.strip() for c in raw.split(",") if c.strip()]
    return raw


def settings(words: Sequence[str], *, command: str) -> dict[str, Any]:
    """``key=value`` words as a fault mapping; a clear error naming the word otherwise."""
    out: dict[str, Any] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not key or not raw:
            raise ConfigError(f"sctplab {command}: {word!r}: expected key=value, e.g. delay=80ms or loss=5%")
        name = BY_SHORT[key].key if key in BY_SHORT else key.replace("-", "_")  # the file's keys use "_"
        if name in out:
            raise ConfigError(f"sctplab {command}: {word!r}: {key} is given twice")
        try:
            out[name] = _value(name, raw.strip())
        except ValueError as err:
            raise ConfigError(f"sctplab {command}: {word!r}: {err}") from err
    return out


def fault_spec(kind: str, link: str, words: Sequence[str], *, direction: str | None = None,
               command: str) -> dict[str, Any]:
    """The fault ``sctplab COMMAND LINK WORDS...`` asks for, as a file would write it; validated as a file's is."""
    spec: dict[str, Any] = {"kind": kind, "link": link, **settings(words, command=command)}
    if direction is not None:
        spec["direction"] = direction
    try:
        parse_fault(spec)
    except ValueError as err:  # pydantic's ValidationError and KeyedValueError are ValueErrors
        raise ConfigError(f"sctplab {command}: {error_text(err)}") from err
    return spec
