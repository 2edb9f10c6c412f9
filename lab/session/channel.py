"""JSON lines between the commands and the lab service.

Every message is one JSON object on one line. A command opens a
conversation (a connection to the lab's UNIX socket), sends a request such
as ``{"op": "status"}`` and reads replies until one has ``"done": true``.

When the service runs in a guest, all conversations share one console line:
each message travels as a frame ``{"ch": N, "m": MESSAGE}`` and
``{"ch": N, "end": true}`` ends conversation ``N``. The guest's side says
``{"hello": true}`` once its line is raw; nothing is sent before that, so the
line's echo in cooked mode can never be read back as a reply.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
from typing import Any, Callable, Iterator, Protocol

from lab.errors import LabError

__all__ = ["Message", "Conversation", "SocketConversation", "Mux", "encode", "decode", "read_lines", "FrameWriter"]

Message = dict[str, Any]


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> Message:
    try:
        value = json.loads(line)
    except ValueError as err:
        raise LabError(f"unreadable message from the lab: {line[:200]!r}") from err
    if not isinstance(value, dict):
        raise LabError(f"unreadable message from the lab: {line[:200]!r}")
    return value


class Conversation(Protocol):
    """One request and its replies (or a shell's stream of messages)."""

    def receive(self) -> Message | None:
        """The next message, or None once the other side has ended."""

    def send(self, message: Message) -> None: ...

    def close(self) -> None: ...


class SocketConversation:
    """A conversation over a connected stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._reader = sock.makefile("rb")
        self._lock = threading.Lock()

    def receive(self) -> Message | None:
        try:
            line = self._reader.readline()
        except OSError:
            return None
        return decode(line) if line else None

    def send(self, message: Message) -> None:
        with self._lock:
            self.sock.sendall(encode(message))

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._reader.close()
        self.sock.close()

    def replies(self) -> Iterator[Message]:
        """Messages until one says ``done`` (included); a lab that goes away is an error."""
        while True:
            message = self.receive()
            if message is None:
                raise LabError("the lab ended the conversation without an answer (see its log: sctplab status --log)")
            yield message
            if message.get("done"):
                return


class FrameWriter:
    """Writes whole messages to a file descriptor shared by threads (a console line)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()

    def write(self, frame: Message) -> None:
        data = encode(frame)
        with self._lock:
            while data:
                data = data[os.write(self.fd, data):]


def read_lines(fd: int) -> Iterator[bytes]:
    """Lines from a file descriptor until it ends."""
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            return
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from lines


class _MuxConversation:
    def __init__(self, mux: Mux, channel: int) -> None:
        self.mux = mux
        self.channel = channel
        self.inbox: queue.Queue[Message | None] = queue.Queue()
        self.ended = False

    def receive(self) -> Message | None:
        return self.inbox.get()

    def send(self, message: Message) -> None:
        self.mux.write({"ch": self.channel, "m": message})

    def close(self) -> None:
        if not self.ended:
            self.ended = True
            self.mux.write({"ch": self.channel, "end": True})
            self.mux.forget(self.channel)


class Mux:
    """The guest's side of the shared console line: one conversation per channel."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write = FrameWriter(write_fd).write
        self._open: dict[int, _MuxConversation] = {}

    def forget(self, channel: int) -> None:
        self._open.pop(channel, None)

    def serve(self, handle: Callable[[Conversation], None]) -> None:
        """Say hello, then run ``handle`` in a thread for each new channel until the line ends."""
        self.write({"hello": True})
        for line in read_lines(self.read_fd):
            if not line.strip():
                continue
            frame = decode(line)
            channel = frame.get("ch")
            if not isinstance(channel, int):
                continue
            conversation = self._open.get(channel)
            if frame.get("end"):
                if conversation is not None:
                    conversation.ended = True
                    conversation.inbox.put(None)
                    self.forget(channel)
                continue
            if conversation is None:
                conversation = self._open[channel] = _MuxConversation(self, channel)
                threading.Thread(target=_run_and_close, args=(handle, conversation), name=f"channel-{channel}",
                                 daemon=True).start()
            conversation.inbox.put(frame.get("m"))
        for conversation in list(self._open.values()):
            conversation.inbox.put(None)


def _run_and_close(handle: Callable[[Conversation], None], conversation: Conversation) -> None:
    try:
        handle(conversation)
    finally:
        conversation.close()
