"""The lab service: builds a topology, runs the lab's association, answers requests.

It runs where the kernel work runs (this kernel, or a guest) until ``down``.
All kernel changes happen in its main thread, which built the network (so
every netlink socket stays in the thread that made it); conversation threads
hand their work to it and wait for the result. Requests (one JSON object,
replies end with ``"done": true``):

- ``{"op": "ready"}``: waits until the lab is built and the association is up.
- ``{"op": "status"}``: a snapshot (see :meth:`LabService.snapshot`).
- ``{"op": "fail", "fault": {...}}``: a fault as a scenario file writes it
  (:mod:`lab.model.faultspec`), applied with :func:`lab.faults.inject`.
- ``{"op": "impair", "fault": {...}}``: an ``impair`` fault; changes the
  impairment already set on that link and direction, if any.
- ``{"op": "restore", "link": L}``: undoes the faults on ``L`` (all if null),
  last applied first, each verified by its snapshot.
- ``{"op": "shell", ...}``: a shell in a node's namespace (:mod:`lab.session.shell`).
- ``{"op": "replay", "rows", "cols", "color", "live", "step"}``: only for a lab
  started with a scenario (``sctplab replay --keep``): runs it on the lab's
  network first, its live view streamed as ``{"data": BASE64}`` messages
  (``{"data": ...}`` from the command is the ``--step`` Enter), then
  ``{"exit": 0 or 1, "done": true}``; the lab's own association starts after it.
- ``{"op": "down"}``: restores every fault, closes the association, removes the network.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import os
import signal
import socket
import sys
import termios
import threading
import time
import tty
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Queue
from typing import IO, TYPE_CHECKING, Any, Callable, Sequence, TypeVar, cast

from pydantic import ValidationError

from lab.errors import LabError
from lab.events import EventLog
from lab.session.channel import Conversation, Message, Mux, SocketConversation

if TYPE_CHECKING:
    from lab.model.scenario import LoadedScenario
    from lab.model.profile import TimerProfile

__all__ = ["LabService", "main"]

T = TypeVar("T")

#: Seconds over which the status's messages/s per path are counted.
RATE_WINDOW = 2.0


@dataclass
class ActiveFault:
    number: int
    link: str
    kind: str
    fault: Any  # a lab.faults fault
    stack: ExitStack


class LabService:
    """One running lab; :meth:`run` in the main thread, :meth:`handle` per conversation."""

    def __init__(self, topology_file: Path, *, tag: str, profile: TimerProfile, rate: float,
                 scenario: LoadedScenario | None = None, out: Path | None = None) -> None:
        self.topology_file = topology_file
        self.tag = tag
        self.profile = profile
        self.rate = rate
        self.scenario = scenario
        self.out = out
        self._replayed = scenario is None
        self.started = time.time()
        self.log = EventLog()
        self.ready = threading.Event()
        self.failure: str | None = None
        self.finished = threading.Event()
        self.farewell: str = ""
        self.replied = threading.Event()
        self._jobs: Queue[tuple[Callable[[], Any], Future[Any]] | None] = Queue()
        self._faults: list[ActiveFault] = []
        self._numbers = itertools.count(1)
        self.net: Any = None
        self.pair: Any = None

    # -- the main thread --------------------------------------------------------------------------

    def run(self) -> int:
        """Build, serve until ``down``, tear down. Return the exit status."""
        from lab.kernel.network import build
        from lab.model.topology import load_topology
        from lab.sctp.pair import endpoint_pair

        status = 0
        try:
            topology = load_topology(self.topology_file)
            with build(topology, tag=self.tag) as net:
                self.net = net
                if not self._replayed and self._work(until=lambda: self._replayed):
                    return status  # down before the replay
                with endpoint_pair(net, profile=self.profile, log=self.log) as pair:
                    self.pair = pair
                    if self.rate > 0:
                        pair.start_traffic(rate=self.rate)
                    self.ready.set()
                    print(f"lab {self.tag} is up: {topology.name}", flush=True)
                    self._work()
                    restored = self._restore(None)
            self.farewell = f"{restored}; the association is closed and the network removed"
        except LabError as err:
            self.failure = self.failure or str(err)
            self.farewell = f"the lab failed: {err}"
            status = 1
        except BaseException as err:  # a bug: say it, and still tear down (the with blocks did)
            self.failure = self.failure or f"{type(err).__name__}: {err}"
            self.farewell = f"the lab failed: {self.failure}"
            status = 1
            raise
        finally:
            self.ready.set()
            self.finished.set()
            self._refuse_waiting_jobs()
            print(self.farewell or f"lab {self.tag} is down", flush=True)
            self.replied.wait(timeout=5)  # let the answer to "down" leave before we do
        return status

    def stop(self) -> None:
        """Go down once the current job is done (from any thread or a signal handler)."""
        self.replied.set()  # nobody waits for an answer
        self._jobs.put(None)

    def _work(self, until: Callable[[], bool] = lambda: False) -> bool:
        """Do the conversations' kernel work until ``down`` (True) or ``until()`` holds after a job (False)."""
        while (job := self._jobs.get()) is not None:
            work, future = job
            try:
                future.set_result(work())
            except BaseException as err:
                future.set_exception(err)
            if until():
                return False
        return True

    def _refuse_waiting_jobs(self) -> None:
        while not self._jobs.empty():
            job = self._jobs.get()
            if job is not None:
                job[1].set_exception(LabError(self.failure or "the lab went down"))

    def _in_main(self, work: Callable[[], T]) -> T:
        if self.finished.is_set():
            raise LabError("the lab is going down")
        future: Future[T] = Future()
        self._jobs.put((work, future))
        return future.result()

    # -- requests -----------------------------------------------------------------------------------

    def handle(self, conversation: Conversation) -> None:
        """Answer one conversation's request."""
        request = conversation.receive()
        if request is None:
            return
        op = request.get("op")
        try:
            if op == "shell":
                from lab.session.shell import serve_shell

                self._wait_ready()
                serve_shell(conversation, self.net.netns(self._node(request.get("node"))), request)
                return
            answer = self._answer(op, request, conversation)
        except LabError as err:
            answer = {"ok": False, "error": str(err)}
        except Exception as err:  # a bug must not kill the service: report it to the caller
            answer = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        conversation.send({**answer, "done": True})
        if op == "down":
            self.replied.set()

    def _answer(self, op: object, request: Message, conversation: Conversation) -> Message:
        if op == "ready":
            self._wait_ready()
            return {"ok": True, "status": self._in_main(self.snapshot)}
        if op == "down":
            self._jobs.put(None)
            self.finished.wait()
            return {"ok": True, "message": self.farewell}
        if op == "replay":
            if self._replayed:
                raise LabError("this lab has no scenario left to replay (start one with sctplab replay --keep)")
            return {"ok": True, **self._in_main(lambda: self._replay(conversation, request))}
        self._wait_ready()
        if op == "status":
            return {"ok": True, "status": self._in_main(self.snapshot)}
        if op in ("fail", "impair"):
            return {"ok": True, "message": self._in_main(lambda: self._fail(request.get("fault"), op == "impair"))}
        if op == "restore":
            link = request.get("link")
            return {"ok": True, "message": self._in_main(lambda: self._restore(link if isinstance(link, str) else None))}
        raise LabError(f"unknown request {op!r}")

    def _replay(self, conversation: Conversation, request: Message) -> Message:
        """Run the scenario on the lab's network, its live view and verdict streamed to ``conversation``."""
        from rich.console import Console

        from lab.ui.replay import replay

        assert self.scenario is not None and self.out is not None
        self._replayed = True
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
            passed = replay(self.scenario, console=console, folder=self.out, live=bool(request.get("live")),
                            step=bool(request.get("step")), net=self.net, input_stream=key_stream, cancel=cancel)
        return {"exit": 0 if passed else 1}

    def _wait_ready(self) -> None:
        self.ready.wait()
        if self.failure is not None:
            raise LabError(self.failure)

    def _node(self, node: object) -> str:
        nodes = list(self.net.topology.nodes)
        if node not in nodes:
            raise LabError(f"no node {node!r} in topology {self.net.topology.name} (nodes: {', '.join(nodes)})")
        return str(node)

    # -- faults (main thread) -------------------------------------------------------------------------

    def _fail(self, spec_data: object, impair: bool) -> str:
        from lab.faults import Impair, from_spec, inject
        from lab.model.faultspec import error_text, parse_fault
        from lab.model.yamlsource import KeyedValueError

        try:
            spec = parse_fault(spec_data)
        except (ValidationError, KeyedValueError, ValueError) as err:
            raise LabError(f"invalid fault: {error_text(err)}") from err
        self.net.topology.link(spec.link)
        fault = from_spec(spec, log=self.log)
        if impair and isinstance(fault, Impair):
            for active in self._faults:
                if isinstance(active.fault, Impair) and active.kind == "impair" and active.link == spec.link and active.fault.direction == fault.direction:
                    active.fault.update(fault.params)
                    self.log.add("lab", "impair", f"changed: {active.fault.describe()}", link=spec.link)
                    return f"#{active.number} now: {active.fault.describe()}"
        stack = ExitStack()
        stack.enter_context(inject(self.net, fault, log=self.log))
        active = ActiveFault(next(self._numbers), spec.link, spec.kind, fault, stack)
        self._faults.append(active)
        return f"#{active.number} applied: {fault.describe()}"

    def _restore(self, link: str | None) -> str:
        if link is not None:
            self.net.topology.link(link)
        chosen = [f for f in self._faults if link is None or f.link == link]
        if not chosen:
            return "nothing to restore" + (f" on {link}" if link else "")
        done: list[str] = []
        problems: list[str] = []
        for active in reversed(chosen):
            self._faults.remove(active)
            try:
                active.stack.close()
                done.append(f"#{active.number} restored: {active.fault.describe()}")
            except LabError as err:
                problems.append(f"#{active.number} ({active.fault.describe()}): {err}")
        if problems:
            raise LabError("restore failed: " + "; ".join(problems) + ("; " + "; ".join(done) if done else ""))
        return "\n".join(done)

    # -- status (main thread) ---------------------------------------------------------------------------

    def snapshot(self) -> Message:
        """What ``sctplab status`` shows: the lab, its links, faults, traffic and every association."""
        from lab.kernel.choice import kernel_tick
        from lab.kernel.sctpproc import read_associations

        net, topology = self.net, self.net.topology
        tick = kernel_tick()
        names: dict[str, str] = {}
        links = []
        for name, link in topology.links.items():
            ends = {}
            for node in (link.a.node, link.b.node):
                names[str(net.address(name, node))] = f"{node}/{name}"
                ends[node] = {"interface": net.ifname(name, node), "address": str(net.address(name, node)),
                              "state": net.operstate(name, node)}
            links.append({"name": name, "ends": ends})
        associations = {}
        for node in topology.nodes:
            with net.entered(node):
                associations[node] = [asdict(a) for a in read_associations(tick=tick)]
        now = time.monotonic()
        return {
            "lab": {"tag": self.tag, "topology": topology.name, "file": str(self.topology_file),
                    "profile": self.profile.describe(), "uptime": round(time.time() - self.started, 1),
                    "namespaces": {node: net.netns(node) for node in topology.nodes}},
            "links": links,
            "names": names,
            "faults": [{"number": f.number, "link": f.link, "what": f.fault.describe()} for f in self._faults],
            "traffic": self._traffic(now),
            "associations": associations,
            "events": [f"{e.at - self.log.start:9.3f}  {e.side:<6} {e.kind:<10} {e.detail}"
                       for e in self.log.events()[-8:]],
        }

    def _traffic(self, now: float) -> Message:
        pair = self.pair
        arrivals = pair.server.arrivals
        recent: dict[str, int] = {}
        for arrival in reversed(arrivals):
            if arrival.received_at < now - RATE_WINDOW:
                break
            recent[arrival.peer] = recent.get(arrival.peer, 0) + 1
        return {
            "rate": self.rate,
            "sent": pair.client.sent,
            "delivered": pair.delivered(),
            "per_peer": {peer: round(count / RATE_WINDOW, 1) for peer, count in recent.items()},
            "errors": [e.detail for e in self.log.errors()][-5:],
        }


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


# -- entry point ------------------------------------------------------------------------------------------


def _serve_socket(path: Path, service: LabService) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=_converse, args=(service, SocketConversation(conn)), daemon=True).start()

    threading.Thread(target=accept, name="accept", daemon=True).start()


def _converse(service: LabService, conversation: Conversation) -> None:
    try:
        service.handle(conversation)
    finally:
        conversation.close()


def _serve_console(device: str, service: LabService) -> None:
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd, termios.TCSANOW)
    mux = Mux(fd, fd)
    threading.Thread(target=mux.serve, args=(service.handle,), name="console", daemon=True).start()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.session.service")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--topology", required=True, type=Path)
    parser.add_argument("--profile", required=True, help="a profile name (ignored with --scenario: its own)")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--scenario", type=Path, help="replay this scenario first, when asked (replay --keep)")
    parser.add_argument("--out", type=Path, help="the scenario's report folder")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", type=Path, help="listen on this UNIX socket")
    where.add_argument("--console", help="serve the multiplexed requests on this console line (in a guest)")
    args = parser.parse_args(argv)
    from lab.model.scenario import load_scenario
    from lab.model.profile import get_profile

    try:
        loaded = load_scenario(args.scenario, topology_dirs=[args.topology.parent]) if args.scenario else None
        profile = loaded.scenario.profile if loaded else get_profile(args.profile)
    except LabError as err:
        print(f"sctplab: {err}", flush=True)
        return 2
    service = LabService(args.topology, tag=args.tag, profile=profile, rate=args.rate, scenario=loaded, out=args.out)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # go down as "down" would
        signal.signal(signum, lambda *_: service.stop())
    if args.socket:
        _serve_socket(args.socket, service)
    else:
        _serve_console(args.console, service)
    try:
        return service.run()
    finally:
        if args.socket:
            args.socket.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
