"""Host tier: a lab whose service runs in a User-Mode Linux guest (``--kernel guest``).

These boot guest kernels themselves, so they run on the host: the suite that
runs inside a guest skips them, and tox runs this directory on the host
afterwards (``pytest tests/host --lab-kernel=host``). The requests travel
through lab/session/relay.py and a guest console line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.errors import CapabilityError
from lab.guest.uml import find_guest_kernel
from lab.kernel.caps import in_guest
from lab.session.records import process_alive, records
from tests.session_helpers import FAILBACK, HEARTBEAT, UNREACHABLE, Sctplab


def _guest_available() -> str | None:
    try:
        find_guest_kernel()
    except CapabilityError as err:
        return str(err)
    return None


pytestmark = [
    pytest.mark.skipif(in_guest(), reason="boots a guest kernel: runs on the host (tox: pytest tests/host)"),
]


@pytest.fixture
def guest_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Sctplab:
    missing = _guest_available()
    if missing:
        if request.config.getoption("--lab-require-kernel"):
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    monkeypatch.setenv("SCTPLAB_STATE_DIR", str(tmp_path / "state"))
    return Sctplab(tmp_path / "state", "--kernel", "guest")


def test_a_lab_in_a_guest_is_driven_from_the_host(guest_lab: Sctplab) -> None:
    lab = guest_lab
    out = lab.run("up", "dual-homed", "--rate", "20").stdout
    (record,) = records()[0]
    assert record.kernel == "guest" and "the namespaces live in the guest kernel" in out
    try:
        lab.wait_path_state("client", "198.18.2.2", "ACTIVE", HEARTBEAT)
        lab.run("fail", "path-a")
        lab.wait_path_state("client", "198.18.1.2", "INACTIVE", UNREACHABLE)
        lab.wait_arriving_from("198.18.2.1", UNREACHABLE)
        shell = lab.run("shell", "client", "--", "ip", "-br", "addr")
        assert "198.18.1.1/24" in shell.stdout
        piped = lab.run("shell", "server", stdin="echo node=$SCTPLAB_NODE\nexit 4\n", check=4)
        assert "node=server" in piped.stdout
        # a process in the guest; its log is read here, on the host (the guest shares the host's files)
        lab.run("run", "server", "--name", "hi", "--", "sh", "-c", "echo hi from $SCTPLAB_NODE; sleep 1; exit 5")
        assert lab.run("logs", "hi", "--follow", timeout=60).stdout == "hi from server\n"
        assert "exit status 5" in lab.run("ps").stdout
        assert "started sleep " in lab.run("run", "client", "--", "sleep", "1000").stdout
        lab.run("restore", "path-a")
        lab.wait_path_state("client", "198.18.1.2", "ACTIVE", FAILBACK)
        lab.wait_all_delivered(FAILBACK)
        assert lab.status()["traffic"]["errors"] == []
    finally:
        down = lab.run("down")
    assert "stopped 1 process: sleep (killed by SIGTERM)" in down.stdout
    assert not process_alive(record.pid, record.tag) and records() == ([], [])


def test_replay_keep_leaves_the_scenarios_network_up(guest_lab: Sctplab, tmp_path: Path) -> None:
    lab = guest_lab
    folder = tmp_path / "report"
    done = lab.run("replay", "scenarios/primary-blackhole.yaml", "--keep", "--out", str(folder))
    assert "VERDICT" in done.stdout and "PASS" in done.stdout
    assert json.loads((folder / "report.json").read_text())["verdict"] == "pass"
    assert (folder / "timeline.png").stat().st_size > 0
    (record,) = records()[0]
    try:
        assert "The scenario's network stays up" in done.stdout
        (assoc,) = lab.status()["associations"]["client"]
        assert assoc["state"] == "ESTABLISHED" and len(assoc["paths"]) == 2
        assert record.topology == "dual-homed"
    finally:
        lab.run("down")
    assert records() == ([], [])
