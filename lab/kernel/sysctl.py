"""Per-namespace sysctls (``net.*`` keys resolve in the writer's namespace)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from lab.errors import KernelError
from lab.kernel import netns

__all__ = ["write", "read", "apply", "exists"]


def _path(key: str) -> Path:
    return Path("/proc/sys") / key.replace(".", "/")


def read(key: str) -> str:
    """Read one sysctl in the calling thread's namespace."""
    try:
        return _path(key).read_text().strip()
    except OSError as err:
        raise KernelError(f"cannot read sysctl {key}: {err.strerror}") from err


def write(key: str, value: int | str) -> None:
    """Write one sysctl in the calling thread's namespace."""
    try:
        _path(key).write_text(f"{value}\n")
    except OSError as err:
        raise KernelError(f"cannot set sysctl {key}={value}: {err.strerror}") from err


def apply(namespace: str, values: Mapping[str, int | str]) -> None:
    """Write ``values`` inside the named network namespace."""
    with netns.entered(namespace):
        for key, value in values.items():
            write(key, value)


def exists(key: str, *, namespace: str | None = None) -> bool:
    """Whether the sysctl exists in the named network namespace (default: the calling thread's)."""
    if namespace is None:
        return _path(key).exists()
    with netns.entered(namespace):
        return _path(key).exists()
