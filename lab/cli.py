"""``sctplab`` / ``python -m lab``: the lab from the command line.

Commands that need kernel work run in a User-Mode Linux guest when this
kernel lacks SCTP, netem or veth (``--kernel auto``, the default).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from lab.errors import LabError

if TYPE_CHECKING:
    from lab.sctp.profile import TimerProfile

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sctplab", description="SCTP multihoming failover lab")
    parser.add_argument("--kernel", choices=("auto", "host", "guest"), default=os.environ.get("SCTPLAB_KERNEL", "auto"),
                        help="where kernel work runs (default: auto = guest kernel if this one lacks SCTP/netem)")
    parser.add_argument("--guest-timeout", type=float, default=None, metavar="S",
                        help="stop the guest kernel after S seconds")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="fail the primary path of a live association and show it survives")
    demo.add_argument("--topology", default="dual-homed", help="topology name or file (default: dual-homed)")
    demo.add_argument("--profile", default="fast", help="SCTP timer profile (default: fast)")
    demo.add_argument("--rate", type=float, default=100.0, help="messages per second (default: 100)")
    demo.add_argument("--hold", type=float, default=3.0, help="seconds of traffic before, during and after the fault")
    commands.add_parser("doctor", help="what this kernel can do, and whether a guest kernel is available")
    return parser


def _doctor() -> int:
    from lab.guest.uml import find_guest_kernel
    from lab.kernel.caps import probe

    caps = probe()
    print(f"this kernel: {caps.describe()}")
    try:
        guest = find_guest_kernel()
        print(f"guest kernel: {guest.describe()}, available")
    except LabError as err:
        print(f"guest kernel: {err}")
        return 0 if caps.can() else 1
    return 0


def _demo_inputs(args: argparse.Namespace) -> tuple[Path, "TimerProfile"]:
    """Resolve and validate the demo's files (before any guest boots)."""
    from lab.model.topology import load_topology, resolve_topology_path
    from lab.sctp.profile import get_profile

    search = [Path.cwd() / "topologies", Path(__file__).parent.parent / "topologies"]
    topology = resolve_topology_path(args.topology, search)
    load_topology(topology)
    return topology, get_profile(args.profile)


def _run(args: argparse.Namespace) -> int:
    if args.command == "doctor":
        return _doctor()
    from lab.demo import run_demo

    topology, profile = _demo_inputs(args)
    return 0 if run_demo(topology, profile, rate=args.rate, hold=args.hold) else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.command != "doctor":
            from lab.kernel.choice import choose_kernel

            _demo_inputs(args)

            from lab.kernel.caps import in_guest

            choice = choose_kernel(args.kernel)
            if not in_guest():  # the host already said which kernel runs
                print(choice.banner, flush=True)
            if choice.where == "guest":
                from lab.guest import run_in_guest

                return run_in_guest([sys.executable, "-m", "lab", *argv], timeout=args.guest_timeout, kernel=choice.guest)
        return _run(args)
    except LabError as err:
        print(f"sctplab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sctplab: interrupted", file=sys.stderr)
        return 130
