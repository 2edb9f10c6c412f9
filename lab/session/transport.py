"""The lab service's requests, and the lines they come by: a UNIX socket, or a guest console line.

Each conversation (:mod:`lab.session.channel`) carries one request, a JSON
object; the replies end with ``"done": true``. Kernel work runs in the lab's
main thread (:meth:`lab.session.running.RunningLab.in_main`):

- ``{"op": "ready"}``: waits until the lab is built and the association is up.
- ``{"op": "status"}``: a snapshot (:class:`lab.session.status.LabStatus`, as its JSON).
- ``{"op": "fail", "fault": {...}}``: a fault as a scenario file writes it
  (:mod:`lab.model.faultspec`), applied with :func:`lab.faults.inject`.
- ``{"op": "impair", "fault": {...}}``: an ``impair`` fault; changes the
  impairment already set on that link and direction, if any.
- ``{"op": "restore", "link": L}``: undoes the faults on ``L`` (all if null),
  last applied first, each verified by its snapshot.
- ``{"op": "shell", ...}``: a shell in a node's namespace (:mod:`lab.session.shell`).
- ``{"op": "run", "node", "argv": [ARG], "name": NAME or null, "cwd": DIR or null}``:
  starts a process in the node's namespace (:mod:`lab.session.processes`);
  answers ``{"process": {...}}`` (a :class:`lab.session.status.ProcessStatus`).
- ``{"op": "ps"}``: ``{"processes": [{...}]}``, every process started, in start order.
- ``{"op": "stop", "name", "signal": "SIGTERM", "grace": SECONDS}``: sends the
  signal to the process's group, SIGKILL after the grace period (the waiting
  happens in the request's thread); answers ``{"process": {...}}`` as it ended.
- ``{"op": "replay", "rows", "cols", "color", "live", "step"}``: only for a lab
  started with a scenario (``sctplab replay --keep``): runs it on the lab's
  network first, its live view streamed as ``{"data": BASE64}`` messages
  (``{"data": ...}`` from the command is the ``--step`` Enter), then
  ``{"exit": 0 or 1, "done": true}``; the lab's own association starts after it.
- ``{"op": "down"}``: stops every process (last started first), restores every
  fault, closes the association, removes the network.
"""

from __future__ import annotations

import base64
import os
import socket
import termios
import threading
import tty
from pathlib import Path
from typing import IO, cast

from lab.errors import LabError
from lab.session.channel import Conversation, Message, Mux, SocketConversation
from lab.session.processes import DEFAULT_GRACE, DEFAULT_SIGNAL, check_grace, parse_signal, run_request
from lab.session.running import RunningLab

__all__ = ["Requests", "serve_socket", "serve_console"]


class Requests:
    """Answers the requests to one lab, a conversation each (:meth:`handle`, from any thread)."""

    def __init__(self, lab: RunningLab) -> None:
        self.lab = lab

    def handle(self, conversation: Conversation) -> None:
        """Answer one conversation's request."""
        request = conversation.receive()
        if request is None:
            return
        op = request.get("op")
        try:
            if op == "shell":
                from lab.session.shell import serve_shell

                self.lab.wait_ready()
                serve_shell(conversation, self.lab.netns(request.get("node")), request)
                return
            answer = self._answer(op, request, conversation)
        except LabError as err:
            answer = {"ok": False, "error": str(err)}
        except Exception as err:  # a bug must not kill the service: report it to the caller
            answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        conversation.send({**answer, "done": True})
        if op == "down":
            self.lab.replied.set()

    def _answer(self, op: object, request: Message, conversation: Conversation) -> Message:
        lab = self.lab
        if op == "ready":
            lab.wait_ready()
            return {"ok": True, "status": lab.in_main(lab.snapshot).to_json()}
        if op == "down":
            return {"ok": True, "message": lab.go_down()}
        if op == "replay":
            if not lab.scenario_pending:
                raise LabError("this lab has no scenario left to replay (start one with sctplab replay --keep)")
            return {"ok": True, **lab.in_main(lambda: _replay(lab, conversation, request))}
        lab.wait_ready()
        if op == "status":
            return {"ok": True, "status": lab.in_main(lab.snapshot).to_json()}
        if op in ("fail", "impair"):
            return {"ok": True, "message": lab.in_main(lambda: lab.fail(request.get("fault"), impair=op == "impair"))}
        if op == "restore":
            link = request.get("link")
            return {"ok": True, "message": lab.in_main(lambda: lab.restore(link if isinstance(link, str) else None))}
        if op == "run":
            node, argv, name, cwd = run_request(request)
            return {"ok": True, "process": lab.in_main(lambda: lab.start_process(node, argv, name=name, cwd=cwd)
                                                       ).to_json()}
        if op == "ps":
            return {"ok": True, "processes": [p.to_json() for p in lab.in_main(lab.processes.statuses)]}
        if op == "stop":
            signame = parse_signal(str(request.get("signal") or DEFAULT_SIGNAL))
            grace = check_grace(request.get("grace", DEFAULT_GRACE))
            return {"ok": True, "process": lab.stop_process(str(request.get("name")), signame=signame,
                                                            grace=grace).to_json()}
        raise LabError(f"unknown request {op!r}")


def _replay(lab: RunningLab, conversation: Conversation, request: Message) -> Message:
    """(Main thread.) Run the lab's scenario on its network, the live view and verdict streamed to ``conversation``."""
    from rich.console import Console

    from lab.ui.replay import replay

    scenario, out = lab.take_scenario()
    conversation.send({"ok": True, "started": True})
    keys_r, keys_w = os.pipe()
    cancel = threading.Event()

    def keys() -> None:  # the user's Enter for --step; the end of the conversation cancels the run
        while (message := conversation.receive()) is not None:
            if "data" in message:
                os.write(keys_w, base64.b64decode(message["data"]))
        cancel.set()
        os.close(keys_w)

    threading.Thread(target=keys, name="replay-keys", daemon=True).start()
    console = Console(file=cast("IO[str]", _Stream(conversation)), force_terminal=True, highlight=False,
                      width=int(request.get("cols") or 100), height=int(request.get("rows") or 40),
                      color_system=request.get("color") or None)
    with os.fdopen(keys_r) as key_stream:
        passed = replay(scenario, console=console, folder=out, live=bool(request.get("live")),
                        step=bool(request.get("step")), net=lab.net, input_stream=key_stream, cancel=cancel)
    return {"exit": 0 if passed else 1}


class _Stream:
    """A text file whose writes go to a conversation as ``{"data": ...}`` messages."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    def write(self, text: str) -> int:
        if text:
            try:
                self.conversation.send({"data": base64.b64encode(text.encode()).decode()})
            except OSError:
                pass  # the viewer went away; the run goes on to its end (cancelled by keys())
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def serve_socket(path: Path, requests: Requests) -> None:
    """Listen on the UNIX socket ``path``; answer each connection in a thread of its own."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_converse, args=(requests, SocketConversation(conn)), daemon=True).start()

    threading.Thread(target=accept, name="accept", daemon=True).start()


def _converse(requests: Requests, conversation: Conversation) -> None:
    try:
        requests.handle(conversation)
    finally:
        conversation.close()


def serve_console(device: str, requests: Requests) -> None:
    """Answer the conversations multiplexed on the console line ``device`` (in a guest: the relay's other end)."""
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)
    mux = Mux(fd, fd)
    threading.Thread(target=mux.serve, args=(requests.handle,), name="console", daemon=True).start()
