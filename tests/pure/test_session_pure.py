"""Pure tier: the session's parsing and framing (command-line settings, /proc/net/sctp, JSON lines, records,
the processes' names, signals and arguments)."""

from __future__ import annotations

import itertools
import json
import os
import threading
from pathlib import Path

import pytest
from rich.console import Console

from lab.errors import ConfigError, LabError
from lab.kernel.sctpproc import parse
from lab.session.channel import Conversation, Mux, decode, encode, read_lines
from lab.session.faultargs import settings
from lab.session.processes import (
    check_command, check_grace, check_name, default_name, parse_signal, run_request, stopped_message,
)
from lab.session.records import LabRecord, find_lab, records
from lab.session.running import RunningLab, arrival_rates
from lab.session.status import LabStatus, ProcessStatus, RecentEvent
from lab.session.transport import Requests
from lab.sctp.traffic import Arrival
from lab.ui.status import process_lines, render_status

ASSOCS = """\
 ASSOC     SOCK   STY SST ST HBKT ASSOC-ID TX_QUEUE RX_QUEUE UID INODE LPORT RPORT LADDRS <-> RADDRS HBINT INS OUTS MAXRT T1X T2X RTXC wmema wmemq sndbuf rcvbuf
a9b110e5 4b7c563d 2   1   3  0       3     1024        0       0   137 46014  3868  198.18.1.1 198.18.2.1 <-> *198.18.1.2 198.18.2.2 \t      20    10    10    4    0    0        7     1025     1024   212992   212992
"""
REMADDR = """\
ADDR ASSOC_ID HB_ACT RTO MAX_PATH_RTX REM_ADDR_RTX START STATE
198.18.1.2  3 1 16 2 1 0 1
198.18.2.2  3 1 20 2 0 0 2
"""


def test_proc_files_parse_into_associations_with_paths() -> None:
    (assoc,) = parse(ASSOCS, REMADDR, tick=0.01)
    assert (assoc.assoc_id, assoc.state, assoc.local_port, assoc.peer_port) == (3, "ESTABLISHED", 46014, 3868)
    assert assoc.local == ("198.18.1.1", "198.18.2.1") and assoc.retransmits == 7
    first, second = assoc.paths
    assert (first.address, first.state, first.rto_s, first.errors, first.primary) == ("198.18.1.2", "PF", 0.16, 1, True)
    assert (second.state, second.primary) == ("ACTIVE", False)
    assert parse(ASSOCS.splitlines()[0], "", tick=0.01) == []


@pytest.mark.parametrize(
    "words, expected",
    [
        (["delay=80ms", "loss=5%"], {"delay_ms": 80, "loss_pct": 5}),
        (["delay=0.5s", "jitter=250us"], {"delay_ms": 500, "jitter_ms": 0.25}),
        (["rate=2mbit", "loss-corr=25"], {"rate_kbit": 2000, "loss_corr_pct": 25}),
        (["delay_ms=40", "duplicate=1%"], {"delay_ms": 40, "duplicate_pct": 1}),
        (["chunks=HEARTBEAT-ACK,SACK", "side=far"], {"chunks": ["HEARTBEAT-ACK", "SACK"], "side": "far"}),
        (["period=500ms", "count=3"], {"period": 0.5, "count": "3"}),
    ],
)
def test_command_line_settings_become_the_files_keys(words: list[str], expected: dict[str, object]) -> None:
    assert settings(words, command="impair") == expected


@pytest.mark.parametrize(
    "words, message",
    [
        (["delay"], "'delay': expected key=value"),
        (["delay=fast"], "'delay=fast': expected a duration such as 80ms"),
        (["loss=lots"], "'loss=lots': expected a percentage"),
        (["rate=2tbit"], "'rate=2tbit': expected a rate such as 500kbit"),
        (["delay=1ms", "delay_ms=2"], "'delay_ms=2': delay_ms is given twice"),
    ],
)
def test_bad_settings_name_the_word(words: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match="sctplab impair: ") as caught:
        settings(words, command="impair")
    assert message in str(caught.value)


def test_json_lines_round_trip_and_reject_garbage() -> None:
    assert decode(encode({"op": "status", "n": [1, 2]})) == {"op": "status", "n": [1, 2]}
    with pytest.raises(LabError, match="unreadable message"):
        decode(b"[1, 2]")


def test_the_mux_runs_one_conversation_per_channel() -> None:
    to_guest_r, to_guest_w = os.pipe()
    from_guest_r, from_guest_w = os.pipe()

    def echo(conversation: Conversation) -> None:
        while (message := conversation.receive()) is not None:
            conversation.send({"echo": message, "done": True})

    threading.Thread(target=Mux(to_guest_r, from_guest_w).serve, args=(echo,), daemon=True).start()
    for frame in ({"ch": 1, "m": {"op": "a"}}, {"ch": 2, "m": {"op": "b"}}, {"ch": 2, "end": True}):
        os.write(to_guest_w, encode(frame))
    os.close(to_guest_w)  # the line ends: conversation 1 ends too
    got = [decode(line) for line in itertools.islice(read_lines(from_guest_r), 4)]
    assert got[0] == {"hello": True}
    assert {"ch": 1, "m": {"echo": {"op": "a"}, "done": True}} in got
    assert {"ch": 2, "m": {"echo": {"op": "b"}, "done": True}} in got
    assert {"ch": 1, "end": True} in got, "the guest's side ends a conversation the host did not"
    assert {"ch": 2, "end": True} not in got, "a conversation the host ended is not ended twice"


class _OneRequest:
    """A conversation that brings one request and keeps the replies."""

    def __init__(self, request: dict[str, object]) -> None:
        self.request: dict[str, object] | None = request
        self.sent: list[dict[str, object]] = []

    def receive(self) -> dict[str, object] | None:
        request, self.request = self.request, None
        return request

    def send(self, message: dict[str, object]) -> None:
        self.sent.append(message)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    "request_, failure, error",
    [
        ({"op": "frobnicate"}, None, "unknown request 'frobnicate'"),
        ({"op": "replay"}, None, "this lab has no scenario left to replay (start one with sctplab replay --keep)"),
        ({"op": "status"}, "no room for the topology", "no room for the topology"),
        ({"op": "run", "node": "client", "argv": []}, None, "sctplab run: no command given (sctplab run NODE -- CMD...)"),
        ({"op": "run", "node": "client", "argv": ["sleep"], "name": "../x"}, None,
         "sctplab run: process name '../x': expected lower-case letters, digits, '.', '_' and '-', starting with a"
         " letter or digit, at most 64"),
        ({"op": "stop", "name": "sleep", "signal": "NOPE"}, None,
         "sctplab stop: --signal 'NOPE': expected a signal name or number, such as TERM, INT, HUP, KILL or 15"),
    ],
)
def test_requests_the_lab_cannot_answer_are_refused_with_the_reason(
        request_: dict[str, object], failure: str | None, error: str) -> None:
    from lab.model.profile import get_profile

    lab = RunningLab(Path("dual-homed.yaml"), tag="abc123", profile=get_profile("fast"), rate=0)
    lab.failure = failure
    lab.ready.set()
    conversation = _OneRequest(request_)
    Requests(lab).handle(conversation)
    assert conversation.sent == [{"ok": False, "error": error, "done": True}]


def _record(tag: str, pid: int) -> LabRecord:
    return LabRecord(tag=tag, topology="dual-homed", topology_file="/x/dual-homed.yaml", profile="fast", rate=10,
                     kernel="guest", pid=pid, started=0.0)


def test_find_lab_names_the_labs_or_says_how_to_start_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCTPLAB_STATE_DIR", str(tmp_path))
    with pytest.raises(LabError, match="no lab is up; start one with: sctplab up TOPOLOGY"):
        find_lab(None)
    # this process stands in for a lab's owner: its command line must name the tag
    monkeypatch.setattr("lab.session.records.process_alive", lambda pid, tag: pid == os.getpid())
    _record("aaaaaa", os.getpid()).save()
    _record("bbbbbb", os.getpid()).save()
    _record("cccccc", 0).save()  # dead
    (tmp_path / "broken").mkdir()
    labs, broken = records()
    assert [r.tag for r in labs] == ["aaaaaa", "bbbbbb", "cccccc"] and broken == [tmp_path / "broken"]
    with pytest.raises(LabError, match=r"2 labs are up: aaaaaa \(dual-homed\), bbbbbb \(dual-homed\); name one"):
        find_lab(None)
    assert find_lab("bbbbbb").tag == "bbbbbb"
    with pytest.raises(LabError, match=r"no lab 'cccccc' is up \(up: aaaaaa, bbbbbb\)"):
        find_lab("cccccc")


def _status_json() -> dict[str, object]:
    """A status as the service sends it and ``sctplab status --json`` prints it."""
    (assoc,) = parse(ASSOCS, REMADDR, tick=0.01)
    from dataclasses import asdict

    return {
        "lab": {"tag": "abc123", "topology": "dual-homed", "file": "topologies/dual-homed.yaml", "profile": "fast",
                "uptime": 12.0, "namespaces": {"client": "sctplab-abc123-client"}},
        "links": [{"name": "path-a", "ends": {
            "client": {"interface": "eth0-abc123", "address": "198.18.1.1", "state": "UP"},
            "server": {"interface": "eth0-abc123", "address": "198.18.1.2", "state": "UP"}}}],
        "names": {"198.18.1.2": "server/path-a"},
        "faults": [{"number": 1, "link": "path-a", "what": "blackhole path-a (both)"}],
        "traffic": {"rate": 10, "sent": 50, "delivered": 49, "per_peer": {"198.18.2.1": 10.0}, "errors": []},
        "associations": {"client": [json.loads(json.dumps(asdict(assoc)))]},
        "processes": [
            {"name": "sleep", "node": "server", "pid": 4242, "status": "running", "returncode": None, "uptime": 3.5,
             "command": ["sleep", "1000"], "log": "/var/tmp/sctplab/labs/abc123/processes/sleep.log",
             "associations": [7]},
            {"name": "hello", "node": "client", "pid": 4243, "status": "exit status 3", "returncode": 3,
             "uptime": 0.1, "command": ["sh", "-c", "echo hello; exit 3"],
             "log": "/var/tmp/sctplab/labs/abc123/processes/hello.log", "associations": []},
        ],
        "events": ["    4.777  lab    fault      blackhole path-a (both)"],
    }


def test_status_reads_back_to_the_same_json() -> None:
    data = _status_json()
    status = LabStatus.from_json(data)
    (assoc,) = status.associations["client"]
    assert assoc == parse(ASSOCS, REMADDR, tick=0.01)[0], "the associations are sctpproc's own"
    assert status.events == (RecentEvent(4.777, "lab", "fault", "blackhole path-a (both)"),)
    assert status.links[0].ends["server"].address == "198.18.1.2" and status.traffic.per_peer == {"198.18.2.1": 10.0}
    sleep, hello = status.processes
    assert sleep == ProcessStatus("sleep", "server", 4242, "running", None, 3.5, ("sleep", "1000"),
                                  "/var/tmp/sctplab/labs/abc123/processes/sleep.log", (7,))
    assert sleep.running and not hello.running and hello.command == ("sh", "-c", "echo hello; exit 3")
    assert json.dumps(status.to_json()) == json.dumps(data), "the same keys, in the same order"
    assert LabStatus.from_json(status.to_json()) == status
    with pytest.raises(LabError, match="unreadable lab status"):
        LabStatus.from_json({**data, "faults": [{"number": 1}]})
    with pytest.raises(LabError, match="unreadable lab status"):
        LabStatus.from_json({**data, "events": ["?"]})
    with pytest.raises(LabError, match="unreadable lab status"):
        LabStatus.from_json({**data, "processes": [{"name": "sleep"}]})
    with pytest.raises(LabError, match="unreadable lab status"):
        LabStatus.from_json({key: value for key, value in data.items() if key != "processes"})


@pytest.mark.parametrize("event", [
    RecentEvent(4.777, "lab", "fault", "blackhole path-a (both)"),
    RecentEvent(1234.5, "server", "data-path", "messages now arrive from 198.18.2.1"),
    RecentEvent(0.0, "client", "a-very-long-kind", "  indented\nand two lines"),
    RecentEvent(12345678.125, "sidelonger", "k", ""),
])
def test_event_lines_read_back(event: RecentEvent) -> None:
    assert RecentEvent.parse(event.line()) == event


def test_arrival_rates_count_the_window_per_address() -> None:
    arrivals = [Arrival(seq, 0.0, at, peer) for seq, (at, peer) in enumerate(
        [(1.0, "198.18.1.1"), (8.5, "198.18.1.1"), (9.0, "198.18.2.1"), (9.5, "198.18.2.1"), (10.0, "198.18.2.1")])]
    assert arrival_rates(arrivals, now=10.0) == {"198.18.2.1": 1.5, "198.18.1.1": 0.5}
    assert arrival_rates(arrivals, now=100.0) == {} and arrival_rates([], now=0.0) == {}


def test_status_view_shows_paths_faults_and_traffic() -> None:
    console = Console(width=120, record=True, color_system=None)
    console.print(render_status(LabStatus.from_json(_status_json()), kernel="guest"))
    text = console.export_text()
    assert "lab abc123" in text and "#1 blackhole path-a (both)" in text
    assert "*  198.18.1.2 (server/path-a)  PF" in text
    assert "sent 50, delivered 49; arriving now: 10/s from 198.18.2.1" in text
    assert "processes" in text
    assert "│ sleep │ server │ 4242 │ running       │ 7            │ sleep 1000" in text
    assert "│ hello │ client │ 4243 │ exit status 3 │ -            │ sh -c 'echo hello; exit 3'" in text


def test_ps_lines_line_up_with_the_command_and_log_last() -> None:
    processes = LabStatus.from_json(_status_json()).processes
    header, sleep, hello = process_lines(processes)
    assert header.split() == ["NAME", "NODE", "PID", "STATUS", "UPTIME", "COMMAND", "LOG"]
    assert sleep.startswith("sleep  server  4242  running        3.5 s   sleep 1000  ")
    assert sleep.endswith("/abc123/processes/sleep.log")
    assert hello.index("exit status 3") == sleep.index("running") == header.index("STATUS")
    assert "sh -c 'echo hello; exit 3'" in hello


@pytest.mark.parametrize("name", ["sleep", "my-server", "a", "srv.2", "x_y", "0day", "a" * 64])
def test_process_names_follow_the_rule(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "Server", "-x", ".hidden", "a/b", "../x", "a b", "a" * 65, None, 3])
def test_bad_process_names_are_refused_with_the_rule(name: object) -> None:
    with pytest.raises(ConfigError, match=r"sctplab run: process name .*: expected lower-case letters, digits"):
        check_name(name)


@pytest.mark.parametrize(
    "argv, taken, expected",
    [
        (["sleep", "1000"], [], "sleep"),
        (["sleep", "1000"], ["sleep"], "sleep-2"),
        (["sleep", "1000"], ["sleep", "sleep-2", "hello"], "sleep-3"),
        (["/usr/bin/python3.11", "-m", "http.server"], [], "python3.11"),
        (["./My Server"], [], "my-server"),
        (["/opt/__x__"], [], "x__"),
        (["/"], [], "process"),
    ],
)
def test_default_names_are_the_programs_made_unique(argv: list[str], taken: list[str], expected: str) -> None:
    name = default_name(argv, taken)
    assert name == expected and check_name(name) == name


def test_a_command_must_be_given() -> None:
    assert check_command(["sh", "-c", "exit 3"]) == ["sh", "-c", "exit 3"]
    for argv in ([], None, "sleep 1", [""], ["sleep", 1]):
        with pytest.raises(ConfigError, match="sctplab run: "):
            check_command(argv)
    with pytest.raises(ConfigError, match=r"no command given \(sctplab run NODE -- CMD...\)"):
        check_command([])


@pytest.mark.parametrize("text, expected", [("TERM", "SIGTERM"), ("sigint", "SIGINT"), ("SIGKILL", "SIGKILL"),
                                            ("15", "SIGTERM"), ("9", "SIGKILL"), (" hup ", "SIGHUP")])
def test_signals_by_name_or_number(text: str, expected: str) -> None:
    assert parse_signal(text) == expected


@pytest.mark.parametrize("text", ["FOO", "", "0", "-9", "SIG", "999"])
def test_bad_signals_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"sctplab stop: --signal .*: expected a signal name or number"):
        parse_signal(text)


def test_grace_is_seconds_at_least_zero() -> None:
    assert check_grace(0) == 0.0 and check_grace(2.5) == 2.5
    for grace in (-1, float("nan"), float("inf"), "5", True, None):
        with pytest.raises(ConfigError, match="sctplab stop: --grace"):
            check_grace(grace)


def test_run_requests_carry_a_node_a_command_and_maybe_a_name() -> None:
    assert run_request({"node": "server", "argv": ["sleep", "9"], "name": None, "cwd": "/tmp"}) == (
        "server", ["sleep", "9"], None, "/tmp")
    assert run_request({"node": "client", "argv": ["sleep", "9"], "name": "nap"})[2] == "nap"
    with pytest.raises(LabError, match="expected a node name"):
        run_request({"argv": ["sleep"]})
    with pytest.raises(LabError, match="process name 'Nap'"):
        run_request({"node": "client", "argv": ["sleep"], "name": "Nap"})


def test_down_says_which_processes_it_stopped_and_how_they_ended() -> None:
    assert stopped_message([("server", "killed by SIGTERM"), ("client", "exit status 0")]) == (
        "stopped 2 processes: server (killed by SIGTERM), client (exit status 0)")
    assert stopped_message([("server", "killed by SIGKILL")]) == "stopped 1 process: server (killed by SIGKILL)"
    assert stopped_message([]) == ""


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "client", "--name", "srv", "--", "sleep", "--name", "x"], (None, "client", ["sleep", "--name", "x"], "srv")),
        (["--kernel", "host", "run", "--lab", "abc123", "server", "--", "sh", "-c", "exit 3"],
         ("abc123", "server", ["sh", "-c", "exit 3"], None)),
        (["run", "--name", "nap", "client", "--lab", "abc123", "--", "sleep", "--", "1"],
         ("abc123", "client", ["sleep", "--", "1"], "nap")),
    ],
)
def test_run_takes_the_command_after_the_double_dash(argv: list[str], expected: tuple[object, ...],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.session.commands
    from lab.cli import main

    called: list[tuple[object, ...]] = []

    def run(tag: str | None, node: str, argv: list[str], *, name: str | None) -> int:
        called.append((tag, node, argv, name))
        return 0

    monkeypatch.setattr(lab.session.commands, "run", run)
    assert main(argv) == 0 and called == [expected]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "client"], "sctplab run: no command given (sctplab run NODE -- CMD...)"),
        (["run", "client", "--"], "sctplab run: no command given"),
        (["run", "client", "sleep", "1"], "unrecognized arguments: sleep 1 (put the command after --"),
        (["run", "client", "--name", "Big", "--", "sleep", "1"], "sctplab run: process name 'Big': expected"),
        (["stop", "sleep", "--signal", "NOPE"], "sctplab stop: --signal 'NOPE': expected a signal name"),
        (["stop", "sleep", "--grace", "-1"], "sctplab stop: --grace -1.0: expected seconds >= 0"),
    ],
)
def test_bad_process_commands_are_refused_before_asking_a_lab(argv: list[str], message: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from lab.cli import main

    monkeypatch.setenv("SCTPLAB_STATE_DIR", str(tmp_path))  # no lab is up: a check that came too late says so
    try:
        code = main(argv)
    except SystemExit as done:  # argparse's own errors
        code = done.code  # type: ignore[assignment]
    assert code == 2 and message in capsys.readouterr().err


def test_doctor_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.doctor
    import lab.guest.uml
    from lab.errors import CapabilityError
    from lab.kernel.caps import KernelCaps

    def no_guest() -> None:
        raise CapabilityError("no guest kernel available: missing linux.uml (Debian/Ubuntu package user-mode-linux)")

    monkeypatch.setattr(lab.doctor, "probe", lambda: KernelCaps("6.18", False, {"sctp": "EPROTONOSUPPORT"}))
    monkeypatch.setattr(lab.guest.uml, "find_guest_kernel", no_guest)
    monkeypatch.setattr(lab.doctor.shutil, "which", lambda *a, **k: None)
    findings, runnable = lab.doctor.diagnose()
    fixes = {f.what: f.fix for f in findings if not f.ok}
    assert not runnable
    assert "kernel-modules-extra" in fixes["this kernel: sctp"]
    assert fixes["guest kernel"].startswith("apt-get install user-mode-linux kmod")
    assert fixes["tcpdump (wire captures)"] == "apt-get install tcpdump"
