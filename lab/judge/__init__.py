"""The one judge: expectations are functions over a run's evidence that return a check.

Each function takes the :class:`~lab.evidence.run.Evidence` (or the delivery
report) and returns a :class:`~lab.report.model.Check`: passed or not, what
was expected (with the timers behind it), what was seen, and where the
evidence is. The kernel tests :func:`expect` them; a scenario run collects
them into its report (:mod:`lab.scenario.judge`). The wire and kernel checks
use only the evidence, never the lab's own endpoints, so they judge any SCTP
application. :func:`find` goes further for a third-party stack: it names the
known multihoming misconfigurations its captures show (:data:`FINDINGS`).
"""

from lab.judge.application import arrived_from, counted, delivery, no_application_error, stall_within
from lab.judge.check import ExpectationError, expect
from lab.judge.findings import FINDINGS, Finding, FindingKind, find
from lab.judge.findings import find as find_findings  # its name in the package's public API (lab)
from lab.judge.kernel import association_lost, kernel_reported, path_state_seen
from lab.judge.wire import (captures_complete, data_moved, every_peer_address_heartbeated, init_advertised, no_abort,
                            no_data, wire_stall_within)

__all__ = [
    "ExpectationError",
    "FINDINGS",
    "Finding",
    "FindingKind",
    "arrived_from",
    "association_lost",
    "captures_complete",
    "counted",
    "data_moved",
    "delivery",
    "every_peer_address_heartbeated",
    "expect",
    "find",
    "find_findings",
    "init_advertised",
    "kernel_reported",
    "no_abort",
    "no_application_error",
    "no_data",
    "path_state_seen",
    "stall_within",
    "wire_stall_within",
]
