"""One spelling per address, whatever API it came through.

An AF_INET6 socket (the lab uses one whenever an endpoint has an IPv6
address) reports IPv4 peers as v4-mapped IPv6 addresses (``::ffff:198.18.1.1``,
or through pysctp ``::ffff:c612:101``); IPv6 may come with a ``%scope``.
:func:`canonical` maps all of them to what :func:`ipaddress.ip_address`
prints for the plain address, so the kernel's, pysctp's and the wire's
addresses compare equal.
"""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv6Address, ip_address

__all__ = ["canonical"]


@lru_cache(maxsize=1024)
def canonical(address: str) -> str:
    """``address`` in its one canonical spelling (unparsable text is returned as is)."""
    try:
        parsed = ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)
