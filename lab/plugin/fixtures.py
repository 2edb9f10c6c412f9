"""The lab's own fixtures, made with the factories of :mod:`lab.plugin.factories`.

Configured by markers: ``@pytest.mark.topology(NAME)`` (default dual-homed)
and ``@pytest.mark.profile(NAME)`` (default fast). All function-scoped;
declare your own (other scopes, two networks, no captures) with the factories.
"""

from __future__ import annotations

import pytest

from lab.events import EventLog
from lab.kernel.network import Network
from lab.plugin import factories
from lab.plugin.factories import ARTIFACTS, REPORTS, events_of

__all__ = ["lab_topology", "lab_profile", "lab_network", "lab_events", "lab_artifacts", "lab_captures", "sctp_pair",
           "lab_evidence", "link_faults", "lab_processes", "lab_associations", "REPORTS", "ARTIFACTS"]

#: The topology of ``@pytest.mark.topology(NAME_OR_PATH)``, default ``dual-homed``.
lab_topology = factories.topology()
#: The timer profile of ``@pytest.mark.profile(NAME)``, default ``fast``.
lab_profile = factories.profile()
#: The topology built into namespaces and veth links.
lab_network = factories.network(of="lab_topology")
#: This test's folder of artifacts (kept when it fails, or with --lab-keep-artifacts).
lab_artifacts = factories.artifacts()
#: tcpdump on both ends of every link, ready before any endpoint starts; pcaps in the artifacts.
lab_captures = factories.captures("lab_network")
#: A multihomed association on the lab network, captured on the wire from its first INIT.
sctp_pair = factories.sctp_pair("lab_network", captures="lab_captures")
#: The run's evidence: application, kernel path-state timeline (polled), wire.
lab_evidence = factories.evidence("sctp_pair", captures="lab_captures")
#: Faults on the lab network: ``link_faults.blackhole("path-a")`` and the rest (:class:`~lab.faults.LinkFaults`).
link_faults = factories.link_faults("lab_network")
#: Your own programs in the lab's nodes: ``lab_processes.start("server", [...])`` (stopped when the test ends).
lab_processes = factories.processes("lab_network")
#: Every association in the client's and server's namespaces, watched black-box through /proc/net/sctp.
lab_associations = factories.associations("lab_network")


@pytest.fixture
def lab_events(lab_network: Network) -> EventLog:
    """The lab network's timeline: its endpoints' notifications and errors, faults and restores."""
    return events_of(lab_network)
