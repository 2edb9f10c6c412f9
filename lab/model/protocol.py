"""Names of SCTP chunk types (RFC 9260) and of the kernel's path states and notification codes (RFC 6458, Linux)."""

from __future__ import annotations

__all__ = ["CHUNK_TYPES", "PATH_STATES", "PADDR_EVENTS", "ASSOC_EVENTS", "PF", "ACTIVE", "INACTIVE", "UNCONFIRMED"]

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
