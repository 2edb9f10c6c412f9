"""The lab's one exception tree.

Every error the lab raises on purpose is a :class:`LabError`. Errors from the
kernel, from subprocesses and from files are translated at the boundary with
``raise ... from err`` so the cause stays attached.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "LabError",
    "ConfigError",
    "CapabilityError",
    "KernelError",
    "GuestError",
    "WaitTimeout",
    "EndpointError",
]


class LabError(Exception):
    """Base class of every error the lab raises."""


class ConfigError(LabError):
    """A topology, profile or scenario file (or value) is invalid.

    The message is one line: ``FILE:LINE: KEY.PATH: what is wrong (expected ...)``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.line = line
        self.reason = message
        where = ""
        if self.file:
            where = self.file + (f":{line}" if line is not None else "") + ": "
        elif line is not None:
            where = f"line {line}: "
        super().__init__(f"{where}{key + ': ' if key else ''}{message}")


class CapabilityError(LabError):
    """Neither the host kernel nor a guest kernel can do what was asked.

    The message names what is missing and the package that provides it.
    """


class KernelError(LabError):
    """A kernel operation (netlink, namespace, sysctl, socket option) failed."""


class GuestError(LabError):
    """The User-Mode Linux guest could not be started or did not finish."""


class WaitTimeout(LabError):
    """A condition did not become true in time; the message names the condition."""


class EndpointError(LabError):
    """An SCTP endpoint could not be set up (bind, listen, connect, options)."""
