"""Kernel tier: faults are undone exactly, and a restore that is not exact is caught.

Link and route faults need only namespaces and veth, so these also run on
kernels without SCTP or netem.
"""

from __future__ import annotations

import pytest

from lab.errors import ConfigError, KernelError
from lab.events import EventLog
from lab.faults import LinkDown, RouteWithdrawal, Schedule, inject
from lab.faults.snapshot import take
from lab.kernel.network import Network

pytestmark = [pytest.mark.kernel("netns", "veth"), pytest.mark.topology("dual-homed")]


def _state(net: Network, node: str) -> object:
    return take(net.netns(node), net.ipr(node))


@pytest.mark.parametrize("fault", [LinkDown("path-a", side="near"), LinkDown("path-a", side="far"),
                                   RouteWithdrawal("path-a")], ids=["down-near", "down-far", "route"])
def test_a_fault_changes_the_kernel_and_its_undo_restores_it_exactly(
    lab_network: Network, fault: LinkDown | RouteWithdrawal
) -> None:
    before = {node: _state(lab_network, node) for node in ("client", "server")}
    with inject(lab_network, fault):
        assert any(_state(lab_network, node) != before[node] for node in ("client", "server"))
    assert {node: _state(lab_network, node) for node in ("client", "server")} == before


def test_a_route_withdrawal_removes_the_route_it_names(lab_network: Network) -> None:
    def routes() -> set[str]:
        return {r.get_attr("RTA_DST") for r in lab_network.ipr("client").get_routes(table=254, family=2)}

    assert "198.18.1.0" in routes()
    with inject(lab_network, RouteWithdrawal("path-a")):
        assert "198.18.1.0" not in routes() and "198.18.2.0" in routes()
    assert "198.18.1.0" in routes()


def test_something_else_changed_during_a_fault_fails_the_restore_check(lab_network: Network) -> None:
    ipr = lab_network.ipr("client")
    index = lab_network.ifindex("path-a", "client")
    with pytest.raises(KernelError, match=r"did not restore sctplab-\w+-client: address \('eth0-\w+', '198\.18\.1\.99', 24\) is new"):
        with inject(lab_network, LinkDown("path-a", side="far")):
            ipr.addr("add", index=index, address="198.18.1.99", prefixlen=24)
    ipr.addr("del", index=index, address="198.18.1.99", prefixlen=24)


def test_an_unknown_link_is_refused_before_anything_changes(lab_network: Network) -> None:
    with pytest.raises(ConfigError, match=r"no link 'path-z' in topology dual-homed \(expected one of: path-a, path-b\)"):
        with inject(lab_network, LinkDown("path-z")):
            pass


def test_a_schedule_applies_and_undoes_faults_at_their_offsets(lab_network: Network) -> None:
    log = EventLog()
    schedule = Schedule(lab_network, log=log)
    schedule.at(0.2, LinkDown("path-a", side="near"), hold=0.3).at(0.3, RouteWithdrawal("path-b"))
    start = schedule.run(until=0.6)
    steps = [(e.kind, e.detail.split(" (")[0], round(e.at - start, 2)) for e in log.events()]
    assert [(kind, what) for kind, what, _ in steps] == [
        ("fault", "admin down path-a"), ("fault", "withdraw client's route to path-b"),
        ("restore", "restored path-a"), ("restore", "restored path-b"),
    ]
    assert [at for _, _, at in steps][:3] >= [0.2, 0.3, 0.5] and steps[3][2] >= 0.6  # never early
