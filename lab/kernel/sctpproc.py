"""The kernel's own list of SCTP associations: ``/proc/net/sctp/assocs`` and ``remaddr``.

These files show every association of a network namespace, the lab's and
anyone else's (an application a user starts in a lab namespace), with each
remote address's path state as the kernel keeps it. Read them with
:func:`read_associations` from inside the namespace (this thread's view:
``/proc/thread-self/net``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lab.model.protocol import PATH_STATES

__all__ = ["RemoteAddress", "Association", "SCTP_STATES", "parse", "read_associations", "parse_endpoints",
           "read_endpoints", "socket_inodes"]

#: enum sctp_state (include/net/sctp/constants.h), the ``ST`` column of ``assocs``. SCTP_STATUS
#: reports these plus one (lab.sctp.structs.SSTAT_STATES).
SCTP_STATES = {
    0: "CLOSED", 1: "COOKIE_WAIT", 2: "COOKIE_ECHOED", 3: "ESTABLISHED", 4: "SHUTDOWN_PENDING",
    5: "SHUTDOWN_SENT", 6: "SHUTDOWN_RECEIVED", 7: "SHUTDOWN_ACK_SENT",
}

_PROC = Path("/proc/thread-self/net/sctp")


@dataclass(frozen=True)
class RemoteAddress:
    """One path of an association as the kernel sees it."""

    address: str
    state: str  # ACTIVE, PF, INACTIVE, UNCONFIRMED
    rto_s: float
    errors: int  # REM_ADDR_RTX: strikes counted against the path
    primary: bool
    max_retrans: int = 0  # MAX_PATH_RTX: the path's path_max_retrans, as the association uses it


@dataclass(frozen=True)
class Association:
    assoc_id: int
    state: str
    local_port: int
    peer_port: int
    local: tuple[str, ...]
    retransmits: int
    paths: tuple[RemoteAddress, ...]
    hb_interval_s: float = 0.0  # HBINT
    max_retrans: int = 0  # MAXRT: association_max_retrans, as the association uses it
    inode: int = 0  # INODE: the socket's inode, as /proc/<pid>/fd shows it (socket:[INODE]) in its owner


def _addresses(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Leading address tokens (a ``*`` marks the primary) and the rest."""
    out: list[str] = []
    while tokens and ("." in tokens[0] or ":" in tokens[0]):
        out.append(tokens.pop(0))
    return out, tokens


def parse(assocs: str, remaddr: str, *, tick: float) -> list[Association]:
    """Associations from the two files' text; RTOs (in jiffies there) become seconds with ``tick``."""
    paths: dict[int, list[tuple[str, int, int, int, int]]] = {}
    for line in remaddr.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        address, owner, _hb, rto, most, errors, _start, code = fields[:8]
        paths.setdefault(int(owner), []).append((address, int(rto), int(errors), int(code), int(most)))
    found: list[Association] = []
    for line in assocs.splitlines()[1:]:
        tokens = line.split()
        if "<->" not in tokens or len(tokens) < 13:
            continue
        arrow = tokens.index("<->")
        assoc_id, state = int(tokens[6]), int(tokens[4])
        local_port, peer_port = int(tokens[11]), int(tokens[12])
        local = [a.lstrip("*") for a in tokens[13:arrow]]
        remote, rest = _addresses(tokens[arrow + 1:])
        primary = {a.lstrip("*") for a in remote if a.startswith("*")}
        # HBINT INS OUTS MAXRT T1X T2X RTXC ...
        retransmits = int(rest[6]) if len(rest) > 6 else 0
        hb_interval = int(rest[0]) * tick if rest else 0.0
        max_retrans = int(rest[3]) if len(rest) > 3 else 0
        found.append(Association(
            assoc_id=assoc_id,
            state=SCTP_STATES.get(state, str(state)),
            local_port=local_port,
            peer_port=peer_port,
            local=tuple(local),
            retransmits=retransmits,
            paths=tuple(
                RemoteAddress(address, PATH_STATES.get(code, str(code)), rto * tick, errors, address in primary, most)
                for address, rto, errors, code, most in paths.get(assoc_id, [])
            ),
            hb_interval_s=hb_interval,
            max_retrans=max_retrans,
            inode=int(tokens[10]) if tokens[10].isdigit() else 0,
        ))
    return found


def read_associations(*, tick: float) -> list[Association]:
    """This thread's namespace's associations (none if SCTP is not loaded)."""
    try:
        assocs = (_PROC / "assocs").read_text()
        remaddr = (_PROC / "remaddr").read_text()
    except FileNotFoundError:
        return []
    return parse(assocs, remaddr, tick=tick)


def parse_endpoints(eps: str) -> dict[int, tuple[str, ...]]:
    """Local port -> local addresses of each endpoint in ``eps`` (``/proc/net/sctp/eps``)."""
    found: dict[int, tuple[str, ...]] = {}
    for line in eps.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8 or not fields[5].isdigit():
            continue
        found[int(fields[5])] = tuple(a.lstrip("*") for a in fields[8:])
    return found


def read_endpoints() -> dict[int, tuple[str, ...]]:
    """This thread's namespace's SCTP endpoints (bound sockets): local port -> local addresses."""
    try:
        return parse_endpoints((_PROC / "eps").read_text())
    except FileNotFoundError:
        return {}


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds open (empty if it is gone or not ours to read)."""
    found: set[int] = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found
