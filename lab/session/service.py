"""The lab service's process: ``python -m lab.session.service --tag T --topology F ... --socket S | --console D``.

It runs where the kernel work runs (this kernel, or a guest) until ``down``:
the lab (:mod:`lab.session.running`) in the main thread, its requests
(:mod:`lab.session.transport`) on a UNIX socket or, in a guest, on a console
line the host's relay (:mod:`lab.session.relay`) carries. SIGTERM, SIGINT and
SIGHUP bring it down as ``down`` would.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Sequence

from lab.errors import LabError
from lab.session.running import RunningLab
from lab.session.transport import Requests, serve_console, serve_socket

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.session.service")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--topology", required=True, type=Path)
    parser.add_argument("--profile", required=True, help="a profile name (ignored with --scenario: its own)")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--scenario", type=Path, help="replay this scenario first, when asked (replay --keep)")
    parser.add_argument("--out", type=Path, help="the scenario's report folder")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--socket", type=Path, help="listen on this UNIX socket")
    where.add_argument("--console", help="serve the multiplexed requests on this console line (in a guest)")
    args = parser.parse_args(argv)
    from lab.model.profile import get_profile
    from lab.model.scenario import load_scenario

    try:
        loaded = load_scenario(args.scenario, topology_dirs=[args.topology.parent]) if args.scenario else None
        profile = loaded.scenario.profile if loaded else get_profile(args.profile)
    except LabError as err:
        print(f"sctplab: {err}", flush=True)
        return 2
    lab = RunningLab(args.topology, tag=args.tag, profile=profile, rate=args.rate, scenario=loaded, out=args.out)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # go down as "down" would
        signal.signal(signum, lambda *_: lab.stop())
    requests = Requests(lab)
    if args.socket:
        serve_socket(args.socket, requests)
    else:
        serve_console(args.console, requests)
    try:
        return lab.run()
    finally:
        if args.socket:
            args.socket.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
