"""What a fault must leave exactly as it found it: links, addresses, routes, qdiscs, rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from pyroute2 import IPRoute

from lab.errors import KernelError

__all__ = ["Snapshot", "take", "compare"]

_RT_TABLE_MAIN = 254


@dataclass(frozen=True)
class Snapshot:
    """One namespace's network state, as comparable sets of tuples."""

    namespace: str
    links: frozenset[tuple[Any, ...]]
    addresses: frozenset[tuple[Any, ...]]
    routes: frozenset[tuple[Any, ...]]
    qdiscs: frozenset[tuple[Any, ...]]
    rules: frozenset[tuple[Any, ...]] = frozenset()


def take(namespace: str, ipr: IPRoute, interfaces: Iterable[str] | None = None) -> Snapshot:
    """Read the namespace's state through its netlink socket.

    With ``interfaces``, only those interfaces and what hangs on them (their
    addresses, routes through them, their qdiscs) are read, so faults on
    other links may come and go meanwhile; policy rules are always read.
    """
    names = {int(m["index"]): str(m.get_attr("IFLA_IFNAME")) for m in ipr.get_links()}
    keep = set(interfaces) if interfaces is not None else set(names.values())
    links = frozenset(
        (names[int(m["index"])], bool(m["flags"] & 1), m.get_attr("IFLA_MTU"))
        for m in ipr.get_links() if names[int(m["index"])] in keep
    )
    addresses = frozenset(
        (names.get(int(m["index"]), "?"), m.get_attr("IFA_ADDRESS"), m["prefixlen"])
        for m in ipr.get_addr()
        if m["scope"] == 0 and names.get(int(m["index"])) in keep
    )
    routes = frozenset(
        (m.get_attr("RTA_DST"), m["dst_len"], names.get(m.get_attr("RTA_OIF") or -1, "?"),
         m.get_attr("RTA_GATEWAY"), m.get_attr("RTA_PREFSRC"), m["proto"], m["scope"], m["type"])
        for m in ipr.get_routes(table=_RT_TABLE_MAIN) if names.get(m.get_attr("RTA_OIF") or -1) in keep
    )
    qdiscs = frozenset(
        (names.get(int(m["index"]), "?"), m.get_attr("TCA_KIND"), m["handle"], m["parent"])
        for m in ipr.get_qdiscs()
        if m.get_attr("TCA_KIND") not in ("noqueue",) and names.get(int(m["index"])) in keep
    )
    rules = frozenset(
        (m["family"], m.get_attr("FRA_PRIORITY"), m.get_attr("FRA_TABLE"), m.get_attr("FRA_SRC"), m["src_len"],
         m.get_attr("FRA_DST"), m["dst_len"], m["action"])
        for m in ipr.get_rules()
    )
    return Snapshot(namespace, links, addresses, routes, qdiscs, rules)


def _diff(kind: str, before: frozenset[tuple[Any, ...]], after: frozenset[tuple[Any, ...]]) -> Iterable[str]:
    for item in sorted(before - after, key=repr):
        yield f"{kind} {item} is gone"
    for item in sorted(after - before, key=repr):
        yield f"{kind} {item} is new"


def compare(before: Snapshot, after: Snapshot, *, fault: str) -> None:
    """Raise :class:`KernelError` listing every difference the fault left behind."""
    problems = [
        line
        for kind in ("links", "addresses", "routes", "qdiscs", "rules")
        for line in _diff(kind[:-1] if kind != "addresses" else "address", getattr(before, kind), getattr(after, kind))
    ]
    if problems:
        raise KernelError(f"undoing {fault} did not restore {before.namespace}: " + "; ".join(problems))
