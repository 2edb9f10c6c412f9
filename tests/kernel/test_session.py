"""Kernel tier: a lab that stays up, driven through the CLI (up, status, fail, impair, restore, shell, run, ps,
logs, stop, down, clean).

Here the kernel can do the lab's work itself (in the guest, the whole session
runs there), so ``sctplab up`` starts the lab service as a process of this
kernel; tests/host/ covers a lab whose service runs in a guest.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from lab.kernel import netns
from lab.kernel.process import marked_processes
from lab.session.records import records
from lab.wait import wait_until
from tests.session_helpers import FAILBACK, FAST, HEARTBEAT, UNREACHABLE, Sctplab

pytestmark = [pytest.mark.kernel]


def _ours(tag: str) -> list[str]:
    return [name for name in netns.names() if name.startswith(f"sctplab-{tag}-")]


def test_a_lab_stays_up_fails_over_on_command_and_goes_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCTPLAB_STATE_DIR", str(tmp_path))
    lab = Sctplab(tmp_path, "--kernel", "host")
    out = lab.run("up", "dual-homed", "--rate", "20").stdout
    (record,) = records()[0]
    assert f"lab {record.tag} is up" in out and "sctplab shell client" in out
    assert f"ip netns exec sctplab-{record.tag}-client bash" in out
    try:
        status = lab.status()
        (assoc,) = status["associations"]["client"]
        assert assoc["state"] == "ESTABLISHED"
        assert {p["address"]: p["primary"] for p in assoc["paths"]} == {"198.18.1.2": True, "198.18.2.2": False}
        lab.wait_path_state("client", "198.18.2.2", "ACTIVE", HEARTBEAT)

        assert "#1 applied: blackhole path-a (both)" in lab.run("fail", "path-a").stdout
        lab.wait_path_state("client", "198.18.1.2", "INACTIVE", UNREACHABLE)
        lab.wait_arriving_from("198.18.2.1", UNREACHABLE)
        assert "#2 applied: impair path-b (both): delay_ms=30" in lab.run("impair", "path-b", "delay=30ms").stdout
        assert "#2 now: impair path-b (both): delay_ms=40 loss_pct=1" in lab.run(
            "impair", "path-b", "delay=40ms", "loss=1%").stdout
        faults = lab.status()["faults"]
        assert [f["link"] for f in faults] == ["path-a", "path-b"]

        shell = lab.run("shell", "client", "--", "ip", "-br", "addr")
        assert "198.18.1.1/24" in shell.stdout and "198.18.2.1/24" in shell.stdout
        assert lab.run("shell", "server", "--", "sh", "-c", "exit 7", check=7).returncode == 7

        lab.wait_not_arriving_from("198.18.1.1")  # so what arrives from it next is the failback
        assert "#1 restored: blackhole path-a" in lab.run("restore", "path-a").stdout
        lab.wait_path_state("client", "198.18.1.2", "ACTIVE", FAILBACK)
        lab.wait_arriving_from("198.18.1.1", FAILBACK)
        assert "#2 restored" in lab.run("restore", "--all").stdout
        lab.wait_all_delivered(FAILBACK)
        assert lab.status()["traffic"]["errors"] == []
    finally:
        down = lab.run("down")
    assert f"lab {record.tag} is down" in down.stdout
    assert _ours(record.tag) == [] and records() == ([], [])


@pytest.mark.parametrize(
    "args, message",
    [
        (("fail", "path-x"), "no link 'path-x' in topology dual-homed (expected one of: path-a, path-b)"),
        (("fail", "path-a", "--kind", "link-down", "side=sideways"), "side: input should be 'near' or 'far' (got 'sideways')"),
        (("impair", "path-b", "delay=soon"), "'delay=soon': expected a duration such as 80ms"),
        (("fail", "path-a", "--kind", "flap", "count=0"), "count: input should be greater than or equal to 1 (got '0')"),
        (("shell", "router"), "no node 'router' in topology dual-homed (nodes: client, server)"),
        (("restore", "path-c"), "no link 'path-c'"),
        (("run", "router", "--", "sleep", "1"), "sctplab run: no node 'router' in topology dual-homed (nodes: client, server)"),
        (("stop", "nope"), "no process 'nope' in lab "),
        (("logs", "nope"), "no process 'nope' in lab "),
    ],
)
def test_bad_commands_say_what_is_wrong_and_change_nothing(args: tuple[str, ...], message: str,
                                                          lab_up: Sctplab) -> None:
    done = lab_up.run(*args, check=2)
    assert message in done.stderr
    assert lab_up.status()["faults"] == []


@pytest.fixture(scope="module")
def lab_up(tmp_path_factory: pytest.TempPathFactory) -> Sctplab:
    lab = Sctplab(tmp_path_factory.mktemp("state"), "--kernel", "host")
    lab.run("up", "dual-homed", "--rate", "0")
    yield lab  # type: ignore[misc]
    lab.run("down")


def test_clean_removes_a_killed_lab_and_only_its_namespaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCTPLAB_STATE_DIR", str(tmp_path))
    lab = Sctplab(tmp_path, "--kernel", "host")
    lab.run("up", "dual-homed", "--rate", "0")
    (record,) = records()[0]
    assert _ours(record.tag)
    os.kill(record.pid, signal.SIGKILL)
    wait_until(lambda: not record.alive(), timeout=10, what=f"lab process {record.pid} to die")
    assert _ours(record.tag), "a killed lab leaves its namespaces behind"
    netns.create("sctplab-unrelated")  # not tagged like ours: clean leaves it
    try:
        dry = lab.run("clean", "--dry-run").stdout
        assert f"would remove network namespace sctplab-{record.tag}-client" in dry and _ours(record.tag)
        out = lab.run("clean").stdout
        assert f"removed the state of lab {record.tag}" in out
        assert f"removed network namespace sctplab-{record.tag}-server" in out
        assert _ours(record.tag) == [] and records() == ([], [])
        assert "sctplab-unrelated" in netns.names()
    finally:
        netns.remove("sctplab-unrelated")


def _marked(tag: str) -> set[int]:
    """The processes whose environment marks them as lab ``tag``'s."""
    return {pid for pid, owner_tag, _ in marked_processes() if owner_tag == tag}


def _ps(lab: Sctplab) -> dict[str, dict[str, Any]]:
    return {process["name"]: process for process in json.loads(lab.run("ps", "--json").stdout)}


def test_processes_run_in_their_nodes_and_go_down_with_the_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCTPLAB_STATE_DIR", str(tmp_path))
    lab = Sctplab(tmp_path, "--kernel", "host")
    lab.run("up", "dual-homed", "--rate", "0")
    (record,) = records()[0]
    folder = record.folder / "processes"
    try:
        started = lab.run("run", "server", "--", "sleep", "1000").stdout
        assert "started sleep (pid " in started and ") in node server" in started
        assert f"log: {folder / 'sleep.log'}" in started
        lab.run("run", "client", "--name", "hello", "--", "sh", "-c", "echo hello; exit 3")
        assert "started sleep-2 " in lab.run("run", "client", "--", "sleep", "1000").stdout
        lab.run("run", "client", "--name", "rto", "--", "cat", "/proc/sys/net/sctp/rto_min")
        lab.run("run", "server", "--name", "stubborn", "--", "sh", "-c", "trap '' TERM; echo ready; sleep 1000")
        wait_until(lambda: _ps(lab)["hello"]["returncode"] is not None and _ps(lab)["rto"]["returncode"] is not None,
                   timeout=30, interval=0.2, what="hello and rto to end (sctplab ps)")

        ps = _ps(lab)
        assert list(ps) == ["sleep", "hello", "sleep-2", "rto", "stubborn"], "in start order"
        assert (ps["hello"]["status"], ps["hello"]["returncode"], ps["rto"]["status"]) == ("exit status 3", 3,
                                                                                       "exit status 0")
        assert ps["sleep"]["status"] == "running" and ps["sleep"]["returncode"] is None
        assert [ps[name]["node"] for name in ps] == ["server", "client", "client", "client", "server"]
        assert ps["hello"]["command"] == ["sh", "-c", "echo hello; exit 3"]
        assert ps["hello"]["uptime"] < 2.0, "its uptime stops when it ends, not when ps asks"
        assert ps["sleep"]["log"] == str(folder / "sleep.log")
        for name, node in (("sleep", "server"), ("sleep-2", "client"), ("stubborn", "server")):
            pid = ps[name]["pid"]
            assert os.stat(f"/proc/{pid}/ns/net").st_ino == netns.path_of(f"sctplab-{record.tag}-{node}").stat().st_ino
        running = {ps[name]["pid"] for name in ("sleep", "sleep-2", "stubborn")}
        assert running <= _marked(record.tag), "every process carries the lab's mark"
        table = lab.run("ps").stdout
        assert table.splitlines()[0].split() == ["NAME", "NODE", "PID", "STATUS", "UPTIME", "COMMAND", "LOG"]
        assert "exit status 3" in table and "sh -c 'echo hello; exit 3'" in table
        assert [p["name"] for p in lab.status()["processes"]] == list(ps)
        assert "processes" in lab.run("status").stdout

        assert lab.run("logs", "hello").stdout == "hello\n"
        assert int(lab.run("logs", "rto").stdout) == FAST.rto_min, "the lab's timer profile is in effect"
        lab.run("run", "client", "--name", "counter", "--", "sh", "-c", "echo one; sleep 1; echo two")
        assert lab.run("logs", "counter", "--follow", timeout=60).stdout == "one\ntwo\n"

        stopped = lab.run("stop", "sleep-2", "--signal", "INT").stdout
        assert stopped.strip() == f"sleep-2 (pid {ps['sleep-2']['pid']} in node client): killed by SIGINT"
        wait_until(lambda: lab.run("logs", "stubborn").stdout == "ready\n", timeout=10, interval=0.2,
                   what="the stubborn process to ignore SIGTERM")
        assert "killed by SIGKILL (SIGTERM did not end it within its 0.5 s grace)" in lab.run(
            "stop", "stubborn", "--grace", "0.5").stdout
        assert "exit status 3" in lab.run("stop", "hello").stdout, "an ended process stays as it ended"
        for name in ("sleep-2", "stubborn"):
            assert not os.path.exists(f"/proc/{ps[name]['pid']}")
        assert _marked(record.tag) == {ps["sleep"]["pid"]}, "stop ends the whole process group"

        refused = lab.run("run", "client", "--name", "sleep", "--", "true", check=2).stderr
        assert "a process named 'sleep' is running" in refused
        lab.run("run", "client", "--name", "hello", "--", "sh", "-c", "echo again")  # hello has ended: reused
        wait_until(lambda: _ps(lab)["hello"]["returncode"] == 0, timeout=10, interval=0.2, what="hello to end again")
        assert lab.run("logs", "hello").stdout == "again\n"
        last = lab.run("run", "client", "--name", "last", "--", "sleep", "1000").stdout
        last_pid = int(last.split("(pid ")[1].split(")")[0])
    finally:
        down = lab.run("down")
    assert "stopped 2 processes: last (killed by SIGTERM), sleep (killed by SIGTERM)" in down.stdout, down.stdout
    assert _marked(record.tag) == set()
    assert not os.path.exists(f"/proc/{last_pid}") and not os.path.exists(f"/proc/{ps['sleep']['pid']}")
    assert _ours(record.tag) == [] and records() == ([], [])
