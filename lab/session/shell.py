"""A shell (or one command) in a lab node's network namespace, over a conversation.

The service side (:func:`serve_shell`) runs the command on a pseudo-terminal
inside the namespace; the command side (:func:`run_shell`) puts the user's
terminal in raw mode and copies bytes both ways, window size changes
included. Messages: ``{"data": BASE64}`` both ways, ``{"resize": [rows, cols]}``
and ``{"eof": true}`` to the shell, ``{"exit": STATUS, "done": true}`` at the end.
"""

from __future__ import annotations

import base64
import fcntl
import os
import pty
import shutil
import signal
import struct
import termios
import threading
import tty
from typing import Sequence

from lab.errors import KernelError, LabError
from lab.kernel.netns import enter
from lab.session.channel import Conversation, Message

__all__ = ["serve_shell", "run_shell", "stream", "default_shell"]


def default_shell(node: str) -> tuple[list[str], dict[str, str]]:
    """An interactive shell whose prompt names the node."""
    env = {**os.environ, "PS1": f"sctplab:{node} \\w# ", "SCTPLAB_NODE": node}
    if shutil.which("bash"):
        return ["bash", "--norc", "-i"], env
    return ["sh", "-i"], env


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _exec_in(netns: str, argv: Sequence[str], env: dict[str, str]) -> None:
    """In the forked child: enter the namespace and become ``argv``; never returns."""
    try:
        enter(netns)
    except KernelError as err:
        os.write(2, f"sctplab: {err}\r\n".encode())
        os._exit(126)
    try:
        os.execvpe(argv[0], list(argv), env)
    except OSError as err:
        os.write(2, f"sctplab: cannot run {argv[0]}: {err.strerror}\r\n".encode())
    finally:
        os._exit(127)


def serve_shell(conversation: Conversation, netns: str, request: Message) -> None:
    """Run the request's ``argv`` (default: a shell) in ``netns`` on a pseudo-terminal."""
    node = str(request.get("node"))
    argv, env = default_shell(node)
    if request.get("argv"):
        argv = [str(a) for a in request["argv"]]
    pid, master = pty.fork()
    if pid == 0:
        _exec_in(netns, argv, env)
    try:
        _set_size(master, int(request.get("rows") or 24), int(request.get("cols") or 80))
        conversation.send({"ok": True, "started": True})

        def output() -> None:
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the command and everything it started have closed the terminal
                    chunk = b""
                if not chunk:
                    return
                conversation.send({"data": base64.b64encode(chunk).decode()})

        reader = threading.Thread(target=output, name="shell-output", daemon=True)
        reader.start()
        inputs = threading.Thread(target=_input, args=(conversation, master, pid), name="shell-input", daemon=True)
        inputs.start()
        _, status = os.waitpid(pid, 0)
        reader.join(timeout=2)
        conversation.send({"exit": os.waitstatus_to_exitcode(status), "done": True})
    finally:
        os.close(master)


def _input(conversation: Conversation, master: int, pid: int) -> None:
    while (message := conversation.receive()) is not None:
        if "data" in message:
            os.write(master, base64.b64decode(message["data"]))
        elif "resize" in message:
            rows, cols = message["resize"]
            _set_size(master, int(rows), int(cols))
            os.kill(pid, signal.SIGWINCH)
        elif message.get("eof"):
            os.write(master, b"\x04")
    try:  # the user went away: hang up the terminal
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        pass


def run_shell(conversation: Conversation, node: str, argv: Sequence[str]) -> int:
    """Connect this terminal to a shell (or ``argv``) in ``node``; return its exit status."""
    size = shutil.get_terminal_size()
    request = {"op": "shell", "node": node, "argv": list(argv), "rows": size.lines, "cols": size.columns}
    return stream(conversation, request, raw=True, forward_input=True)


def stream(conversation: Conversation, request: Message, *, raw: bool, forward_input: bool) -> int:
    """Send ``request``; copy the ``data`` that comes back to stdout until ``exit``; return it.

    ``raw`` puts this terminal (if stdin is one) in raw mode, so every key
    goes to the other side as typed; ``forward_input`` sends what stdin reads.
    """
    conversation.send(request)
    first = conversation.receive()
    if first is None:
        raise LabError(f"the lab ended the conversation before {request.get('op')!r} started")
    if not first.get("ok"):
        raise LabError(str(first.get("error")))
    interactive = raw and os.isatty(0)
    saved = termios.tcgetattr(0) if interactive else None
    previous = None
    if interactive:
        tty.setraw(0, termios.TCSANOW)

        def resized(*_: object) -> None:
            now = shutil.get_terminal_size()
            conversation.send({"resize": [now.lines, now.columns]})

        previous = signal.signal(signal.SIGWINCH, resized)
    if forward_input:
        threading.Thread(target=_forward_stdin, args=(conversation,), name="stdin", daemon=True).start()
    translate = not os.isatty(1)
    try:
        while (message := conversation.receive()) is not None:
            if "data" in message:
                data = base64.b64decode(message["data"])
                os.write(1, data.replace(b"\r\n", b"\n") if translate else data)
            if "exit" in message:
                return int(message["exit"])
            if message.get("done"):
                raise LabError(str(message.get("error") or "the lab ended without an exit status"))
        raise LabError(f"the lab ended the conversation of {request.get('op')!r} without its exit status")
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        if previous is not None:
            signal.signal(signal.SIGWINCH, previous)


def _forward_stdin(conversation: Conversation) -> None:
    try:
        while True:
            chunk = os.read(0, 4096)
            if not chunk:
                conversation.send({"eof": True})
                return
            conversation.send({"data": base64.b64encode(chunk).decode()})
    except (OSError, ValueError):
        pass
