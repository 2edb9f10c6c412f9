"""Pure tier: what the guest launcher hands the guest (environment, directory, argv)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lab.guest.uml import _guest_environment, _write_exchange


def test_environment_carries_through_with_the_guest_marker() -> None:
    env = _guest_environment({"FOO": "bar baz", "LD_PRELOAD": "/x.so", "PWD": "/old", "BASH_FUNC_f%%": "() {}"})
    assert env["FOO"] == "bar baz"
    assert env["SCTPLAB_IN_GUEST"] == "1"
    assert "LD_PRELOAD" not in env and "PWD" not in env and "BASH_FUNC_f%%" not in env


def test_env_script_restores_environment_directory_and_argv_exactly(tmp_path: Path) -> None:
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    argv = ["python", "-c", "print('it')", "a b", "$HOME", "`x`", ""]
    _write_exchange(tmp_path, argv, workdir, {"ODD": "quote ' and \" and $x", "EMPTY": ""})
    show = '. "$0"; pwd; printf "%s\\n" "$ODD" "[$EMPTY]" "$#"; for a in "$@"; do printf "[%s]\\n" "$a"; done'
    out = subprocess.run(["sh", "-c", show, str(tmp_path / "env.sh")], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        str(workdir), "quote ' and \" and $x", "[]", str(len(argv)), *(f"[{a}]" for a in argv)
    ]
    assert (tmp_path / "init").stat().st_mode & 0o111


def test_env_script_changes_to_the_working_directory(tmp_path: Path) -> None:
    workdir = tmp_path / "my project"
    workdir.mkdir()
    _write_exchange(tmp_path, ["true"], workdir, {})
    out = subprocess.run(["sh", "-c", f". '{tmp_path}/env.sh'; pwd; printf '%s|' \"$@\""], capture_output=True, text=True)
    assert out.stdout.splitlines() == [str(workdir), "true|"]
