"""Named network namespaces, created and entered from the calling process.

pyroute2 0.9 forks a helper child for ``netns.create`` and ``IPRoute(netns=...)``
(about 0.5 s each in the guest kernel). Namespaces are per thread in Linux, so
this module creates them in a short-lived thread and enters them with
``setns`` in the calling thread, which costs milliseconds. Named namespaces
are bind mounts under ``/run/netns``, exactly as ``ip netns add`` makes them,
so ``ip netns exec NAME ...`` works on them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from lab.errors import KernelError

__all__ = ["NETNS_DIR", "create", "remove", "enter", "entered", "path_of", "names"]

NETNS_DIR = Path("/run/netns")

_CLONE_NEWNET = 0x40000000
_MS_BIND = 4096
_MS_REC = 16384
_MS_SHARED = 1 << 20
_MNT_DETACH = 2

_libc = ctypes.CDLL(None, use_errno=True)


def _fail(what: str, name: str) -> KernelError:
    code = ctypes.get_errno()
    return KernelError(f"{what} for network namespace {name!r}: {os.strerror(code)}")


def _thread_ns() -> str:
    return f"/proc/self/task/{threading.get_native_id()}/ns/net"


def path_of(name: str) -> Path:
    """The bind-mount path of the named namespace."""
    return NETNS_DIR / name


def names() -> list[str]:
    """Names of all named network namespaces (ours and others')."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def _share_netns_dir() -> None:
    """Make /run/netns a shared mount point, as iproute2 does."""
    NETNS_DIR.mkdir(parents=True, exist_ok=True)
    rundir = bytes(NETNS_DIR)
    if _libc.mount(b"none", rundir, None, _MS_SHARED | _MS_REC, None) == 0:
        return
    if _libc.mount(rundir, rundir, b"none", _MS_BIND | _MS_REC, None) != 0:
        raise _fail("bind-mounting /run/netns", str(NETNS_DIR))
    if _libc.mount(b"none", rundir, None, _MS_SHARED | _MS_REC, None) != 0:
        raise _fail("sharing /run/netns", str(NETNS_DIR))


def create(name: str) -> Path:
    """Create the named namespace; fail if it exists. Return its path."""
    _share_netns_dir()
    target = path_of(name)
    try:
        os.close(os.open(target, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0))
    except FileExistsError as err:
        raise KernelError(f"network namespace {name!r} already exists") from err
    failure: list[KernelError] = []

    def unshare_and_bind() -> None:
        if _libc.unshare(_CLONE_NEWNET) != 0:
            failure.append(_fail("unshare(CLONE_NEWNET)", name))
        elif _libc.mount(_thread_ns().encode(), bytes(target), b"none", _MS_BIND, None) != 0:
            failure.append(_fail("bind-mounting", name))

    worker = threading.Thread(target=unshare_and_bind, name=f"netns-create-{name}")
    worker.start()
    worker.join()
    if failure:
        target.unlink(missing_ok=True)
        raise failure[0]
    return target


def remove(name: str) -> None:
    """Remove the named namespace; a namespace already gone is not an error."""
    target = path_of(name)
    if _libc.umount2(bytes(target), _MNT_DETACH) != 0 and ctypes.get_errno() not in (
        errno.EINVAL,
        errno.ENOENT,
    ):
        raise _fail("unmounting", name)
    target.unlink(missing_ok=True)


def enter(name: str) -> None:
    """Move the calling thread into the named namespace for good (e.g. a child about to exec)."""
    try:
        target = os.open(path_of(name), os.O_RDONLY)
    except FileNotFoundError as err:
        raise KernelError(f"network namespace {name!r} does not exist") from err
    try:
        if _libc.setns(target, _CLONE_NEWNET) != 0:
            raise _fail("entering", name)
    finally:
        os.close(target)


@contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with the calling thread inside the named namespace.

    Sockets (netlink, SCTP) created in the body stay in that namespace after
    the thread returns to its own.
    """
    home = os.open(_thread_ns(), os.O_RDONLY)
    try:
        enter(name)
        try:
            yield
        finally:
            if _libc.setns(home, _CLONE_NEWNET) != 0:
                raise _fail("returning from", name)
    finally:
        os.close(home)
