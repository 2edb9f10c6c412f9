"""Kernel tier: netem impairments change while applied and combine on one interface."""

from __future__ import annotations

import pytest
from pyroute2.netlink.rtnl.tcmsg.common import percent2u32, time2tick

from lab import Blackhole, Impair, inject, NetemParams, Network

pytestmark = [pytest.mark.kernel, pytest.mark.topology("dual-homed")]


def _netem(net: Network, node: str, link: str) -> dict[str, int] | None:
    """The kernel's netem parameters on the node's interface on ``link`` (None: no netem)."""
    for qdisc in net.ipr(node).get_qdiscs(index=net.ifindex(link, node)):
        if qdisc.get_attr("TCA_KIND") == "netem":
            options = qdisc.get_attr("TCA_OPTIONS")
            return {"delay": options["delay"], "loss": options["loss"]}
    return None


def test_an_impairment_changes_while_applied_and_combines_with_a_blackhole(lab_network: Network) -> None:
    slow = Impair("path-b", NetemParams(delay_ms=20))
    with inject(lab_network, slow):
        assert _netem(lab_network, "client", "path-b") == {"delay": time2tick(20000), "loss": 0}
        slow.update(NetemParams(delay_ms=60, loss_pct=5))
        assert _netem(lab_network, "server", "path-b") == {"delay": time2tick(60000), "loss": percent2u32(5)}
        with inject(lab_network, Blackhole("path-b", direction="a-to-b")):
            assert _netem(lab_network, "client", "path-b") == {"delay": time2tick(60000), "loss": percent2u32(100)}
            assert _netem(lab_network, "server", "path-b") == {"delay": time2tick(60000), "loss": percent2u32(5)}
        assert _netem(lab_network, "client", "path-b") == {"delay": time2tick(60000), "loss": percent2u32(5)}
    assert _netem(lab_network, "client", "path-b") is None and _netem(lab_network, "server", "path-b") is None
