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

from lab.errors import ConfigError, LabError

if TYPE_CHECKING:
    from lab.model.catalog import Kind
    from lab.model.scenario import LoadedScenario

__all__ = ["main", "DEMO_SCENARIO"]

#: What ``sctplab demo`` replays: the shipped scenario of a primary path that drops everything, and comes back.
DEMO_SCENARIO = "primary-blackhole"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sctplab", description="SCTP multihoming failover lab")
    parser.add_argument("--kernel", choices=("auto", "host", "guest"), default=os.environ.get("SCTPLAB_KERNEL", "auto"),
                        help="where kernel work runs (default: auto = guest kernel if this one lacks SCTP/netem)")
    parser.add_argument("--guest-timeout", type=float, default=None, metavar="S",
                        help="stop the guest kernel after S seconds")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="fail the primary path of a live association and show it survives "
                                            f"(replays the shipped scenario {DEMO_SCENARIO})")
    demo.add_argument("--out", default=None, metavar="DIR",
                      help=f"where the report, picture and captures go (default: artifacts/replay/{DEMO_SCENARIO})")
    replay = commands.add_parser("replay", help="run a scenario with a live view; write report.json and timeline.png")
    replay.add_argument("scenario", help="a scenario name (./scenarios, then the shipped ones: sctplab list)"
                                         " or file, e.g. primary-blackhole or scenarios/primary-blackhole.yaml")
    replay.add_argument("--step", action="store_true", help="pause before each step until Enter is pressed")
    replay.add_argument("--out", default=None, metavar="DIR",
                        help="where the report, picture and captures go (default: artifacts/replay/<scenario>)")
    replay.add_argument("--keep", action="store_true",
                        help="leave the scenario's network up afterwards, as a lab (see: up, status, shell, down)")
    commands.add_parser("doctor", help="what this kernel can do, whether a guest kernel is available, what to install")
    commands.add_parser("list", help="the topologies and scenarios a name can find: yours (./topologies, ./scenarios)"
                                     " and the shipped ones")
    _session_parsers(commands)
    return parser


def _session_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from lab.model.protocol import CHUNK_TYPES
    from lab.model.faultspec import FAULT_KINDS
    from lab.model.netem import DIRECTIONS, PARAMETERS

    def lab_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--lab", metavar="TAG", help="which lab (default: the only one up)")

    up = commands.add_parser("up", help="bring a lab up and leave it running (with a steady association)")
    up.add_argument("topology", help="topology name (./topologies, then the shipped ones: sctplab list) or file,"
                                     " e.g. dual-homed")
    up.add_argument("--profile", default="fast", help="SCTP timer profile of the lab's association (default: fast)")
    up.add_argument("--rate", type=float, default=10.0,
                    help="messages/s on the lab's association (default: 10; 0: an idle association)")
    lab_option(commands.add_parser("down", help="restore every fault, close the association, remove the lab"))
    status = commands.add_parser("status", help="the lab's links, faults, traffic and every association's paths")
    lab_option(status)
    status.add_argument("--watch", action="store_true", help="redraw twice a second until Ctrl-C")
    status.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    directions = DIRECTIONS
    fail = commands.add_parser(
        "fail", help="inject a fault on a link (default: blackhole)",
        epilog=f"kinds: {', '.join(FAULT_KINDS)}. Settings are the scenario file's keys as key=value, e.g. "
               "side=far node=client count=5 period=2s duty=0.5 chunks=HEARTBEAT-ACK,SACK. Chunk types: "
               + ", ".join(CHUNK_TYPES))
    lab_option(fail)
    fail.add_argument("link", help="a link of the lab's topology, e.g. path-a")
    fail.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="the fault's settings")
    fail.add_argument("--kind", default="blackhole", choices=list(FAULT_KINDS), help="the fault (default: blackhole)")
    fail.add_argument("--direction", choices=directions, help="one direction only (ends a/b of the link)")
    impair = commands.add_parser(
        "impair", help="set or change netem impairments on a link",
        epilog="settings: " + ", ".join(f"{p.short}= ({p.meaning}, {p.unit})" for p in PARAMETERS)
               + "; e.g. delay=80ms jitter=10ms loss=5% rate=2mbit")
    lab_option(impair)
    impair.add_argument("link", help="a link of the lab's topology, e.g. path-b")
    impair.add_argument("settings", nargs="+", metavar="KEY=VALUE", help="e.g. delay=80ms loss=5%%")
    impair.add_argument("--direction", choices=directions, help="one direction only (ends a/b of the link)")
    restore = commands.add_parser("restore", help="undo the faults on a link (or all), verified by snapshots")
    lab_option(restore)
    which = restore.add_mutually_exclusive_group(required=True)
    which.add_argument("link", nargs="?", help="the link whose faults to undo")
    which.add_argument("--all", action="store_true", help="undo every fault")
    shell = commands.add_parser("shell", help="a shell (or one command) in a node's network namespace")
    lab_option(shell)
    shell.add_argument("node", help="a node of the lab's topology, e.g. client")
    shell.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD", help="run this instead of a shell")
    run = commands.add_parser("run", help="start a process in a node's namespace; it runs until it ends, stop or down",
                              usage="sctplab run NODE [--name NAME] [--lab TAG] -- CMD...",
                              epilog="The command follows --, so its own options stay its own. Its output goes to"
                                     " a log: sctplab logs NAME [--follow].")
    lab_option(run)
    run.add_argument("node", help="a node of the lab's topology, e.g. server")
    run.add_argument("--name", help="the process's name, for logs and stop (default: the program's, made unique)")
    ps = commands.add_parser("ps", help="the processes started with run: node, pid, status, uptime, command, log")
    lab_option(ps)
    ps.add_argument("--json", action="store_true", help="print them as JSON")
    logs = commands.add_parser("logs", help="print a process's output (stdout and stderr)")
    lab_option(logs)
    logs.add_argument("name", help="the process's name (sctplab ps)")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing until it ends or Ctrl-C")
    stop = commands.add_parser("stop", help="stop a process: a signal to its process group, SIGKILL after a grace period")
    lab_option(stop)
    stop.add_argument("name", help="the process's name (sctplab ps)")
    stop.add_argument("--signal", default="TERM", metavar="SIG", help="TERM, INT, HUP, KILL... or a number (default: TERM)")
    stop.add_argument("--grace", type=float, default=5.0, metavar="S",
                      help="seconds before SIGKILL (default: 5)")
    clean = commands.add_parser("clean", help="remove what labs and killed runs left behind (only the lab's own)")
    clean.add_argument("--dry-run", action="store_true", help="only list what would be removed")


def _doctor() -> int:
    from lab.doctor import diagnose
    from lab.kernel.choice import choose_kernel

    findings, runnable = diagnose()
    for finding in findings:
        print(f"{'ok     ' if finding.ok else 'MISSING'} {finding.what}: {finding.detail}")
        if finding.fix:
            print(f"        install: {finding.fix}")
    if not runnable:
        print("sctplab: the lab cannot run its kernel work here; install what is listed above")
        return 1
    print(choose_kernel("auto").banner)
    tools = [f for f in findings if not f.what.startswith("this kernel") and f.what != "guest kernel"]
    return 0 if all(f.ok for f in tools) else 1


def _own_dirs(kind: "Kind") -> list[Path]:
    """Where the user's own topologies or scenarios are: ./topologies, ./scenarios (the shipped ones come after)."""
    from lab.model.catalog import FOLDERS

    return [Path.cwd() / FOLDERS[kind]]


def _topology_dirs() -> list[Path]:
    """Where topology names are looked up before the shipped topologies: ./topologies."""
    return _own_dirs("topology")


def _list() -> int:
    """``sctplab list``: every topology and scenario a name can find, yours and the shipped ones."""
    from lab.model.catalog import entries

    usage = {"topology": "sctplab up NAME, @pytest.mark.topology(\"NAME\"), topology: NAME in a scenario",
             "scenario": "sctplab replay NAME"}
    lines: list[str] = []
    kinds: tuple[tuple[Kind, str], ...] = (("topology", "Topologies"), ("scenario", "Scenarios"))
    for kind, title in kinds:
        found = entries(kind, _own_dirs(kind))
        lines += [""] if lines else []
        lines.append(f"{title} ({usage[kind]}):" if found else f"{title}: none")
        width = max((len(entry.name) for entry in found), default=0)
        indent = " " * (width + 13)
        for entry in found:
            lines.append(f"  {entry.name:<{width}}  {'shipped' if entry.shipped else 'yours':<7}  {entry.description}")
            if entry.tags:
                lines.append(f"{indent}tags: {', '.join(entry.tags)}")
            shown = Path(os.path.relpath(entry.path)) if entry.path.is_relative_to(Path.cwd()) else entry.path
            lines.append(f"{indent}{shown}" + ("  (not used: yours has this name)" if entry.hidden else ""))
    try:
        print("\n".join(lines), flush=True)
    except BrokenPipeError:  # sctplab list | head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _scenario(args: argparse.Namespace) -> "LoadedScenario":
    """Load and check the scenario and its topology (before any guest boots)."""
    from lab.model.catalog import find
    from lab.model.scenario import load_scenario

    if args.command == "demo":  # the shipped story, whatever ./scenarios holds
        path = find("scenario", DEMO_SCENARIO, [])
    else:
        path = find("scenario", args.scenario, _own_dirs("scenario"))
    # as pytest collects it: a topology name also finds the topologies/ next to the scenario's folder
    return load_scenario(path, topology_dirs=[*_topology_dirs(), path.parent.parent / "topologies"])


def _replay_folder(loaded: "LoadedScenario", out: str | None) -> Path:
    return Path(out) if out else Path.cwd() / "artifacts" / "replay" / loaded.scenario.name


def _replay(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lab.ui.replay import replay

    loaded = _scenario(args)
    console = Console(highlight=False)
    live = os.environ.get("SCTPLAB_LIVE", "1" if console.is_terminal else "0") == "1"
    step = getattr(args, "step", False)
    passed = replay(loaded, console=console, folder=_replay_folder(loaded, args.out), live=live, step=step)
    return 0 if passed else 1


def _where(args: argparse.Namespace) -> str:
    """Where a lab that stays up runs its kernel work: ``host`` or ``guest``."""
    from lab.kernel.choice import choose_kernel

    choice = choose_kernel(args.kernel)
    print(choice.banner, flush=True)
    return "host" if choice.where == "here" else "guest"


def _session(args: argparse.Namespace) -> int:
    """The commands of a lab that stays up; they run here and talk to the lab."""
    from lab.session import commands

    command = args.command
    if command == "up":
        from lab.model.topology import load_topology, resolve_topology_path
        from lab.model.profile import get_profile

        topology = resolve_topology_path(args.topology, _topology_dirs())
        load_topology(topology)
        get_profile(args.profile)
        if args.rate < 0:
            raise ConfigError(f"sctplab up: --rate {args.rate:g}: expected messages/s >= 0")
        return commands.up(topology, profile=args.profile, rate=args.rate, where=_where(args))
    if command == "replay":
        loaded = _scenario(args)
        return commands.replay_and_keep(loaded.file, loaded.topology_file,
                                        folder=_replay_folder(loaded, args.out), step=args.step, where=_where(args))
    if command == "down":
        return commands.down(args.lab)
    if command == "status":
        return commands.status(args.lab, watch=args.watch, as_json=args.json)
    if command == "fail":
        return commands.fail(args.lab, args.link, kind=args.kind, direction=args.direction, words=args.settings)
    if command == "impair":
        return commands.impair(args.lab, args.link, direction=args.direction, words=args.settings)
    if command == "restore":
        return commands.restore(args.lab, None if args.all else args.link)
    if command == "shell":
        argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        return commands.shell(args.lab, args.node, argv)
    if command == "run":
        return commands.run(args.lab, args.node, args.argv, name=args.name)
    if command == "ps":
        return commands.ps(args.lab, as_json=args.json)
    if command == "logs":
        return commands.logs(args.lab, args.name, follow=args.follow)
    if command == "stop":
        return commands.stop(args.lab, args.name, signame=args.signal, grace=args.grace)
    return commands.clean(dry_run=args.dry_run)


_SESSION_COMMANDS = ("up", "down", "status", "fail", "impair", "restore", "shell", "run", "ps", "logs", "stop", "clean")
#: The options before the command that take a value (``_split_run`` skips them).
_VALUED_OPTIONS = ("--kernel", "--guest-timeout")


def _split_run(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``sctplab [OPTIONS] run ... -- CMD...``: the words up to ``--``, and the command after it (None if
    this is not ``run`` or there is no ``--``)."""
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        index += 2 if argv[index] in _VALUED_OPTIONS else 1
    if index < len(argv) and argv[index] == "run" and "--" in argv[index:]:
        cut = argv.index("--", index)
        return argv[:cut], argv[cut + 1:]
    return argv, None


def _run(args: argparse.Namespace) -> int:
    if args.command == "doctor":
        return _doctor()
    return _replay(args)  # replay or demo


def _guest_environment() -> dict[str, str]:
    """Our environment, plus what the guest's terminal cannot know: our size, and whether we are one."""
    size = shutil.get_terminal_size()
    live = "1" if sys.stdout.isatty() and not os.environ.get("CI") else "0"
    return {**os.environ, "COLUMNS": str(size.columns), "LINES": str(size.lines),
            "SCTPLAB_LIVE": os.environ.get("SCTPLAB_LIVE", live)}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    head, command = _split_run(argv)
    args, extra = parser.parse_known_args(head)
    if extra:  # settings may follow options: fail path-a --kind flap count=5
        if args.command in ("fail", "impair") and all("=" in word and not word.startswith("-") for word in extra):
            args.settings += extra
        elif args.command == "run":
            parser.error(f"unrecognized arguments: {' '.join(extra)} (put the command after --: "
                         "sctplab run NODE -- CMD...)")
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "run":
        args.argv = command or []
    try:
        if args.command == "list":
            return _list()
        if args.command in _SESSION_COMMANDS or (args.command == "replay" and args.keep):
            return _session(args)
        if args.command != "doctor":
            from lab.kernel.choice import choose_kernel

            _scenario(args)  # checked before any guest boots

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
