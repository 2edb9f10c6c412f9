"""Names of SCTP chunk types (RFC 9260) and of the kernel's path states and notification codes (RFC 6458, Linux)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PathStateName", "SCENARIO_PATH_STATES", "CHUNK_TYPES", "PATH_STATES", "PADDR_EVENTS", "ASSOC_EVENTS", "PF",
           "ACTIVE", "INACTIVE", "UNCONFIRMED"]

INACTIVE, PF, ACTIVE, UNCONFIRMED = 0, 1, 2, 3

#: spinfo_state, /proc/net/sctp/remaddr STATE
PATH_STATES = {INACTIVE: "INACTIVE", PF: "PF", ACTIVE: "ACTIVE", UNCONFIRMED: "UNCONFIRMED", 0xFFFF: "ACTIVE"}

#: SCTP_PEER_ADDR_CHANGE spc_state
PADDR_EVENTS = {
    0: "ADDR_AVAILABLE",
    1: "ADDR_UNREACHABLE",
    2: "ADDR_REMOVED",
    3: "ADDR_ADDED",
    4: "ADDR_MADE_PRIM",
    5: "ADDR_CONFIRMED",
    6: "ADDR_POTENTIALLY_FAILED",
}

#: SCTP_ASSOC_CHANGE sac_state
ASSOC_EVENTS = {0: "COMM_UP", 1: "COMM_LOST", 2: "RESTART", 3: "SHUTDOWN_COMP", 4: "CANT_STR_ASSOC"}

#: RFC 9260 chunk type codes a ``drop-chunks`` fault can match (the chunk type byte).
CHUNK_TYPES = {
    "DATA": 0,
    "INIT": 1,
    "INIT-ACK": 2,
    "SACK": 3,
    "HEARTBEAT": 4,
    "HEARTBEAT-ACK": 5,
    "ABORT": 6,
    "SHUTDOWN": 7,
    "COOKIE-ECHO": 10,
    "COOKIE-ACK": 11,
}


@dataclass(frozen=True)
class PathStateName:
    """A path state as a scenario names it, the kernel polls it, and (if it does) notifies it."""

    code: int  #: spinfo_state
    polled: str  #: its name in :data:`PATH_STATES`
    notified: str | None  #: the SCTP_PEER_ADDR_CHANGE a kernel sends on entering it (None: none)


#: Scenario path-state names (``path_states:``, ``wait:``) -> the kernel's.
SCENARIO_PATH_STATES: Mapping[str, PathStateName] = {
    "active": PathStateName(ACTIVE, "ACTIVE", "ADDR_AVAILABLE"),
    "pf": PathStateName(PF, "PF", "ADDR_POTENTIALLY_FAILED"),
    "unreachable": PathStateName(INACTIVE, "INACTIVE", "ADDR_UNREACHABLE"),
    "unconfirmed": PathStateName(UNCONFIRMED, "UNCONFIRMED", None),
}
