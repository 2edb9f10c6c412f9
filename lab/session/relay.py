"""The host's half of a lab whose service runs in a guest.

``python -m lab.session.relay --tag T --socket PATH -- SERVICE ARGV...`` boots
a guest that runs the service with a console line for requests, listens on
the lab's UNIX socket, and carries each connection over that line as its own
channel (:class:`lab.session.channel.Mux` is the guest's side). It ends when
the guest does, removing the socket. SIGTERM or SIGINT ask the service to go
down; if it has not within :data:`DOWN_GRACE` seconds, the guest is killed.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Sequence

from lab.errors import GuestError
from lab.guest.uml import booted
from lab.session.channel import FrameWriter, decode, encode, read_lines

__all__ = ["main", "DOWN_GRACE"]

#: Seconds the service has to go down after SIGTERM before the guest is killed.
DOWN_GRACE = 60.0
_DOWN_CHANNEL = 0


class _Relay:
    def __init__(self, to_guest: int, from_guest: int) -> None:
        self.send = FrameWriter(to_guest).write
        self.from_guest = from_guest
        self.hello = threading.Event()
        self.gone = threading.Event()
        self._conns: dict[int, socket.socket] = {}
        self._ids = itertools.count(1)

    def from_guest_loop(self) -> None:
        for line in read_lines(self.from_guest):
            try:
                frame = decode(line)
            except Exception:
                continue  # console noise before the line went raw
            if frame.get("hello"):
                self.hello.set()
                continue
            conn = self._conns.get(frame.get("ch", -1))
            if conn is None:
                continue
            try:
                if frame.get("end"):
                    self._conns.pop(frame["ch"], None)
                    conn.shutdown(socket.SHUT_RDWR)
                    conn.close()
                else:
                    conn.sendall(encode(frame.get("m") or {}))
            except OSError:
                pass
        self.gone.set()
        for conn in list(self._conns.values()):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def serve(self, listener: socket.socket) -> None:
        while True:
            conn, _ = listener.accept()
            channel = next(self._ids)
            self._conns[channel] = conn
            threading.Thread(target=self._to_guest_loop, args=(conn, channel), daemon=True).start()

    def _to_guest_loop(self, conn: socket.socket, channel: int) -> None:
        while not self.hello.wait(1.0):
            if self.gone.is_set():
                conn.close()
                return
        try:
            with conn.makefile("rb") as reader:
                for line in reader:
                    self.send({"ch": channel, "m": decode(line)})
        except (OSError, ValueError):
            pass
        finally:
            if self._conns.pop(channel, None) is not None:  # not already ended by the guest
                self.send({"ch": channel, "end": True})
            conn.close()

    def ask_down(self) -> None:
        if self.hello.is_set():
            self.send({"ch": _DOWN_CHANNEL, "m": {"op": "down"}})


def _kill(proc: subprocess.Popen[bytes]) -> None:
    print(f"sctplab: the lab did not go down within {DOWN_GRACE:.0f} s; killing its guest", flush=True)
    os.killpg(proc.pid, signal.SIGKILL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.session.relay")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("service", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    service = args.service[1:] if args.service[:1] == ["--"] else args.service
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(args.socket))
    listener.listen(8)
    try:
        with booted(service, output=sys.stdout.fileno(), channels=1) as guest:
            relay = _Relay(*guest.channels[0])
            threading.Thread(target=relay.from_guest_loop, name="from-guest", daemon=True).start()
            threading.Thread(target=relay.serve, args=(listener,), name="accept", daemon=True).start()
            killer = threading.Timer(DOWN_GRACE, _kill, args=(guest.proc,))
            killer.daemon = True

            def down(*_: object) -> None:
                relay.ask_down()
                if not killer.is_alive():
                    killer.start()

            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, down)
            guest.proc.wait()
            killer.cancel()
            try:
                status: int = guest.status(None, None)
            except GuestError as err:
                print(f"sctplab: {err}", flush=True)
                return 1
            print(f"guest ended; service exit status {status}", flush=True)
            return status
    finally:
        listener.close()
        args.socket.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
