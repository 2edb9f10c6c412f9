"""Topology files: loading, derived addresses, and one-line errors for bad files."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.model import LineMap, load_topology, load_yaml, resolve_topology_path
from lab.model.catalog import shipped_dir

TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"

GOOD = """\
name: t
nodes:
  client: {}
  server: {}
links:
  path-a:
    subnet: 198.18.1.0/24
    a: {node: client, interface: eth0}
    b: {node: server, interface: eth0}
  path-b:
    subnet: 198.18.2.0/24
    a: {node: client, interface: eth1}
    b: {node: server, interface: eth1}
"""

A_END = "a: {node: client, interface: eth0}"
B_END = "b: {node: server, interface: eth0}"


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_topology(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_shipped_dual_homed_derives_addresses() -> None:
    topo = load_topology(TOPOLOGIES / "dual-homed.yaml")
    assert topo.name == "dual-homed"
    assert topo.primary_path == "path-a"
    assert topo.addresses_of("client") == [
        ("path-a", IPv4Address("198.18.1.1")),
        ("path-b", IPv4Address("198.18.2.1")),
    ]
    assert topo.addresses_of("server") == [
        ("path-a", IPv4Address("198.18.1.2")),
        ("path-b", IPv4Address("198.18.2.2")),
    ]
    assert topo.links_of("server") == ["path-a", "path-b"]
    assert topo.prefixlen("path-b") == 24
    assert topo.interface("path-b", "client") == "eth1"
    assert topo.peer_of("path-a", "server") == "client"


def test_primary_link_comes_first(tmp_path: Path) -> None:
    topo = load_topology(write(tmp_path, "primary: path-b\n" + GOOD, "t.yaml"))
    assert topo.primary_path == "path-b"
    assert topo.links_of("client") == ["path-b", "path-a"]
    assert [link for link, _ in topo.addresses_of("server")] == ["path-b", "path-a"]


def test_default_addresses_skip_explicit_ones(tmp_path: Path) -> None:
    text = GOOD.replace(B_END, "b: {node: server, interface: eth0, address: 198.18.1.1}")
    topo = load_topology(write(tmp_path, text, "t.yaml"))
    assert topo.address("path-a", "client") == IPv4Address("198.18.1.2")
    assert topo.address("path-a", "server") == IPv4Address("198.18.1.1")


def test_ipv6_link(tmp_path: Path) -> None:
    text = GOOD.replace("198.18.2.0/24", "2001:db8::/64")
    topo = load_topology(write(tmp_path, text, "t.yaml"))
    assert topo.address("path-b", "server") == IPv6Address("2001:db8::2")
    assert topo.prefixlen("path-b") == 64


def test_address_of_node_not_on_link_is_key_error(tmp_path: Path) -> None:
    topo = load_topology(write(tmp_path, GOOD, "t.yaml"))
    with pytest.raises(KeyError):
        topo.address("path-a", "router")


# (old text in GOOD, new text, line, key, message)
BAD = {
    "unknown node": (
        "node: client, interface: eth0", "node: clinet, interface: eth0",
        8, "links.path-a.a.node", "unknown node 'clinet' (expected one of: client, server)",
    ),
    "link to itself": (
        B_END, "b: {node: client, interface: eth2}",
        9, "links.path-a.b.node", "link from node 'client' to itself (expected two different nodes)",
    ),
    "interface too long": (
        A_END, "a: {node: client, interface: ethernet0}",
        8, "links.path-a.a.interface",
        "interface name 'ethernet0' is longer than 8 characters"
        " (the lab appends '-<6-hex run tag>' and Linux allows 15)",
    ),
    "interface bad characters": (
        A_END, "a: {node: client, interface: eth-0}",
        8, "links.path-a.a.interface",
        "invalid interface name 'eth-0' (expected a lowercase letter, then lowercase letters or digits, e.g. eth0)",
    ),
    "interface used twice": (
        "a: {node: client, interface: eth1}", "a: {node: client, interface: eth0}",
        12, "links.path-b.a.interface", "interface 'eth0' of node 'client' is already used by links.path-a.a",
    ),
    "host bits set": (
        "subnet: 198.18.1.0/24", "subnet: 198.18.1.1/24",
        7, "links.path-a.subnet", "198.18.1.1/24 has host bits set (expected 198.18.1.0/24)",
    ),
    "not a subnet": (
        "subnet: 198.18.1.0/24", "subnet: 198.18.1.0/33",
        7, "links.path-a.subnet", "'198.18.1.0/33' is not a subnet (expected an address/prefix such as 198.18.1.0/24)",
    ),
    "overlapping subnets": (
        "subnet: 198.18.2.0/24", "subnet: 198.18.0.0/16",
        11, "links.path-b.subnet", "198.18.0.0/16 overlaps 198.18.1.0/24 of link 'path-a'",
    ),
    "subnet too small": (
        "subnet: 198.18.1.0/24", "subnet: 198.18.1.0/31",
        7, "links.path-a.subnet", "198.18.1.0/31 is too small for two hosts (expected a prefix of /30 or shorter)",
    ),
    "address outside subnet": (
        A_END, "a: {node: client, interface: eth0, address: 198.18.9.1}",
        8, "links.path-a.a.address",
        "198.18.9.1 is outside subnet 198.18.1.0/24 (expected a host address from 198.18.1.1 to 198.18.1.254)",
    ),
    "network address": (
        A_END, "a: {node: client, interface: eth0, address: 198.18.1.0}",
        8, "links.path-a.a.address",
        "198.18.1.0 is the network address of 198.18.1.0/24"
        " (expected a host address from 198.18.1.1 to 198.18.1.254)",
    ),
    "broadcast address": (
        B_END, "b: {node: server, interface: eth0, address: 198.18.1.255}",
        9, "links.path-a.b.address",
        "198.18.1.255 is the broadcast address of 198.18.1.0/24"
        " (expected a host address from 198.18.1.1 to 198.18.1.254)",
    ),
    "address used twice": (
        "interface: eth0}\n    b: {node: server, interface: eth0}",
        "interface: eth0, address: 198.18.1.5}\n    b: {node: server, interface: eth0, address: 198.18.1.5}",
        9, "links.path-a.b.address",
        "198.18.1.5 is already the address of end a (expected a host address from 198.18.1.1 to 198.18.1.254)",
    ),
    "address of other IP version": (
        A_END, "a: {node: client, interface: eth0, address: '2001:db8::1'}",
        8, "links.path-a.a.address",
        "2001:db8::1 is an IPv6 address but subnet 198.18.1.0/24 is IPv4"
        " (expected a host address from 198.18.1.1 to 198.18.1.254)",
    ),
    "address with prefix": (
        A_END, "a: {node: client, interface: eth0, address: 198.18.1.9/24}",
        8, "links.path-a.a.address", "value is not a valid IPv4 or IPv6 address (got '198.18.1.9/24')",
    ),
    "unknown primary": (
        "name: t\n", "name: t\nprimary: path-c\n",
        2, "primary", "unknown path 'path-c' (expected one of: path-a, path-b)",
    ),
    "node on no link": (
        "  server: {}\n", "  server: {}\n  router: {}\n",
        5, "nodes.router", "node 'router' is not on any link, so it has no path to a peer",
    ),
    "bad node name": (
        "  client: {}", "  Client: {}",
        3, "nodes.Client",
        "invalid node name 'Client' (expected a lowercase letter, then up to 15 lowercase letters, digits or '-')",
    ),
    "bad link name": (
        "  path-b:", "  path_b:",
        10, "links.path_b",
        "invalid link name 'path_b' (expected a lowercase letter, then up to 15 lowercase letters, digits or '-')",
    ),
    "one node": (
        "  server: {}\n", "",
        2, "nodes", "no node 'server' (expected the SCTP endpoints client and server; any other node is a router)",
    ),
    "no links": (
        GOOD[GOOD.index("links:"):], "links: {}\n",
        5, "links", "no links given (expected at least one)",
    ),
    "unknown top-level key": (
        "name: t\n", "name: t\ncolour: red\n",
        2, "colour", "unknown key (expected one of: name, description, primary, nodes, links, paths)",
    ),
    "unknown end key": (
        A_END, "a: {node: client, interface: eth0, adress: 198.18.1.9}",
        8, "links.path-a.a.adress", "unknown key (expected one of: node, interface, address)",
    ),
    "address without subnet": (
        "    subnet: 198.18.1.0/24\n    a: {node: client, interface: eth0}",
        "    a: {node: client, interface: eth0, address: 198.18.1.9}",
        7, "links.path-a.a.address",
        "198.18.1.9 is given but the link has no subnet (expected a subnet: key next to the address, or no address)",
    ),
    "family against subnet": (
        "subnet: 198.18.1.0/24", "subnet: 198.18.1.0/24\n    family: 6",
        8, "links.path-a.family",
        "family 6 but subnet 198.18.1.0/24 is IPv4 (expected the family of the subnet, or no family key)",
    ),
    "unknown family": (
        "subnet: 198.18.1.0/24", "family: 5",
        7, "links.path-a.family", "input should be 4 or 6 (got 5)",
    ),
    "impairment with no value": (
        A_END, A_END + "\n    impair: {direction: a-to-b}",
        9, "links.path-a.impair",
        "no impairment given (expected at least one of: delay_ms, jitter_ms, loss_pct, loss_corr_pct, reorder_pct,"
        " duplicate_pct, corrupt_pct, rate_kbit)",
    ),
    "impairment out of range": (
        A_END, A_END + "\n    impair: {loss_pct: 120}",
        9, "links.path-a.impair.loss_pct", "120 is above 100 (expected loss (%), 0-100)",
    ),
    "reorder without delay": (
        A_END, A_END + "\n    impair: {reorder_pct: 10}",
        9, "links.path-a.impair.reorder_pct",
        "reordering needs delay_ms > 0 (netem reorders by not delaying some packets)",
    ),
    "route via a stranger": (
        "  client: {}", "  client:\n    routes: [{to: 198.18.9.0/24, via: 198.18.7.1}]",
        4, "nodes.client.routes[0].via",
        "198.18.7.1 is not on a subnet of node 'client' (expected an address in 198.18.1.0/24, 198.18.2.0/24)",
    ),
    "path on a link of the wrong node": (
        "name: t\n", "name: t\npaths:\n  p: {client: path-a, server: nowhere}\n",
        3, "paths.p.server", "'nowhere' is not a link of the server (expected one of: path-a, path-b)",
    ),
    "missing name": (
        "name: t\n", "",
        1, "name", "missing (expected the topology's name, e.g. dual-homed)",
    ),
    "end is not a mapping": (
        A_END, "a: eth0",
        8, "links.path-a.a", "expected a mapping (got 'eth0')",
    ),
    "sysctls is not a mapping": (
        "  client: {}", "  client: {sysctls: [1, 2]}",
        3, "nodes.client.sysctls", "expected a mapping (got [1, 2])",
    ),
    "sysctl value is a fraction": (
        "  client: {}", "  client: {sysctls: {net.ipv4.conf.all.rp_filter: 1.5}}",
        3, "nodes.client.sysctls.net.ipv4.conf.all.rp_filter", "expected an integer (got 1.5)",
    ),
}


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), BAD.values(), ids=BAD.keys())
def test_bad_topology(tmp_path: Path, old: str, new: str, line: int, key: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    assert load_error(path) == f"{path}:{line}: {key}: {message}"


def test_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + "  path-a:\n    subnet: 198.18.3.0/24\n")
    assert load_error(path) == f"{path}:14: links.path-a: duplicate key (first given on line 6)"


def test_yaml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace(A_END, "a: {node: client, interface: eth0"))
    assert load_error(path).startswith(f"{path}:9: invalid YAML: ")


def test_recursive_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "name: &x [*x]\n")
    assert load_error(path) == f"{path}: aliases nest too deeply (is an anchor used inside itself?)"


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing here\n")
    assert load_error(path) == f"{path}: file is empty (expected a mapping of keys to values)"


def test_top_level_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- client\n- server\n")
    assert load_error(path) == f"{path}:1: top level is a list (expected a mapping of keys to values)"


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    assert load_error(path) == f"{path}: cannot read file: No such file or directory"


def test_load_yaml_resolves_scalars_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "a:\n  b: 1\n  c: [x, 2.5, true, null]\nd:\n  - e: f\n")
    data, lines = load_yaml(path)
    assert data == {"a": {"b": 1, "c": ["x", 2.5, True, None]}, "d": [{"e": "f"}]}
    assert lines.line_of(()) == 1
    assert lines.line_of(("a", "b")) == 2
    assert lines.line_of(("a", "c", 3)) == 3
    assert lines.line_of(("d", 0)) == 5
    assert lines.line_of(("d", 0, "e")) == 5


def test_line_map_falls_back_to_longest_known_prefix() -> None:
    lines = LineMap({(): 1, ("links",): 4, ("links", "path-a"): 5})
    assert lines.line_of(("links", "path-a")) == 5
    assert lines.line_of(("links", "path-a", "subnet")) == 5
    assert lines.line_of(("links", "path-z", "a")) == 4
    assert lines.line_of(("nodes",)) == 1
    assert lines.known_prefix(("links", "path-a", "subnet")) == ("links", "path-a")
    assert LineMap({}).line_of(("x",)) is None


def test_resolve_existing_path_as_is(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, "mine.yaml")
    assert resolve_topology_path(str(path), []) == path


def test_resolve_bare_name_searches_dirs_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write(second, GOOD, "lab.yaml")
    assert resolve_topology_path("lab", [first, second]) == second / "lab.yaml"
    assert resolve_topology_path("dual-homed", [TOPOLOGIES]) == TOPOLOGIES / "dual-homed.yaml"


def test_resolve_unknown_name_lists_dirs_and_names(tmp_path: Path) -> None:
    write(tmp_path, GOOD, "b-lab.yaml")
    write(tmp_path, GOOD, "a-lab.yaml")
    with pytest.raises(ConfigError) as info:
        resolve_topology_path("c-lab", [tmp_path])
    shipped = ", ".join(sorted(path.stem for path in TOPOLOGIES.glob("*.yaml")))
    assert str(info.value) == (
        f"unknown topology 'c-lab' (searched {tmp_path}, {shipped_dir('topology')} (shipped);"
        f" available: a-lab, b-lab (yours); {shipped} (shipped))"
    )


def test_resolve_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        resolve_topology_path(str(tmp_path / "nope.yaml"), [tmp_path])


ROUTED = """\
name: routed
nodes:
  client: {}
  server: {}
  r1: {}
  r2: {}
links:
  a1: {a: {node: client, interface: eth0}, b: {node: r1, interface: eth0}}
  a2: {a: {node: r1, interface: eth1}, b: {node: server, interface: eth0}}
  b1: {a: {node: client, interface: eth1}, b: {node: r2, interface: eth0}, family: 6}
  b2: {a: {node: r2, interface: eth1}, b: {node: server, interface: eth1}, family: 6}
paths:
  path-a: {client: a1, server: a2}
  path-b: {client: b1, server: b2}
"""


def test_routed_paths_subnets_and_routes(tmp_path: Path) -> None:
    topo = load_topology(write(tmp_path, ROUTED, "t.yaml"))
    assert topo.routers == ["r1", "r2"]
    assert [str(topo.subnet(link)) for link in topo.links] == [
        "198.18.1.0/24", "198.18.2.0/24", "2001:db8:1::/64", "2001:db8:2::/64"]
    assert topo.path_addresses("path-b") == (IPv6Address("2001:db8:1::1"), IPv6Address("2001:db8:2::2"))
    assert [(str(r.to), str(r.via), r.metric) for r in topo.routes_of("client")] == [
        ("198.18.2.0/24", "198.18.1.2", 100), ("2001:db8:2::/64", "2001:db8:1::2", 100)]
    assert [(str(r.to), str(r.via)) for r in topo.routes_of("r1")] == []
    assert [(str(r.to), str(r.via)) for r in topo.routes_of("server")] == [
        ("198.18.1.0/24", "198.18.2.1"), ("2001:db8:1::/64", "2001:db8:2::1")]


def test_partial_client_derives_paths_and_backup_routes(tmp_path: Path) -> None:
    text = """\
name: partial
nodes: {client: {}, server: {}, router: {}}
links:
  lan: {a: {node: client, interface: eth0}, b: {node: router, interface: eth0}}
  path-a: {a: {node: router, interface: eth1}, b: {node: server, interface: eth0}}
  path-b: {a: {node: router, interface: eth2}, b: {node: server, interface: eth1}}
"""
    topo = load_topology(write(tmp_path, text, "t.yaml"))
    assert list(topo.path_map) == ["path-a", "path-b"]
    assert topo.path_addresses("path-b") == (IPv4Address("198.18.1.1"), IPv4Address("198.18.3.2"))
    assert [(str(r.to), str(r.via), r.metric) for r in topo.routes_of("server")] == [
        ("198.18.1.0/24", "198.18.2.1", 100), ("198.18.1.0/24", "198.18.3.1", 110)]
    assert [(str(r.to), str(r.via), r.metric) for r in topo.routes_of("client")] == [
        ("198.18.2.0/24", "198.18.1.2", 100), ("198.18.3.0/24", "198.18.1.2", 100)]


# (old text in ROUTED, new text, line, key, message)
BAD_ROUTED = {
    "paths not obvious": (
        "paths:\n  path-a: {client: a1, server: a2}\n  path-b: {client: b1, server: b2}\n", "",
        1, "paths", "missing: client and server share no link and both have several, so the paths are not obvious"
        " (expected paths: {<name>: {client: <link>, server: <link>}})",
    ),
    "path mixing families": (
        "path-b: {client: b1, server: b2}", "path-b: {client: b1, server: a2}",
        14, "paths.path-b", "client link 'b1' is IPv6 but server link 'a2' is IPv4 (expected one family per path)",
    ),
    "endpoint with no path to its peer": (
        "  a2: {a: {node: r1, interface: eth1}", "  a2: {a: {node: r2, interface: eth2}",
        13, "paths.path-a", "the server cannot reach link 'a1' from link 'a2' (expected routers joining them)",
    ),
    "interface name too long after the tag": (
        "{node: r1, interface: eth1}", "{node: r1, interface: ethernet1}",
        9, "links.a2.a.interface",
        "interface name 'ethernet1' is longer than 8 characters (the lab appends '-<6-hex run tag>' and Linux allows 15)",
    ),
}


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), BAD_ROUTED.values(), ids=BAD_ROUTED.keys())
def test_bad_routed_topology(tmp_path: Path, old: str, new: str, line: int, key: str, message: str) -> None:
    assert old in ROUTED
    path = write(tmp_path, ROUTED.replace(old, new, 1))
    assert load_error(path) == f"{path}:{line}: {key}: {message}"
