"""Validated models of the lab's configuration files."""

from __future__ import annotations

from lab.model.topology import (
    ENDPOINTS,
    IFNAME_MAX,
    IPAddress,
    IPNetwork,
    Link,
    LinkEnd,
    Node,
    PathSpec,
    RouteSpec,
    Topology,
    load_topology,
    resolve_topology_path,
)
from lab.model.yamlsource import (
    KeyedValueError,
    KeyPath,
    LineMap,
    load_model,
    load_yaml,
    validation_error,
)

__all__ = [
    "ENDPOINTS",
    "IFNAME_MAX",
    "IPAddress",
    "IPNetwork",
    "KeyPath",
    "KeyedValueError",
    "LineMap",
    "Link",
    "LinkEnd",
    "Node",
    "PathSpec",
    "RouteSpec",
    "Topology",
    "load_model",
    "load_topology",
    "load_yaml",
    "resolve_topology_path",
    "validation_error",
]
