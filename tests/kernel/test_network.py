"""Kernel tier: building a topology into namespaces and veth links, and undoing it.

These need only namespaces and veth, so they also run on kernels without SCTP.
"""

from __future__ import annotations

import pytest

from lab.errors import KernelError
from lab.kernel import netns
from lab.kernel.network import Network, build
from lab.model.topology import Topology

pytestmark = [pytest.mark.kernel("netns", "veth"), pytest.mark.topology("dual-homed")]


def _ours(tag: str) -> list[str]:
    return [name for name in netns.names() if f"-{tag}-" in f"-{name}-"]


def test_build_gives_each_node_its_addresses_on_up_links(lab_network: Network) -> None:
    net = lab_network
    for link in net.topology.links:
        for node in ("client", "server"):
            assert net.operstate(link, node) == "UP"
            index = net.ifindex(link, node)
            universe = [a for a in net.ipr(node).get_addr(index=index) if a["scope"] == 0]  # not link-local
            addresses = {a.get_attr("IFA_ADDRESS") for a in universe}
            assert addresses == {str(net.address(link, node))}
    assert net.ifname("path-a", "client") == f"eth0-{net.tag}"
    assert sorted(_ours(net.tag)) == sorted([net.netns("client"), net.netns("server")])


def test_teardown_removes_every_namespace_and_link(lab_topology: Topology) -> None:
    with build(lab_topology) as net:
        tag = net.tag
        assert len(_ours(tag)) == 2
    assert _ours(tag) == []


def test_interrupt_while_built_still_tears_down(lab_topology: Topology) -> None:
    with pytest.raises(KeyboardInterrupt):
        with build(lab_topology) as net:
            tag = net.tag
            raise KeyboardInterrupt
    assert _ours(tag) == []


def test_failure_half_way_unwinds_what_was_built(lab_topology: Topology) -> None:
    tag = "0ff1ce"
    squatter = f"sctplab-{tag}-server"  # the second node's namespace already exists
    netns.create(squatter)
    try:
        with pytest.raises(KernelError, match="already exists"):
            with build(lab_topology, tag=tag):
                pass
        assert _ours(tag) == [squatter]  # the client's namespace was removed again
    finally:
        netns.remove(squatter)
