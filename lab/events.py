"""The run's timeline: what each side saw, when (monotonic seconds)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from lab.errors import WaitTimeout

__all__ = ["Event", "EventLog", "ERROR"]

#: Kind of an event that is an application-level error.
ERROR = "error"


@dataclass(frozen=True)
class Event:
    """One thing that happened: ``side`` is client, server or lab."""

    at: float
    side: str
    kind: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


class EventLog:
    """Thread-safe, append-only list of events with live listeners."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._events: list[Event] = []
        self._changed = threading.Condition()
        self._listeners: list[Callable[[Event], None]] = []

    def add(self, side: str, kind: str, detail: str, **data: Any) -> Event:
        event = Event(time.monotonic(), side, kind, detail, data)
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()
        for listener in list(self._listeners):
            listener(event)
        return event

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every event from now on (from the adding thread)."""
        self._listeners.append(listener)

    def events(self, kind: str | None = None, side: str | None = None) -> list[Event]:
        with self._changed:
            return [e for e in self._events if (kind is None or e.kind == kind) and (side is None or e.side == side)]

    def errors(self) -> list[Event]:
        """Every application-level error recorded so far."""
        return self.events(kind=ERROR)

    def wait_for(self, predicate: Callable[[Event], bool], *, timeout: float, what: str, since: float = 0.0) -> Event:
        """Return the first event at or after ``since`` matching ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self._events:
                    if event.at >= since and predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(f"timed out after {timeout:.2f} s waiting for {what}")
                self._changed.wait(remaining)

    def notify(self) -> None:
        """Wake waiters after a change that is not an event (e.g. a delivery)."""
        with self._changed:
            self._changed.notify_all()

    def wait_until(self, check: Callable[[], bool], *, timeout: float, what: str | Callable[[], str]) -> None:
        """Wait until ``check()`` holds; it is re-evaluated on every add/notify.

        ``what`` may be a callable, evaluated when the wait times out, so the
        message can say how far things got.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    said = what() if callable(what) else what
                    raise WaitTimeout(f"timed out after {timeout:.2f} s waiting for {said}")
                self._changed.wait(remaining)
