"""Faults at time offsets within a run.

``Schedule.at(offset, fault, hold=...)`` plans a fault; :meth:`Schedule.run`
applies and undoes each at its offsets from the start of ``run``, in the
calling thread (the lab's netlink sockets belong to the thread that opened
them; traffic and evidence run in threads of their own). Every fault still
applied when ``run`` ends, fails or is interrupted is undone and verified,
latest first, exactly as :func:`~lab.faults.catalogue.inject` does.
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass

from lab.errors import ConfigError
from lab.events import EventLog
from lab.faults.catalogue import Fault, inject
from lab.kernel.network import Network

__all__ = ["Schedule", "Planned"]


@dataclass(frozen=True)
class Planned:
    """A fault applied at ``offset`` s and undone ``hold`` s later (``None``: at the end of the run)."""

    offset: float
    fault: Fault
    hold: float | None = None


class Schedule:
    """A plan of faults at offsets; :meth:`run` carries it out."""

    def __init__(self, net: Network, *, log: EventLog | None = None) -> None:
        self.net, self.log = net, log
        self.planned: list[Planned] = []
        self.cancel = threading.Event()

    def at(self, offset: float, fault: Fault, *, hold: float | None = None) -> Schedule:
        if offset < 0 or (hold is not None and hold <= 0):
            raise ConfigError(f"a scheduled fault needs offset >= 0 and hold > 0 (got {offset}, {hold})")
        self.planned.append(Planned(offset, fault, hold))
        return self

    def run(self, *, until: float | None = None) -> float:
        """Carry out the plan; return the monotonic time it started. Ends at ``until`` s (default: the last step)."""
        steps: list[tuple[float, int, Planned]] = []  # (when, 0 = undo first / 1 = apply, planned)
        for planned in self.planned:
            steps.append((planned.offset, 1, planned))
            if planned.hold is not None:
                steps.append((planned.offset + planned.hold, 0, planned))
        steps.sort(key=lambda step: (step[0], step[1]))
        end = max([until or 0.0, *(when for when, _, _ in steps)])
        start = time.monotonic()
        with ExitStack() as applied:
            undo: dict[int, ExitStack] = {}
            for when, kind, planned in steps:
                if self.cancel.wait(max(0.0, start + when - time.monotonic())):
                    break
                if kind == 1:
                    own = ExitStack()
                    own.enter_context(inject(self.net, planned.fault, log=self.log))
                    undo[id(planned)] = own
                    applied.callback(own.close)
                else:
                    undo.pop(id(planned)).close()
            self.cancel.wait(max(0.0, start + end - time.monotonic()))
        return start
