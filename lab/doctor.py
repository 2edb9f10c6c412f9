"""``sctplab doctor``: what this machine can do for the lab, and what to install for the rest."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass

from lab.errors import LabError
from lab.kernel.caps import NEEDS, PACKAGES, probe

__all__ = ["Finding", "diagnose"]

_APT = "apt-get install"
#: Python modules the lab imports, and the PyPI distribution that has each.
_PYTHON = {"sctp": "pysctp", "pyroute2": "pyroute2", "scapy": "scapy", "rich": "rich", "matplotlib": "matplotlib",
           "pydantic": "pydantic", "yaml": "PyYAML"}


@dataclass(frozen=True)
class Finding:
    """One line of the diagnosis: what was checked, whether it is there, and the fix if not."""

    what: str
    ok: bool
    detail: str
    fix: str = ""


def diagnose() -> tuple[list[Finding], bool]:
    """Every check, and whether the lab can run its kernel work somewhere (here or in a guest)."""
    from lab.guest.shim import shim_path
    from lab.guest.uml import find_guest_kernel

    caps = probe()
    lacking = caps.lacks()
    found = [Finding(f"this kernel: {need}", need not in lacking, lacking.get(need, "works"),
                     f"{PACKAGES[need]}, or use the guest kernel below" if need in lacking else "")
             for need in NEEDS]
    here = not lacking
    try:
        guest = find_guest_kernel()
        found.append(Finding("guest kernel", True, f"{guest.describe()}, with modules in {guest.modules}"))
        guest_ok = True
    except LabError as err:
        guest_ok = False
        found.append(Finding("guest kernel", False, str(err),
                             f"{_APT} user-mode-linux kmod (Debian/Ubuntu)"
                             + ("" if here else "; elsewhere, use a kernel with sctp and sch_netem modules")))
    if guest_ok and not here:
        try:
            shim = shim_path()
            found.append(Finding("guest helper (xstate shim)", True, f"built: {shim}"))
        except LabError as err:
            guest_ok = False
            found.append(Finding("guest helper (xstate shim)", False, str(err), f"{_APT} gcc libc6-dev"))
    tcpdump = shutil.which("tcpdump") or shutil.which("tcpdump", path="/usr/sbin:/usr/bin:/sbin")
    found.append(Finding("tcpdump (wire captures)", tcpdump is not None, tcpdump or "not found",
                         "" if tcpdump else f"{_APT} tcpdump"))
    for module, dist in _PYTHON.items():
        present = importlib.util.find_spec(module) is not None
        found.append(Finding(f"python: {dist}", present, "installed" if present else "missing",
                             "" if present else f"pip install {dist} (or: pip install -e . in the project)"))
    return found, here or guest_ok
