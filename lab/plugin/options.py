"""The plugin's options and ini keys, and where they point (artifacts, topology directories)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

__all__ = ["add_options", "option", "artifacts_root", "topology_dirs", "kernel_required"]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sctplab", "SCTP multihoming lab")
    group.addoption(
        "--lab-kernel",
        choices=("auto", "host", "guest"),
        default=None,
        help="where kernel tests run: auto (in a guest kernel if this one lacks SCTP/netem), host, guest; "
        "the other tests always run here. ini: lab_kernel",
    )
    group.addoption(
        "--lab-guest-timeout",
        type=float,
        default=None,
        help="stop the guest kernel after this many seconds. ini: lab_guest_timeout",
    )
    group.addoption(
        "--lab-require-kernel",
        action="store_true",
        default=None,
        help="fail kernel tests instead of skipping them when no capable kernel is available. ini: lab_require_kernel",
    )
    group.addoption(
        "--lab-artifacts",
        default=None,
        metavar="DIR",
        help="where per-test artifacts (pcaps, timeline, messages) go; default: artifacts/. ini: lab_artifacts",
    )
    group.addoption(
        "--lab-keep-artifacts",
        action="store_true",
        default=False,
        help="keep the artifacts of passing tests too (failing tests always keep theirs)",
    )
    group.addoption(  # internal: the host's pytest gives it to the guest's (lab/plugin/delegate.py)
        "--lab-guest-part",
        default=None,
        metavar="DIR",
        help=argparse.SUPPRESS,
    )
    parser.addini("lab_kernel", "default for --lab-kernel", default="auto")
    parser.addini("lab_artifacts", "default for --lab-artifacts", default="artifacts")
    parser.addini("lab_require_kernel", "default for --lab-require-kernel", type="bool", default=False)
    parser.addini("lab_guest_timeout", "default for --lab-guest-timeout (seconds, 0 = none)", default="0")
    parser.addini("lab_topologies", "directories searched for topology names", type="paths", default=[])


def option(config: pytest.Config, name: str) -> str:
    """``--lab-NAME`` if given, else the ini key ``lab_NAME``."""
    value = config.getoption(f"--lab-{name.replace('_', '-')}")
    return str(value) if value is not None else str(config.getini(f"lab_{name}"))


def kernel_required(config: pytest.Config) -> bool:
    return bool(config.getoption("--lab-require-kernel") or config.getini("lab_require_kernel"))


def artifacts_root(config: pytest.Config) -> Path:
    """Where artifacts go: --lab-artifacts (ini lab_artifacts), relative to the rootdir."""
    root = Path(config.getoption("--lab-artifacts") or config.getini("lab_artifacts"))
    return root if root.is_absolute() else config.rootpath / root


def topology_dirs(config: pytest.Config) -> list[Path]:
    """Where topology names are looked up: ini lab_topologies, then <rootdir>/topologies, ./topologies."""
    return [*config.getini("lab_topologies"), config.rootpath / "topologies", Path.cwd() / "topologies"]
