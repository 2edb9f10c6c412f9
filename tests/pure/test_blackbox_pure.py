"""The black-box kernel view and process helpers, without a kernel: /proc/net/sctp parsing, the watcher's
samples and queries, exit statuses and log tails."""

from __future__ import annotations

import json
from pathlib import Path

from lab.events import EventLog
from lab.evidence.associations import AssociationSample, AssociationWatcher
from lab.kernel.process import describe_status, tail
from lab.kernel.sctpproc import parse, parse_endpoints

ASSOCS = """\
 ASSOC     SOCK   STY SST ST HBKT ASSOC-ID TX_QUEUE RX_QUEUE UID INODE LPORT RPORT LADDRS <-> RADDRS HBINT INS OUTS MAXRT T1X T2X RTXC wmema wmemq sndbuf rcvbuf
a9b110e5 4b7c563d 2   1   3  0       3     1024        0       0   137 46014  5201  198.18.1.1 198.18.2.1 <-> *198.18.1.2 198.18.2.2 \t      20    10    10    4    0    0        7     1025     1024   212992   212992
"""
REMADDR = """\
ADDR ASSOC_ID HB_ACT RTO MAX_PATH_RTX REM_ADDR_RTX START STATE
198.18.1.2  3 1 16 2 1 0 1
198.18.2.2  3 1 20 3 0 0 2
"""
EPS = """\
 ENDPT     SOCK   STY SST HBKT LPORT   UID INODE LADDRS
ffff8880 ffff8881 2   10  29   5201     0   2211 198.18.1.2 198.18.2.2
ffff8882 ffff8883 2   1   5    46014    0   137 198.18.1.1 198.18.2.1
"""


def test_proc_files_give_timers_inode_and_listening_ports() -> None:
    (assoc,) = parse(ASSOCS, REMADDR, tick=0.01)
    assert (assoc.inode, assoc.max_retrans, assoc.hb_interval_s) == (137, 4, 0.2)
    assert [(p.address, p.state, p.max_retrans, p.primary) for p in assoc.paths] == [
        ("198.18.1.2", "PF", 2, True), ("198.18.2.2", "ACTIVE", 3, False)]
    assert parse_endpoints(EPS) == {5201: ("198.18.1.2", "198.18.2.2"), 46014: ("198.18.1.1", "198.18.2.1")}
    assert parse_endpoints("") == {}


def sample(at: float, peer: str, state: str, rto: int = 100) -> AssociationSample:
    return AssociationSample(at, "client", 3, 46014, 5201, peer, state, rto, 0, 2, peer.endswith("1.2"), "ESTABLISHED")


def test_the_watcher_keeps_changes_and_answers_by_side_peer_and_ports(tmp_path: Path) -> None:
    watcher = AssociationWatcher({"client": "ns-client"}, tick=0.01, keep_every=1.0)
    for item in (sample(1.0, "198.18.1.2", "ACTIVE"), sample(1.02, "198.18.1.2", "ACTIVE"),
                 sample(1.04, "198.18.1.2", "PF", 200), sample(1.5, "198.18.1.2", "INACTIVE", 400),
                 sample(1.6, "198.18.2.2", "ACTIVE")):
        watcher._keep(item)
    assert [s.at for s in watcher.samples] == [1.0, 1.04, 1.5, 1.6], "unchanged readings are not kept"
    assert watcher.states("client", "198.18.1.2") == [(1.0, "ACTIVE"), (1.04, "PF"), (1.5, "INACTIVE")]
    latest = watcher.latest("client", "198.18.1.2", ports=(46014, 5201))
    assert latest is not None and latest.rto_ms == 400
    assert watcher.latest("client", "198.18.1.2", ports=(1, 2)) is None
    log = EventLog()
    watcher.save(tmp_path / "timeline.json", log)
    saved = json.loads((tmp_path / "timeline.json").read_text())
    assert saved["source"].startswith("/proc/net/sctp") and len(saved["paths"]) == 4


def test_exit_statuses_and_log_tails_read_as_words(tmp_path: Path) -> None:
    assert describe_status(None) == "running"
    assert describe_status(3) == "exit status 3"
    assert describe_status(-15) == "killed by SIGTERM"
    assert tail(tmp_path / "missing.log") == "    (no log)"
    log = tmp_path / "a.log"
    log.write_text("")
    assert tail(log) == "    (the log is empty)"
    log.write_text("error: bad option\nusage: x\n" + "".join(f"line {i}\n" for i in range(40)))
    lines = tail(log, 10).splitlines()
    assert lines[0] == "    error: bad option" and lines[3] == "    [... 32 lines ...]" and lines[-1] == "    line 39"
