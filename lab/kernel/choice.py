"""Where kernel work runs: this kernel, or a User-Mode Linux guest."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

from lab.errors import CapabilityError
from lab.guest.uml import GuestKernel, find_guest_kernel
from lab.kernel.caps import KernelMode, in_guest, probe

__all__ = ["Choice", "choose_kernel", "kernel_tick"]


@dataclass(frozen=True)
class Choice:
    """The decision and the one-line banner that explains it."""

    where: str  # "here" or "guest"
    banner: str
    guest: GuestKernel | None = None


def choose_kernel(mode: KernelMode) -> Choice:
    """Decide where to run; raise :class:`CapabilityError` if nowhere can."""
    if mode not in ("auto", "host", "guest"):
        raise CapabilityError(f"unknown kernel mode {mode!r} (expected auto, host or guest)")
    if in_guest():
        return Choice("here", f"sctplab: kernel: {probe().describe()}")
    if mode == "host":
        return Choice("here", f"sctplab: kernel: {probe().describe()} (--kernel host)")
    caps = probe()
    if mode == "auto" and caps.can():
        return Choice("here", f"sctplab: kernel: {caps.describe()}")
    try:
        guest = find_guest_kernel()
    except CapabilityError as err:
        if mode == "guest":
            raise
        raise CapabilityError(f"{caps.describe()}, and {err}") from err
    reason = "requested" if mode == "guest" else f"this {caps.describe()}"
    return Choice("guest", f"sctplab: kernel: {guest.describe()} guest ({reason})", guest)


def _config_hz() -> int | None:
    release = os.uname().release
    candidates = [Path("/proc/config.gz"), Path(f"/boot/config-{release}")]
    if in_guest():
        candidates.append(Path("/usr/share/doc/user-mode-linux/config.gz"))
    for path in candidates:
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        except OSError:
            continue
        for line in raw.decode(errors="replace").splitlines():
            if line.startswith("CONFIG_HZ="):
                return int(line.split("=", 1)[1])
    return None


def kernel_tick() -> float:
    """One jiffy of the running kernel in seconds (HZ=100, the coarsest common value, if unknown)."""
    return 1.0 / (_config_hz() or 100)
