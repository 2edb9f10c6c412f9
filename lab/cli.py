"""``sctplab`` / ``python -m lab``: the lab from the command line.

Commands that need kernel work run in a User-Mode Linux guest when this
kernel lacks SCTP, netem or veth (``--kernel auto``, the default).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from lab.errors import LabError

if TYPE_CHECKING:
    from lab.model.scenario import LoadedScenario
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
    replay = commands.add_parser("replay", help="run a scenario file with a live view; write report.json and timeline.png")
    replay.add_argument("scenario", help="a scenario file, e.g. scenarios/primary-blackhole.yaml")
    replay.add_argument("--step", action="store_true", help="pause before each step until Enter is pressed")
    replay.add_argument("--out", default=None, metavar="DIR",
                        help="where the report, picture and captures go (default: artifacts/replay/<scenario>)")
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


def _topology_dirs() -> list[Path]:
    """Where topology names are looked up: ./topologies, then the project's own."""
    return [Path.cwd() / "topologies", Path(__file__).parent.parent / "topologies"]


def _demo_inputs(args: argparse.Namespace) -> tuple[Path, "TimerProfile"]:
    """Resolve and validate the demo's files (before any guest boots)."""
    from lab.model.topology import load_topology, resolve_topology_path
    from lab.sctp.profile import get_profile

    topology = resolve_topology_path(args.topology, _topology_dirs())
    load_topology(topology)
    return topology, get_profile(args.profile)


def _scenario(args: argparse.Namespace) -> "LoadedScenario":
    """Load and check the scenario and its topology (before any guest boots)."""
    from lab.model.scenario import load_scenario

    return load_scenario(Path(args.scenario), topology_dirs=_topology_dirs())


def _replay(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lab.scenario.checks import judge
    from lab.scenario.reporting import build_report, write_report
    from lab.scenario.runner import run_scenario
    from lab.ui.live import LiveView
    from lab.ui.verdict import show_verdict

    loaded = _scenario(args)
    console = Console(highlight=False)
    folder = Path(args.out) if args.out else Path.cwd() / "artifacts" / "replay" / loaded.scenario.name
    console.print(f"[bold]{loaded.scenario.name}[/]: {loaded.scenario.description}")
    console.print(f"topology {loaded.topology.name} ({loaded.topology_file}), profile "
                  f"{loaded.scenario.profile.describe()}", markup=False)
    live = os.environ.get("SCTPLAB_LIVE", "1" if console.is_terminal else "0") == "1"
    view = LiveView(loaded, console=console, live=live, step_mode=args.step)
    try:
        run = run_scenario(loaded, folder=folder, observer=view)
    finally:
        view.close()
    report = build_report(run, judge(run))
    path = write_report(report, folder)
    show_verdict(console, report, path)
    return 0 if report.verdict == "pass" else 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "doctor":
        return _doctor()
    if args.command == "replay":
        return _replay(args)
    from lab.demo import run_demo

    topology, profile = _demo_inputs(args)
    return 0 if run_demo(topology, profile, rate=args.rate, hold=args.hold) else 1


def _check_inputs(args: argparse.Namespace) -> None:
    if args.command == "replay":
        _scenario(args)
    else:
        _demo_inputs(args)


def _guest_environment() -> dict[str, str]:
    """Our environment, plus what the guest's terminal cannot know: our size, and whether we are one."""
    size = shutil.get_terminal_size()
    live = "1" if sys.stdout.isatty() and not os.environ.get("CI") else "0"
    return {**os.environ, "COLUMNS": str(size.columns), "LINES": str(size.lines),
            "SCTPLAB_LIVE": os.environ.get("SCTPLAB_LIVE", live)}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    try:
        if args.command != "doctor":
            from lab.kernel.choice import choose_kernel

            _check_inputs(args)

            from lab.kernel.caps import in_guest

            choice = choose_kernel(args.kernel)
            if not in_guest():  # the host already said which kernel runs
                print(choice.banner, flush=True)
            if choice.where == "guest":
                from lab.guest import run_in_guest

                return run_in_guest([sys.executable, "-m", "lab", *argv], timeout=args.guest_timeout, kernel=choice.guest,
                                    env=_guest_environment(), stdin=args.command == "replay" and args.step)
        return _run(args)
    except LabError as err:
        print(f"sctplab: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sctplab: interrupted", file=sys.stderr)
        return 130
