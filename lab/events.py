"""The run's timeline: what each side saw, when (monotonic seconds)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable

from lab.errors import WaitTimeout

__all__ = ["Event", "EventKind", "EventLog", "ERROR"]


class EventKind(StrEnum):
    """What an event records (a str: it compares equal to its value and is written as it)."""

    ERROR = "error"  #: an application-level error (send error, COMM_LOST, SEND_FAILED, unexpected EOF)
    ASSOC = "assoc"  #: SCTP_ASSOC_CHANGE; detail and data["state"]: COMM_UP, COMM_LOST, ...
    PADDR = "paddr"  #: SCTP_PEER_ADDR_CHANGE; data["address"], data["state"]: ADDR_AVAILABLE, ...
    SHUTDOWN = "shutdown"  #: the peer shut down
    NOTIFICATION = "notification"  #: another SCTP notification
    EOF = "eof"  #: the association closed
    ACCEPTED = "accepted"  #: the server accepted an association
    DATA_PATH = "data-path"  #: messages now arrive from another peer address (data["peer"])
    FAULT = "fault"  #: a fault was applied (data["link"], data["downs"]: it takes the link down)
    RESTORE = "restore"  #: a fault was undone (data["link"])
    FLAP = "flap"  #: one half-cycle of a flapping link (data["link"])
    IMPAIR = "impair"  #: an applied impairment changed (data["link"])
    PRIMARY = "primary"  #: the lab set the primary path
    PROCESS = "process"  #: an application the lab runs started, was ready or ended (data["name"])


#: Kind of an event that is an application-level error.
ERROR = EventKind.ERROR


@dataclass(frozen=True)
class Event:
    """One thing that happened: ``side`` is client, server or lab."""

    at: float
    side: str
    kind: EventKind
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


class EventLog:
    """Thread-safe, append-only list of events with live listeners."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self._events: list[Event] = []
        self._changed = threading.Condition()
        self._listeners: list[Callable[[Event], None]] = []

    def add(self, side: str, kind: EventKind, detail: str, **data: Any) -> Event:
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

    def events(self, kind: EventKind | None = None, side: str | None = None) -> list[Event]:
        with self._changed:
            return [e for e in self._events if (kind is None or e.kind == kind) and (side is None or e.side == side)]

    def errors(self) -> list[Event]:
        """Every application-level error recorded so far."""
        return self.events(kind=ERROR)

    def error_lines(self) -> list[str]:
        """Every application-level error as ``side: detail``."""
        return [f"{e.side}: {e.detail}" for e in self.errors()]

    def links_taken_down(self) -> set[str]:
        """The links a fault took down (link down, flap) at some point: captures there may miss packets."""
        return {str(e.data["link"]) for e in self.events(kind=EventKind.FAULT) if e.data.get("downs")}

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
