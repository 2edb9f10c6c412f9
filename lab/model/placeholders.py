"""Placeholders in an application's arguments, environment and config files: the lab's addresses and ports.

Written ``{name}``; ``{{`` and ``}}`` are literal braces. The names, for a
topology whose endpoints are ``client`` and ``server`` (``self`` and ``peer``
are the node the command runs in and the other end):

- ``{port}``: the scenario's SCTP port (``applications.port``);
- ``{duration}``: the run's length in whole seconds (rounded up), e.g. for ``iperf3 -t``;
- ``{run}``: the run's folder (rendered files, logs and captures are there);
- ``{client.address}``: the client's address on the primary path; ``{client.<link>}``: on that link;
- ``{client.addresses}``: all its addresses, primary first (a list); ``{client.alternates}``: all but
  ``{client.address}`` (a list: for programs that bind one address, then add the others with ``sctp_bindx``);
  the same for ``server``, ``self``, ``peer``.

A list in a command's argument repeats that argument once per address
(``-X{self.addresses}`` becomes ``-X198.18.0.1 -X198.18.1.1``; a program
whose options take an attached value accepts that form); in the
environment and in files a list is joined with commas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from lab.model.topology import Topology

__all__ = ["PlaceholderError", "Values", "values_for", "render", "render_argv", "ENDPOINTS"]

#: The nodes that run the SCTP endpoints, and what each calls the other.
ENDPOINTS = {"client": "server", "server": "client"}

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")

#: A placeholder's value: one string, or a list (see the module's description).
Values = Mapping[str, str | Sequence[str]]


class PlaceholderError(ValueError):
    """A text uses an unknown placeholder, or a stray brace."""


def values_for(topology: Topology, node: str, *, port: int, run: Path, duration: float) -> dict[str, str | list[str]]:
    """Every placeholder's value for a command running in ``node`` (an endpoint: ``client`` or ``server``)."""
    out: dict[str, str | list[str]] = {"port": str(port), "duration": str(max(1, math.ceil(duration))),
                                       "run": str(run)}
    primary = topology.path_map[topology.primary_path]
    for end, alias in ((node, "self"), (ENDPOINTS[node], "peer")):
        link_of_primary = primary.client if end == "client" else primary.server
        addresses = topology.addresses_of(end)
        for name in (end, alias):
            first = str(topology.address(link_of_primary, end))
            out[f"{name}.address"] = first
            out[f"{name}.addresses"] = [first, *(str(address) for _, address in addresses if str(address) != first)]
            out[f"{name}.alternates"] = [str(address) for _, address in addresses if str(address) != first]
            for link, address in addresses:
                out[f"{name}.{link}"] = str(address)
    return out


def _parts(text: str, values: Values) -> list[str | Sequence[str]]:
    """The text cut into literal strings and placeholder values."""
    parts: list[str | Sequence[str]] = []
    at = 0
    for match in _FIELD.finditer(text):
        parts.append(text[at:match.start()])
        at = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        elif token in ("{", "}"):
            raise PlaceholderError(f"stray {token!r} in {text!r} (write {token * 2} for a literal brace)")
        else:
            name = match.group(1).strip()
            if name not in values:
                raise PlaceholderError(f"unknown placeholder {{{name}}} in {text!r} (expected one of: "
                                       f"{', '.join('{' + key + '}' for key in sorted(values))})")
            parts.append(values[name])
    parts.append(text[at:])
    return parts


def render(text: str, values: Values) -> str:
    """``text`` with every placeholder filled in (lists joined with commas)."""
    return "".join(part if isinstance(part, str) else ",".join(part) for part in _parts(text, values))


def render_argv(argv: Sequence[str], values: Values) -> list[str]:
    """The command with placeholders filled in; an argument holding a list is repeated once per item."""
    out: list[str] = []
    for argument in argv:
        parts = _parts(argument, values)
        lists = [part for part in parts if not isinstance(part, str)]
        if len(lists) > 1:
            raise PlaceholderError(f"more than one list placeholder in argument {argument!r}")
        if not lists:
            out.append("".join(part for part in parts if isinstance(part, str)))
            continue
        for item in lists[0]:
            out.append("".join(part if isinstance(part, str) else item for part in parts))
    return out
