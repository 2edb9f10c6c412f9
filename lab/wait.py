"""Waiting for a condition, never for a fixed time."""

from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

from lab.errors import WaitTimeout

__all__ = ["wait_until", "POLL_INTERVAL"]

T = TypeVar("T")

#: How often kernel state that has no change notification is polled (one
#: jiffy of the guest kernel, HZ=100).
POLL_INTERVAL = 0.01


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    interval: float = POLL_INTERVAL,
    cancel: threading.Event | None = None,
) -> T:
    """Return the first truthy value of ``check()``; raise :class:`WaitTimeout` after ``timeout`` s.

    ``what`` completes the sentence "timed out after N s waiting for ...".
    ``check`` may raise to abort the wait with its own error.
    """
    deadline = time.monotonic() + timeout
    pause = cancel if cancel is not None else threading.Event()
    while True:
        value = check()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeout(f"timed out after {timeout:.2f} s waiting for {what}")
        if pause.wait(min(interval, remaining)):
            raise WaitTimeout(f"cancelled while waiting for {what}")
