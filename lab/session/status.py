"""What ``sctplab status`` shows, typed: a running lab's snapshot and its JSON.

The lab (:class:`lab.session.running.RunningLab`) takes a :class:`LabStatus`
in its main thread; the service sends :meth:`LabStatus.to_json` over the
control socket, and the commands read it back with :meth:`LabStatus.from_json`
to render it (:func:`lab.ui.status.render_status`) or to print the JSON
(``sctplab status --json``). The JSON, key for key::

    {"lab": {"tag", "topology", "file", "profile", "uptime", "namespaces": {NODE: NETNS}},
     "links": [{"name", "ends": {NODE: {"interface", "address", "state"}}}],
     "names": {ADDRESS: "NODE/LINK"},
     "faults": [{"number", "link", "what"}],
     "traffic": {"rate", "sent", "delivered", "per_peer": {ADDRESS: MSG_PER_S}, "errors": [DETAIL]},
     "associations": {NODE: [{"assoc_id", "state", "local_port", "peer_port", "local": [ADDRESS],
                              "retransmits", "paths": [{"address", "state", "rto_s", "errors", "primary"}]}]},
     "processes": [{"name", "node", "pid", "status", "returncode", "uptime", "command": [ARG], "log",
                    "associations": [ASSOC_ID]}],
     "events": ["   SECONDS  SIDE   KIND       DETAIL"]}

``processes`` are the ones ``sctplab run`` started, in start order (ended ones
too, until ``down``); ``sctplab ps --json`` prints the same list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Mapping

from lab.errors import LabError
from lab.kernel.sctpproc import Association, RemoteAddress

__all__ = ["LabStatus", "LabInfo", "LinkStatus", "LinkEnd", "FaultStatus", "TrafficStatus", "ProcessStatus",
           "RecentEvent", "RATE_WINDOW"]

#: Seconds over which the status's messages/s per client address are counted.
RATE_WINDOW = 2.0

#: The columns of an event line before its detail (see :meth:`RecentEvent.line`).
_EVENT_LINE = re.compile(r" *(?P<at>\S+)  (?P<side>\S+) +(?P<kind>\S+) ")
_SIDE_WIDTH, _KIND_WIDTH = 6, 10


@dataclass(frozen=True)
class LabInfo:
    """Which lab it is, since when, and where its nodes live."""

    tag: str
    topology: str  #: the topology's name
    file: str  #: the topology file
    profile: str  #: the timer profile, described
    uptime: float  #: seconds (to a tenth)
    namespaces: Mapping[str, str]  #: node -> its network namespace


@dataclass(frozen=True)
class LinkEnd:
    """A node's end of a link."""

    interface: str  #: the kernel's name of the interface
    address: str
    state: str  #: operational state: UP, DOWN, LOWERLAYERDOWN, ...


@dataclass(frozen=True)
class LinkStatus:
    """A link of the topology."""

    name: str
    ends: Mapping[str, LinkEnd]  #: node -> its end, end a first


@dataclass(frozen=True)
class FaultStatus:
    """A fault applied with ``sctplab fail`` or ``impair``."""

    number: int  #: ``#N`` in the messages, counted from 1 for the lab
    link: str
    what: str  #: the fault, described


@dataclass(frozen=True)
class TrafficStatus:
    """The lab's own traffic."""

    rate: float  #: msg/s asked for (0: idle)
    sent: int
    delivered: int  #: distinct messages
    per_peer: Mapping[str, float]  #: client address -> msg/s arriving now (over the last RATE_WINDOW s)
    errors: tuple[str, ...]  #: the last application errors


@dataclass(frozen=True)
class ProcessStatus:
    """A process ``sctplab run`` started in a node (:mod:`lab.session.processes`)."""

    name: str
    node: str
    pid: int
    status: str  #: ``running``, ``exit status N``, ``killed by SIGX`` (and why, if it outlived its grace period)
    returncode: int | None  #: None while it runs; negative: the signal that ended it
    uptime: float  #: seconds it has run (until it ended), to a tenth
    command: tuple[str, ...]  #: its argv
    log: str  #: its output (stdout and stderr), a file the commands read directly
    associations: tuple[int, ...] = ()  #: ids of the associations its sockets hold (in its node's namespace)

    @property
    def running(self) -> bool:
        return self.returncode is None

    def to_json(self) -> dict[str, Any]:
        plain: dict[str, Any] = _plain(self)
        return plain

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProcessStatus:
        """The process :meth:`to_json` wrote (KeyError, TypeError if ``data`` is not one)."""
        return cls(**{**data, "command": tuple(data["command"]),
                      "associations": tuple(data.get("associations", ()))})


@dataclass(frozen=True)
class RecentEvent:
    """One of the lab's last events."""

    at: float  #: seconds since the lab's timeline began, to the millisecond
    side: str  #: client, server or lab
    kind: str
    detail: str

    def line(self) -> str:
        """The event as the status shows it: ``SECONDS  SIDE   KIND       DETAIL`` in columns."""
        return f"{self.at:9.3f}  {self.side:<{_SIDE_WIDTH}} {self.kind:<{_KIND_WIDTH}} {self.detail}"

    @classmethod
    def parse(cls, line: str) -> RecentEvent:
        """The event :meth:`line` wrote (ValueError if ``line`` is not one)."""
        match = _EVENT_LINE.match(line)
        if match is None:
            raise ValueError(f"not an event line: {line!r}")
        kind = match["kind"]
        return cls(float(match["at"]), match["side"], kind, line[match.end() + max(0, _KIND_WIDTH - len(kind)):])


@dataclass(frozen=True)
class LabStatus:
    """A snapshot of a running lab: its links, the faults applied, its traffic, every association in every
    lab namespace (the kernel's view, :mod:`lab.kernel.sctpproc`), the processes ``sctplab run`` started
    and its last events. ``names`` says which
    node and link each link address belongs to."""

    lab: LabInfo
    links: tuple[LinkStatus, ...]
    names: Mapping[str, str]
    faults: tuple[FaultStatus, ...]
    traffic: TrafficStatus
    associations: Mapping[str, tuple[Association, ...]]
    processes: tuple[ProcessStatus, ...]
    events: tuple[RecentEvent, ...]

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON values (the keys in the module's description)."""
        plain: dict[str, Any] = _plain(self)
        return plain

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabStatus:
        """The snapshot :meth:`to_json` made; :class:`LabError` if ``data`` is not one."""
        try:
            lab, traffic = data["lab"], data["traffic"]
            return cls(
                lab=LabInfo(**{**lab, "namespaces": dict(lab["namespaces"])}),
                links=tuple(LinkStatus(link["name"], {node: LinkEnd(**end) for node, end in link["ends"].items()})
                            for link in data["links"]),
                names=dict(data["names"]),
                faults=tuple(FaultStatus(**fault) for fault in data["faults"]),
                traffic=TrafficStatus(**{**traffic, "per_peer": dict(traffic["per_peer"]),
                                         "errors": tuple(traffic["errors"])}),
                associations={node: tuple(_association(assoc) for assoc in assocs)
                              for node, assocs in data["associations"].items()},
                processes=tuple(ProcessStatus.from_json(process) for process in data["processes"]),
                events=tuple(RecentEvent.parse(line) for line in data["events"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise LabError(f"unreadable lab status ({type(err).__name__}: {err})") from err


def _association(data: Mapping[str, Any]) -> Association:
    return Association(**{**data, "local": tuple(data["local"]),
                          "paths": tuple(RemoteAddress(**path) for path in data["paths"])})


def _plain(value: Any) -> Any:
    """Dataclasses as dicts (field order), mappings as dicts, tuples as lists, events as their lines."""
    if isinstance(value, RecentEvent):
        return value.line()
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value
