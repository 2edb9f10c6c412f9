"""Plugin tier: kernel tests go to one guest pytest session, the rest run here (lab/plugin/delegate.py).

No guest kernel boots here: the kernel choice is faked to say "guest", and
the guest runner is replaced by fakes. One of them runs the guest part's
pytest as a plain subprocess marked as in the guest, so the handoff (node
ids, reports replayed as they arrive, JUnit, exit status) is real end to end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest

from lab.errors import GuestError
from lab.guest.uml import GuestKernel
from lab.kernel import choice
from lab.kernel.caps import KernelCaps

ROOT = Path(__file__).resolve().parents[2]
GUEST = GuestKernel(Path("/usr/bin/linux.uml"), "6.1-fake", Path("/usr/lib/uml/modules"), Path("/usr/sbin/modprobe"))
LACKING = KernelCaps(release="0.0-test", guest=False,
                     missing={"sctp": "socket(IPPROTO_SCTP) failed: EPROTONOSUPPORT", "netns": "not root"})

MIXED = """
    import os
    import pytest

    def test_here():
        assert os.environ.get("SCTPLAB_IN_GUEST") is None

    @pytest.mark.kernel
    def test_kernel(record_property):
        record_property("where", "guest")
        assert os.environ["SCTPLAB_IN_GUEST"] == "1"

    @pytest.mark.kernel("netns")
    @pytest.mark.parametrize("name", ["a::b"])
    def test_kernel_fails(name):
        print("said in the guest")
        assert name == "c"
"""

# The fake guest is this machine: its kernel tests must not skip for lack of SCTP there.
GUEST_CONFTEST = """
    import os

    if os.environ.get("SCTPLAB_IN_GUEST") == "1":
        import lab.plugin
        from lab.kernel.caps import KernelCaps

        lab.plugin.probe = lambda: KernelCaps(release="6.1-fake", guest=True)
"""


@dataclass
class Guest:
    """The fake kernel choice and guest runner, and what they were asked."""

    behaviour: Callable[[list[str], Path], int] | None = None
    modes: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def choose(self, mode: str) -> choice.Choice:
        self.modes.append(mode)
        if mode == "host":
            return choice.Choice("here", "sctplab: kernel: this one (--kernel host)")
        return choice.Choice("guest", f"sctplab: kernel: {GUEST.describe()} guest (faked)", GUEST)

    def run(self, argv: list[str], *, cwd: Path, timeout: float | None, kernel: GuestKernel | None) -> int:
        folder = Path(next(a for a in argv if a.startswith("--lab-guest-part=")).split("=", 1)[1])
        self.calls.append({"argv": argv, "cwd": cwd, "timeout": timeout, "kernel": kernel,
                           "items": (folder / "items").read_text().splitlines()})
        assert self.behaviour is not None, "no guest should run here"
        return self.behaviour(argv, Path(cwd))


def in_subprocess(argv: list[str], cwd: Path) -> int:
    """The guest part as a subprocess of this machine, marked as in the guest."""
    proc = subprocess.run(argv, cwd=cwd, env={**os.environ, "SCTPLAB_IN_GUEST": "1"},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sys.stdout.write(proc.stdout)
    return proc.returncode


@pytest.fixture
def guest(monkeypatch: pytest.MonkeyPatch) -> Guest:
    fake = Guest()
    monkeypatch.delenv("SCTPLAB_IN_GUEST", raising=False)
    monkeypatch.setattr("lab.plugin.delegate.choose_kernel", fake.choose)
    monkeypatch.setattr("lab.plugin.delegate.run_in_guest", fake.run)
    return fake


def test_a_mixed_file_runs_kernel_tests_in_the_guest_and_the_rest_here(pytester: pytest.Pytester, guest: Guest) -> None:
    pytester.makeconftest(GUEST_CONFTEST)
    pytester.makepyfile(test_mixed=MIXED)
    junit = pytester.path / "out" / "junit.xml"

    def run_and_look(argv: list[str], cwd: Path) -> int:
        status = in_subprocess(argv, cwd)
        guest.calls[-1]["junit written by the guest"] = junit.exists()
        return status

    guest.behaviour = run_and_look
    result = pytester.runpytest(f"--junitxml={junit}", "-rA")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "sctplab: kernel: User-Mode Linux 6.1-fake * guest (faked)",
        "sctplab: 1 test run here on the host kernel; then 2 kernel tests in one pytest session in "
        "the User-Mode Linux 6.1-fake guest",
        "*sctplab: 2 kernel tests in the User-Mode Linux 6.1-fake guest*",
        "*said in the guest*",
        "*sctplab: guest part FAILED*",
        "1 test ran here on the host kernel *",
        "2 kernel tests went to the User-Mode Linux 6.1-fake guest: 1 failed, 1 passed in * "
        "(guest pytest exit status 1)",
        "PASSED test_mixed.py::test_here",
        "PASSED test_mixed.py::test_kernel",
        "FAILED test_mixed.py::test_kernel_fails[[]a::b[]] - AssertionError*",
    ])
    (call,) = guest.calls
    assert call["cwd"] == pytester.path and call["kernel"] == GUEST
    assert call["items"] == [f"{pytester.path}/test_mixed.py::test_kernel",
                             f"{pytester.path}/test_mixed.py::test_kernel_fails[a::b]"]
    assert not call["junit written by the guest"]
    # One JUnit file: the host's, with the guest's tests and their properties in it.
    assert sorted(p.name for p in junit.parent.iterdir()) == ["junit.xml"]
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    assert sorted(cases) == ["test_here", "test_kernel", "test_kernel_fails[a::b]"]
    assert cases["test_kernel_fails[a::b]"].find("failure") is not None
    assert [(p.get("name"), p.get("value")) for p in cases["test_kernel"].iter("property")] == [("where", "guest")]


def test_the_guest_gets_node_ids_and_the_users_options(pytester: pytest.Pytester, guest: Guest) -> None:
    pytester.makepyfile(test_mixed=MIXED.replace("def test_here():", "def test_here():\n        assert False"))
    guest.behaviour = lambda argv, cwd: 0  # ends well but reports nothing: each test it owed is an error
    result = pytester.runpytest("-k", "test_", "--maxfail=3", "--lab-keep-artifacts", "--lab-guest-timeout=50")

    (call,) = guest.calls
    argv = call["argv"]
    assert argv[:3] == [sys.executable, "-m", "pytest"]
    assert argv[3:7] == ["-k", "test_", "--maxfail=3", "--lab-keep-artifacts"]
    assert "--maxfail=2" in argv  # the host failed once already
    assert any(a.startswith("--basetemp=") and a.endswith("-guest") for a in argv)  # not the host's basetemp
    assert call["timeout"] == 50.0 and guest.modes == ["auto"]
    assert len(call["items"]) == 2
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, errors=2)
    result.stdout.fnmatch_lines([
        "*sctplab: did not finish in the User-Mode Linux 6.1-fake guest: its pytest ended (exit status 0 (OK)) "
        "without reporting 2 tests",
        "*sctplab: guest part FAILED*",
    ])


def test_scenario_files_go_to_the_guest(pytester: pytest.Pytester, guest: Guest) -> None:
    shutil.copytree(ROOT / "topologies", pytester.path / "topologies")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "quiet.yaml").write_text(
        "description: No fault at all.\ntopology: dual-homed\ntraffic: {duration: 1}\n")
    pytester.makepyfile(test_pure="def test_pure():\n    pass\n")
    guest.behaviour = lambda argv, cwd: 0
    pytester.runpytest("test_pure.py", "scenarios")
    assert [call["items"] for call in guest.calls] == [[f"{pytester.path}/scenarios/quiet.yaml::quiet"]]


def test_a_broken_guest_fails_the_run_and_says_why(pytester: pytest.Pytester, guest: Guest) -> None:
    pytester.makepyfile(test_mixed=MIXED)

    def broken(argv: list[str], cwd: Path) -> int:
        raise GuestError("the guest kernel stopped without reporting an exit status")

    guest.behaviour = broken
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines([
        "*sctplab: guest part FAILED*",
        "*went to the User-Mode Linux 6.1-fake guest: 2 errors in * (guest pytest no exit status)",
        "the guest part broke down: the guest failed: the guest kernel stopped without reporting an exit status",
    ])

    guest.behaviour = lambda argv, cwd: int(pytest.ExitCode.USAGE_ERROR)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*its pytest ended with exit status 4 (USAGE_ERROR)*"])


def test_an_interrupted_guest_interrupts_the_run(pytester: pytest.Pytester, guest: Guest) -> None:
    pytester.makepyfile(test_mixed=MIXED)

    def interrupted(argv: list[str], cwd: Path) -> int:
        raise KeyboardInterrupt

    guest.behaviour = interrupted
    result = pytester.runpytest(no_reraise_ctrlc=True)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*sctplab: guest part INTERRUPTED*", "*KeyboardInterrupt*", "*1 passed*"])


@pytest.mark.parametrize("args", [
    pytest.param(["-m", "not kernel"], id="deselected"),
    pytest.param(["--collect-only"], id="collect-only"),
    pytest.param(["--fixtures"], id="fixtures"),
    pytest.param(["--markers"], id="markers"),
    pytest.param(["-k", "here"], id="keyword"),
])
def test_no_guest_boots_when_no_kernel_test_runs(pytester: pytest.Pytester, guest: Guest, args: list[str]) -> None:
    pytester.makepyfile(test_mixed=MIXED)
    result = pytester.runpytest(*args)
    assert guest.calls == [] and guest.modes == []
    assert result.ret == pytest.ExitCode.OK
    assert "guest part" not in result.stdout.str()


def test_no_kernel_choice_without_kernel_tests(pytester: pytest.Pytester, guest: Guest) -> None:
    pytester.makepyfile(test_pure="def test_pure():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert guest.modes == [] and guest.calls == []


def test_lab_kernel_host_runs_everything_here(
    pytester: pytest.Pytester, guest: Guest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lab.plugin.probe", lambda: LACKING)
    pytester.makepyfile(test_mixed=MIXED)
    result = pytester.runpytest("--lab-kernel=host", "-rs")
    assert guest.modes == ["host"] and guest.calls == []
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*kernel 0.0-test lacks sctp*"])


def test_lab_kernel_guest_is_what_the_kernel_choice_gets(pytester: pytest.Pytester, guest: Guest) -> None:
    pytester.makepyfile(test_mixed=MIXED)
    guest.behaviour = lambda argv, cwd: 0
    pytester.runpytest("--lab-kernel=guest")
    assert guest.modes == ["guest"] and len(guest.calls) == 1


def test_a_host_failure_with_x_stops_before_the_guest(pytester: pytest.Pytester, guest: Guest) -> None:
    pytester.makepyfile(test_mixed=MIXED.replace("def test_here():", "def test_here():\n        assert False"))
    result = pytester.runpytest("-x")
    assert guest.calls == []
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)


def test_inside_the_guest_nothing_is_delegated_again(
    pytester: pytest.Pytester, guest: Guest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCTPLAB_IN_GUEST", "1")
    monkeypatch.setattr("lab.plugin.probe", lambda: KernelCaps(release="6.1-fake", guest=True))
    pytester.makepyfile(test_kernel="import pytest\n\n@pytest.mark.kernel\ndef test_k():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)
    assert guest.modes == [] and guest.calls == []
