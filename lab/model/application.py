"""Applications in a scenario: the user's own SCTP client and server, run black-box in the topology's nodes.

Part of the scenario file model (:mod:`lab.model.scenario`); docs/applications.md
describes every key. An ``applications:`` section names the command to run in
the ``client`` and/or ``server`` node (an argv list, never a shell string),
with placeholders for the lab's addresses and ports (:mod:`lab.model.placeholders`),
its environment, config files rendered from templates, setup commands run
before it, a readiness condition, how it is stopped, the exit status
expected, and check commands run after it (the application's own verdict).
An end with no application is the lab's own endpoint.
"""

from __future__ import annotations

import reprlib
import signal
from typing import Annotated, Any, Literal

from pydantic import Field, PlainValidator, field_validator, model_validator

from lab.model.base import StrictModel as _Model
from lab.model.yamlsource import KeyedValueError

__all__ = ["Argv", "TemplateFile", "Ready", "Stop", "Application", "Applications", "ExitStatus",
           "STOP_SIGNALS", "DEFAULT_PORT", "READY_TIMEOUT"]

#: The SCTP port of ``{port}`` when ``applications.port`` is not given.
DEFAULT_PORT = 5201
#: Seconds an application may take to become ready, when ``ready.timeout`` is not given.
READY_TIMEOUT = 10.0
#: The signals a process may be stopped with.
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGKILL")


def _argv(value: object) -> list[str]:
    if isinstance(value, str):
        raise ValueError(f"expected a list of arguments such as [iperf3, -s, --sctp], never a shell string"
                         f" (got {reprlib.repr(value)})")
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of arguments (got {reprlib.repr(value)})")
    out = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise KeyedValueError((index,), f"expected a string or a number (got {reprlib.repr(item)})")
        out.append(str(item))
    if not out[0].strip():
        raise KeyedValueError((0,), "empty program name")
    return out


#: A command: the program and its arguments, each may hold placeholders.
Argv = Annotated[list[str], PlainValidator(_argv)]


def _exit_status(value: object) -> list[int] | Literal["any"]:
    if value == "any":
        return "any"
    items = value if isinstance(value, list) else [value]
    if not items or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= 255 for i in items):
        raise ValueError(f"expected an exit status 0..255, a list of them, or 'any' (got {reprlib.repr(value)})")
    return list(items)


#: The exit statuses that count as success: a list of 0..255, or ``"any"``.
ExitStatus = Annotated[list[int] | Literal["any"], PlainValidator(_exit_status)]


class TemplateFile(_Model):
    """A config file rendered from a template (placeholders filled in) into the run's folder."""

    template: str = Field(description="the template's path, relative to the scenario file")
    to: str = Field(description="the rendered file's name in the run's folder, e.g. server.conf")

    @field_validator("to")
    @classmethod
    def _to(cls, name: str) -> str:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"expected a plain file name such as server.conf (got {name!r})")
        return name


class Ready(_Model):
    """When the application counts as ready: exactly one condition, within ``timeout`` seconds.

    ``listening``: an SCTP endpoint listens on this port in the node (``/proc/net/sctp/eps``);
    ``log``: a line of its output matches this regular expression; ``association``: the node has an
    established association (``/proc/net/sctp/assocs``).
    """

    listening: int | str | None = None
    log: str | None = None
    association: bool | None = None
    timeout: float = Field(default=READY_TIMEOUT, gt=0, le=600)

    @model_validator(mode="after")
    def _one(self) -> Ready:
        given = [key for key in ("listening", "log", "association") if getattr(self, key) not in (None, False)]
        if len(given) != 1:
            raise ValueError("expected exactly one of: listening (a port), log (a regular expression),"
                             f" association (true) (got {', '.join(given) or 'none'})")
        if self.log is not None:
            import re

            try:
                re.compile(self.log)
            except re.error as err:
                raise KeyedValueError(("log",), f"not a regular expression: {err}") from None
        return self


class Stop(_Model):
    """How the lab stops the application: this signal, then SIGKILL after ``grace`` seconds."""

    signal: str = "SIGTERM"
    grace: float = Field(default=5.0, ge=0, le=120)

    @field_validator("signal")
    @classmethod
    def _signal(cls, name: str) -> str:
        name = name.upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name not in STOP_SIGNALS:
            raise ValueError(f"unknown signal {name!r} (expected one of: {', '.join(STOP_SIGNALS)})")
        return name

    @property
    def signum(self) -> int:
        return int(getattr(signal, self.signal))


class Application(_Model):
    """One end's application: what runs in its node, and how the lab knows it works."""

    command: Argv = Field(description="the command as a list, e.g. [iperf3, -s, --sctp, -p, '{port}']")
    environment: dict[str, str] = {}
    files: list[TemplateFile] = []
    setup: list[Argv] = []
    ready: Ready | None = None
    stop: Stop = Stop()
    ends: Literal["stopped", "itself"] = "stopped"
    exit: ExitStatus = [0]
    checks: list[Argv] = []

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str) or not key or "=" in key or "\0" in key:
                    raise KeyedValueError((str(key),), "expected a variable name (no '=')")
                if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                    raise KeyedValueError((key,), f"expected a string or a number (got {reprlib.repr(item)})")
                out[key] = str(item)
            return out
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, files: list[TemplateFile]) -> list[TemplateFile]:
        seen: set[str] = set()
        for index, item in enumerate(files):
            if item.to in seen:
                raise KeyedValueError((index, "to"), f"{item.to!r} is already rendered by another file")
            seen.add(item.to)
        return files


class Applications(_Model):
    """The ``applications:`` section: the port, and the application of each end (the other end is the lab's)."""

    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    client: Application | None = None
    server: Application | None = None

    @model_validator(mode="after")
    def _some(self) -> Applications:
        if self.client is None and self.server is None:
            raise ValueError("expected an application for client:, server: or both")
        return self

    def of(self, side: str) -> Application | None:
        app: Application | None = getattr(self, side)
        return app

    def sides(self) -> list[str]:
        """The ends that run an application, in start order: the server first."""
        return [side for side in ("server", "client") if self.of(side) is not None]
