"""A client/server association over a built network, with its traffic.

``with endpoint_pair(net, profile=...) as pair:`` applies the timer profile to
both namespaces (before any socket exists: sockets copy the sysctls when they
are created), starts the server, connects the client, and waits until both
sides report COMM_UP. On exit the client stops, the association shuts down
gracefully and both sockets close.
"""

from __future__ import annotations

import functools
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Iterator

from lab.errors import WaitTimeout
from lab.events import Event, EventKind, EventLog
from lab.kernel import sysctl
from lab.kernel.network import Network
from lab.sctp.endpoint import Client, IPAddress, Server
from lab.model.profile import TimerProfile
from lab.model.protocol import ACTIVE, PATH_STATES
from lab.sctp.structs import PeerAddrInfo
from lab.sctp.traffic import DeliveryReport, analyse
from lab.timing import unreachable_window
from lab.wait import wait_until

__all__ = ["EndpointPair", "endpoint_pair", "DEFAULT_PORT"]

#: The lab's default SCTP port (3868 is Diameter's; any free port works).
DEFAULT_PORT = 3868


@dataclass
class EndpointPair:
    """The live association: both endpoints, the profile, the shared timeline."""

    net: Network
    profile: TimerProfile
    log: EventLog
    server: Server
    client: Client
    streams: int = 1  # of the running traffic: order is kept per stream

    @property
    def setup_timeout(self) -> float:
        """How long the kernel itself would keep trying a path (all its strikes, plus a heartbeat)."""
        return unreachable_window(self.profile, tick=0.01).high + self.profile.rto_initial / 1000

    def client_address(self, path: str) -> IPAddress:
        """The client's address on ``path`` (a path of the topology; on direct links, the link's name)."""
        return self.net.topology.path_addresses(path)[0]

    def server_address(self, path: str) -> IPAddress:
        """The server's address on ``path``."""
        return self.net.topology.path_addresses(path)[1]

    def wait_path_state(self, side: str, peer: IPAddress | str, state: int, *, timeout: float | None = None) -> PeerAddrInfo:
        """Wait until ``side`` (client/server) sees the path to ``peer`` in ``state``."""
        endpoint = self.client if side == "client" else self.server
        found: list[PeerAddrInfo] = []

        def reached() -> bool:
            info = endpoint.path_info(peer)
            found[:] = [info]
            return info.state == state

        wait_until(
            reached,
            timeout=timeout or self.setup_timeout,
            what=f"the {side}'s path to {peer} to become {PATH_STATES[state]} (now {found[0].state_name if found else 'unknown'})",
        )
        return found[0]

    def wait_all_paths_active(self) -> None:
        """Wait until every path of both sides is confirmed and ACTIVE."""
        for peer in self.server.addresses:
            self.wait_path_state("client", peer, ACTIVE)
        self.log.wait_until(lambda: self.server.sock is not None, timeout=self.setup_timeout, what="the server to accept")
        for peer in self.client.addresses:
            self.wait_path_state("server", peer, ACTIVE)

    def warm_up(self, *, rate: float, messages: int) -> int:
        """Get ready for a fault: every server address confirmed by the client, steady traffic
        at ``rate``, ``messages`` delivered. Return the primary path's RTO in ms, the R0 of the
        fault that follows (see :mod:`lab.timing`)."""
        for peer in self.server.addresses:
            self.wait_path_state("client", peer, ACTIVE)
        self.start_traffic(rate=rate)
        self.wait_delivered(messages)
        return self.client.path_info(self.client.primary()).rto_ms

    def start_traffic(self, *, rate: float = 100.0, size: int = 100, streams: int = 1, ppid: int = 0) -> None:
        """The client starts sending numbered messages (message n on stream n % streams, with ``ppid``)."""
        self.streams = streams
        self.client.start_sending(rate=rate, size=size, streams=streams, ppid=ppid)

    def delivered(self) -> int:
        return len({a.seq for a in self.server.arrivals})

    def wait_delivered(self, count: int, *, timeout: float | None = None) -> None:
        """Wait until the server has received ``count`` distinct messages.

        The default timeout is the time the client needs to send the missing
        messages at its rate, plus :attr:`setup_timeout` for a path to fail.
        """
        if timeout is None:
            missing = max(0, count - self.client.sent)
            timeout = (missing / self.client.rate if self.client.rate else 0.0) + self.setup_timeout
        self.log.wait_until(
            lambda: self.delivered() >= count,
            timeout=timeout,
            what=lambda: f"{count} messages delivered to the server (delivered {self.delivered()}, sent {self.client.sent})",
        )

    def wait_arrival_from(self, peer: IPAddress | str, *, after_seq: int = -1, timeout: float) -> None:
        """Wait until a message with seq > ``after_seq`` arrives from client address ``peer``."""
        peer = str(peer)
        self.log.wait_until(
            lambda: any(a.peer == peer and a.seq > after_seq for a in self.server.arrivals[-200:]),
            timeout=timeout,
            what=f"a message after #{after_seq} to arrive from {peer}",
        )

    def close(self) -> None:
        """Stop sending and shut the association down gracefully.

        The server is told to expect the end first, so the EOF that follows the
        client's SHUTDOWN is not an application error; the client closes, and
        the server closes once its receive thread has seen the EOF.
        """
        self.client.stop_sending()
        self.server.closing.set()
        self.client.close()
        try:
            self.log.wait_until(self.server.finished, timeout=self.setup_timeout,
                                what="the server to see the association shut down")
        except WaitTimeout:
            pass  # an association that is already dead ends no more gracefully: close it anyway
        self.server.close()

    def stop_traffic(self) -> DeliveryReport:
        """Stop sending, wait for every sent message to arrive, and analyse the deliveries."""
        sent = self.client.stop_sending()
        self.wait_delivered(sent)
        return analyse(sent, list(self.server.arrivals), streams=self.streams)


def _is_comm_up(side: str, event: Event) -> bool:
    return event.side == side and event.kind == EventKind.ASSOC and event.detail == "COMM_UP"


@contextmanager
def endpoint_pair(
    net: Network,
    *,
    profile: TimerProfile,
    client: str = "client",
    server: str = "server",
    port: int = DEFAULT_PORT,
    log: EventLog | None = None,
) -> Iterator[EndpointPair]:
    """Start a multihomed server and client on ``net``; yield the :class:`EndpointPair`."""
    log = log or EventLog()
    for node in (client, server):
        sysctl.apply(net.netns(node), profile.sysctls())
    with ExitStack() as undo:
        srv = Server(net, server, log, port)
        undo.callback(srv.close)
        cli = Client(net, client, log, net.addresses(server), port)
        pair = EndpointPair(net, profile, log, srv, cli)
        undo.pop_all()  # from here on, pair.close() owns both endpoints
        undo.callback(pair.close)
        for side in ("client", "server"):
            log.wait_for(
                functools.partial(_is_comm_up, side),
                timeout=pair.setup_timeout,
                what=f"the {side} to report COMM_UP",
            )
        yield pair
