"""SCTP endpoints over the kernel's stack, bound to all their addresses.

Sockets are pysctp one-to-one sockets created inside the node's network
namespace. pysctp binds, connects, lists addresses and subscribes to
notifications; sending, receiving, path info, status and the primary go
through :mod:`lab.sctp.sockopt` on the underlying socket, around pysctp's
known defects (see docs/pysctp.md): PPIDs are sent and received in the right
byte order, and a SEND_FAILED notification is parsed without decoding its
payload. Payloads stay ASCII all the same, and NODELAY is set so each message
leaves at once.

Each endpoint runs one receive thread that blocks in select() on its socket
and a wake-up pipe. Every notification becomes an event in the shared
:class:`~lab.events.EventLog`; every application-level error (send error,
COMM_LOST, CANT_STR_ASSOC, SEND_FAILED, unexpected EOF, a malformed message)
becomes an ``error`` event. Nothing is swallowed.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address
from typing import Callable, Sequence

import sctp

from lab.errors import EndpointError
from lab.events import EventKind, EventLog
from lab.kernel.network import Network
from lab.sctp import sockopt
from lab.sctp.addresses import canonical
from lab.sctp.messages import Notification
from lab.sctp.structs import PeerAddrInfo
from lab.sctp.traffic import Arrival, decode, encode

__all__ = ["Endpoint", "Server", "Client", "IPAddress"]

IPAddress = IPv4Address | IPv6Address
_MAX_MESSAGE = 65536


def _family(addresses: Sequence[IPAddress]) -> int:
    return socket.AF_INET6 if any(a.version == 6 for a in addresses) else socket.AF_INET


class Endpoint:
    """What client and server share: socket set-up, notifications, path info."""

    side = "endpoint"

    def __init__(self, net: Network, node: str, log: EventLog) -> None:
        self.net, self.node, self.log = net, node, log
        self.addresses: list[IPAddress] = net.addresses(node)
        self.family = _family(self.addresses)
        self.sock: sctp.sctpsocket_tcp | None = None
        self.port = 0
        self.closing = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None

    def _new_socket(self) -> sctp.sctpsocket_tcp:
        with self.net.entered(self.node):
            sock = sctp.sctpsocket_tcp(self.family)
        self._subscribe(sock)
        return sock

    @staticmethod
    def _subscribe(sock: sctp.sctpsocket_tcp) -> None:
        events = sock.events
        events.association = True
        events.address = True
        events.send_failure = True
        events.peer_error = True
        events.shutdown = True
        events.flush()
        sock.set_nodelay(True)

    def error(self, detail: str, **data: object) -> None:
        """Record an application-level error."""
        self.log.add(self.side, EventKind.ERROR, detail, **data)

    def _socket(self) -> socket.socket:
        """The association's socket under pysctp's wrapper, for :mod:`lab.sctp.sockopt`."""
        if self.sock is None:
            raise EndpointError(f"{self.side} has no association yet")
        raw: socket.socket = self.sock.sock()
        return raw

    def path_info(self, peer: IPAddress | str) -> PeerAddrInfo:
        """The kernel's view of the path to one peer address (SCTP_GET_PEER_ADDR_INFO)."""
        info = sockopt.peer_addr_info(self._socket(), 0, str(peer), self.peer_port)
        return replace(info, address=canonical(info.address))

    @property
    def peer_port(self) -> int:
        raise NotImplementedError

    def primary(self) -> str:
        """The association's primary peer address (SCTP_STATUS; not necessarily the active path)."""
        return canonical(sockopt.status(self._socket()).primary.address)

    def peer_addresses(self) -> list[str]:
        """Peer addresses the association knows: learned from INIT (server) or INIT-ACK (client)."""
        assert self.sock is not None
        return [canonical(addr[0]) for addr in self.sock.getpaddrs(0)]

    def _handle_notification(self, note: Notification) -> None:
        name = note.state_name
        if note.kind == "ASSOC_CHANGE":
            self.log.add(self.side, EventKind.ASSOC, str(name), state=name, error=note.error)
            if name in ("COMM_LOST", "CANT_STR_ASSOC", "RESTART"):
                self.error(f"association change {name} (error {note.error})")
        elif note.kind == "PEER_ADDR_CHANGE":
            address = canonical(str(note.address))
            self.log.add(self.side, EventKind.PADDR, f"{address} {name}", address=address, state=name)
        elif note.kind in ("SEND_FAILED", "SEND_FAILED_EVENT"):
            try:
                seq: int | None = decode(note.payload or b"")[0]
            except ValueError:
                seq = None
            self.error(f"SEND_FAILED (error {note.error}) for message {seq}", seq=seq)
        elif note.kind == "SHUTDOWN_EVENT":
            self.log.add(self.side, EventKind.SHUTDOWN, "peer shut down")
        elif note.kind == "REMOTE_ERROR":
            self.error(f"peer reported an operation error {note.error}")
        else:
            self.log.add(self.side, EventKind.NOTIFICATION, note.kind)

    def _receive(self, sock: socket.socket) -> None:
        """Read data and notifications until closed, woken, or EOF."""
        while True:
            ready, _, _ = select.select([sock.fileno(), self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                got = sockopt.receive(sock, _MAX_MESSAGE)
            except (OSError, sockopt.SockoptError) as err:
                if not self.closing.is_set():
                    self.error(f"receive failed: {err}")
                return
            if got.notification is not None:
                self._handle_notification(got.notification)
            elif got.eof:
                if not self.closing.is_set():
                    self.error("unexpected EOF: the peer closed the association")
                self.log.add(self.side, EventKind.EOF, "association closed")
                return
            else:
                self._on_data(got.address[0] if got.address else "unknown", got.data)

    def _on_data(self, fromaddr: str, msg: bytes) -> None:
        self.error(f"unexpected data from {fromaddr}")

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        def run() -> None:
            try:
                target()
            finally:
                self.log.notify()  # waiters on finished() re-check

        self._thread = threading.Thread(target=run, name=f"{self.side}-{name}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the receive thread, then close the socket (graceful SHUTDOWN)."""
        self.closing.set()
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join()
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError as err:
                self.error(f"close failed: {err}")
        os.close(self._wake_r)
        os.close(self._wake_w)

    def finished(self) -> bool:
        """True once the receive thread has ended (EOF, error or close)."""
        return self._thread is not None and not self._thread.is_alive()


class Server(Endpoint):
    """Listens on all its addresses (bindx); checks every message it receives."""

    side = "server"

    def __init__(self, net: Network, node: str, log: EventLog, port: int, *, foreign: bool = False) -> None:
        super().__init__(net, node, log)
        self.port = port
        #: the client is not the lab's: its messages are counted per peer address, not decoded
        self.foreign = foreign
        self.received = 0
        self.arrivals: list[Arrival] = []
        self._client_port = 0
        self.listener = self._new_socket()
        try:
            self.listener.bindx([(str(a), port) for a in self.addresses])
            self.listener.listen(1)
        except OSError as err:
            self.listener.close()
            raise EndpointError(f"server in {net.netns(node)} cannot listen on {self.addresses} port {port}: {err}") from err
        self._start_thread(self._serve, "receive")

    @property
    def peer_port(self) -> int:
        return self._client_port

    def _serve(self) -> None:
        ready, _, _ = select.select([self.listener.fileno(), self._wake_r], [], [])
        if self._wake_r in ready:
            return
        conn, peer = self.listener.accept()
        self._subscribe(conn)
        self._client_port = peer[1]
        self.sock = conn
        self.log.add(self.side, EventKind.ACCEPTED, f"association from {peer[0]} port {peer[1]}")
        self._receive(self._socket())

    def _on_data(self, fromaddr: str, msg: bytes) -> None:
        now = time.monotonic()
        peer = canonical(fromaddr)
        self.received += 1
        if self.foreign:
            if self.arrivals[-1:] and self.arrivals[-1].peer == peer:
                return
            seq, sent_at = self.received, now  # one arrival per change of peer address
        else:
            try:
                seq, sent_at = decode(msg)
            except ValueError as err:
                self.error(f"malformed message from {fromaddr}: {err}")
                return
        arrival = Arrival(seq=seq, sent_at=sent_at, received_at=now, peer=peer)
        previous = self.arrivals[-1].peer if self.arrivals else None
        self.arrivals.append(arrival)
        if peer != previous:
            self.log.add(self.side, EventKind.DATA_PATH, f"messages now arrive from {peer}", peer=peer, seq=seq, previous=previous)
        self.log.notify()

    def close(self) -> None:
        super().close()
        self.listener.close()


class Client(Endpoint):
    """Binds all its addresses, connects to all the server's, sends numbered messages."""

    side = "client"

    def __init__(self, net: Network, node: str, log: EventLog, server_addresses: Sequence[IPAddress], port: int) -> None:
        super().__init__(net, node, log)
        self.server_addresses = list(server_addresses)
        self.server_port = port
        self.sent = 0
        self.rate = 0.0
        self._sender: threading.Thread | None = None
        self._stop_sending = threading.Event()
        self.sock = self._new_socket()
        try:
            self.sock.bindx([(str(a), 0) for a in self.addresses])
            self.sock.connectx([(str(a), port) for a in self.server_addresses])
        except OSError as err:
            self.sock.close()
            raise EndpointError(
                f"client in {net.netns(node)} cannot connect from {self.addresses} to {self.server_addresses} port {port}: {err}"
            ) from err
        self._start_thread(lambda: self._receive(self._socket()), "receive")

    @property
    def peer_port(self) -> int:
        return self.server_port

    def start_sending(self, *, rate: float, size: int, streams: int = 1, ppid: int = 0) -> None:
        """Send one message every 1/rate s until :meth:`stop_sending`: message n on stream n % streams."""
        self.rate = rate
        self._sender = threading.Thread(target=self._send_loop, args=(rate, size, streams, ppid), name="client-send",
                                        daemon=True)
        self._sender.start()

    def _send_loop(self, rate: float, size: int, streams: int, ppid: int) -> None:
        out = self._socket()
        interval = 1.0 / rate
        start = time.monotonic()
        while not self._stop_sending.wait(max(0.0, start + self.sent * interval - time.monotonic())):
            try:
                sockopt.send(out, encode(self.sent, time.monotonic(), size), ppid=ppid, stream=self.sent % streams)
            except (OSError, sockopt.SockoptError) as err:
                self.error(f"send of message {self.sent} failed: {err}", seq=self.sent)
                return
            self.sent += 1

    def set_primary(self, peer: IPAddress | str) -> None:
        """Make ``peer`` (one of the server's addresses) the primary: new data goes there (SCTP_PRIMARY_ADDR)."""
        sockopt.set_primary(self._socket(), 0, str(peer), self.server_port)

    def stop_sending(self) -> int:
        """Stop the sender; return how many messages were sent."""
        self._stop_sending.set()
        if self._sender is not None:
            self._sender.join(timeout=10)
        return self.sent
