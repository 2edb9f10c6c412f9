"""Turn a judged run into its report: report.json and timeline.png in the run's folder."""

from __future__ import annotations

import platform
from pathlib import Path

from lab.kernel.caps import in_guest
from lab.report.model import (AssociationRecord, Counts, DataSeries, HeartbeatRecord, PathRef, Report, StallRecord,
                              StateChange, StepRecord, bucket_counts)
from lab.report.timeline import render_timeline
from lab.scenario.judge import Judgement
from lab.scenario.runner import Run

__all__ = ["BUCKET", "build_report", "write_report"]

#: Width (s) of the DATA-per-path buckets in the report and its picture.
BUCKET = 0.1


def _kernel() -> str:
    return f"Linux {platform.release()}" + (" (User-Mode Linux guest)" if in_guest() else "")


def _associations(run: Run) -> tuple[AssociationRecord, ...]:
    """Every association the kernel showed in the run (black-box), matched to the wire's by their ports."""
    watcher = run.watcher
    if watcher is None:
        return ()
    on_wire = {frozenset((a.client_port, a.server_port)): a for a in run.evidence.wire.associations()}
    out = []
    for (node, assoc_id), assoc in sorted(watcher.associations.items()):
        seen = on_wire.get(frozenset((assoc.local_port, assoc.peer_port)))
        out.append(AssociationRecord(node, assoc_id, assoc.local_port, assoc.peer_port,
                                     tuple(path.address for path in assoc.paths),
                                     None if seen is None else (seen.client_tag, seen.server_tag)))
    return tuple(out)


def build_report(run: Run, judgement: Judgement) -> Report:
    """The report of ``run`` as judged; times are seconds from the traffic's start."""
    scenario, topology, ev = run.loaded.scenario, run.loaded.topology, run.evidence
    delivery = run.delivery
    wire = ev.wire
    end = run.clock(run.end)
    paths = tuple(PathRef(name, *(str(a) for a in topology.path_addresses(name))) for name in topology.path_map)
    data = tuple(
        DataSeries(ref.name, BUCKET, bucket_counts([run.clock(ev.when(c)) for c in wire.data(ref.client, ref.server)],
                                                   bucket=BUCKET, end=end))
        for ref in paths
    )
    states: list[StateChange] = []
    if ev.paths is not None:
        for side, peers in (("client", {ref.server for ref in paths}), ("server", {ref.client for ref in paths})):
            for peer in sorted(peers):
                states += [StateChange(run.clock(t), side, peer, state)  # type: ignore[arg-type]
                           for t, state in ev.polled(side, peer)]
    if delivery is not None:
        stall = delivery.longest_stall
        counts = Counts(delivery.sent, delivery.delivered, len(delivery.lost), len(delivery.duplicated),
                        len(delivery.reordered), len(run.log.errors()))
    else:  # the user's applications: what the wire shows (DATA chunks by TSN), the stall between them
        stall = ev.wire_stall(run.t0, run.end)
        sent = {c.tsn for c in wire.data(direction="out") if c.src in set(ev.client)}
        arrived = {c.tsn for c in ev.data_to_server()}
        counts = Counts(len(sent), len(arrived), len(sent - arrived), 0, 0, len(run.log.errors()))
    handshake = wire.handshake()
    return Report(
        scenario=scenario.name,
        description=scenario.description,
        topology=topology.name,
        profile=scenario.profile.describe(),
        kernel=_kernel(),
        started=run.started,
        duration=round(end, 6),
        verdict="pass" if judgement.passed else "fail",
        counts=counts,
        longest_stall=None if stall is None else StallRecord(
            stall.seconds, run.clock(stall.start), stall.before_seq, stall.after_seq,
            None if judgement.stall is None else (judgement.stall.low, judgement.stall.high)),
        paths=paths,
        primary=topology.primary_path,
        steps=tuple(StepRecord(run.clock(s.at), s.action, s.detail) for s in run.steps),
        states=tuple(sorted(states, key=lambda s: s.at)),
        data=data,
        windows=tuple(judgement.windows),
        checks=tuple(judgement.checks),
        heartbeats=tuple(HeartbeatRecord(src, dst, count.sent, count.acked)
                         for (src, dst), count in sorted(wire.heartbeat_matrix().items())),
        init={"client": handshake.init_addresses, "server": handshake.init_ack_addresses},
        associations=_associations(run),
        artifacts={"timeline": "timeline.png", "path states": "timeline.json",
                   **({"messages": "messages.jsonl"} if delivery is not None else {}),
                   **{f"{side} log": app.log.name for side, app in run.apps.items()},
                   **{f"capture {p.name}": p.path.name for p in run.captures.points}},
    )


def write_report(report: Report, folder: Path) -> Path:
    """Write report.json and timeline.png into ``folder``; return report.json's path."""
    render_timeline(report, folder / "timeline.png")
    return report.write(folder)
