"""Kernel tier: a lab that stays up, driven through the CLI (up, status, fail, impair, restore, shell, down, clean).

Here the kernel can do the lab's work itself (in the guest, the whole session
runs there), so ``sctplab up`` starts the lab service as a process of this
kernel; tests/host/ covers a lab whose service runs in a guest.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from lab.kernel import netns
from lab.session.records import records
from lab.wait import wait_until
from tests.session_helpers import FAILBACK, HEARTBEAT, UNREACHABLE, Sctplab

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
