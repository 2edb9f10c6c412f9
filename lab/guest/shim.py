"""Builds (once, cached) the ptrace shim that lets UML run on AVX-512/AMX hosts.

See ``xstate_shim.c`` for why it exists. The library is compiled on first
use into the user's cache directory, keyed by the hash of its source.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from lab.errors import CapabilityError, GuestError

__all__ = ["shim_path"]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sctplab"


def shim_path() -> Path:
    """Path of the compiled shim, compiling it if needed."""
    source = resources.files("lab.guest").joinpath("xstate_shim.c").read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:12]
    target = _cache_dir() / f"xstate-shim-{digest}.so"
    if target.exists():
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise CapabilityError(
            "the guest kernel needs a C compiler once, to build its ptrace shim: "
            "install the Debian/Ubuntu packages gcc and libc6-dev"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    src = target.with_suffix(".c")
    src.write_bytes(source)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    argv = [compiler, "-O2", "-Wall", "-shared", "-fPIC", "-o", str(partial), str(src), "-ldl"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise GuestError(f"building the guest's ptrace shim failed: {' '.join(argv)}: {done.stderr.strip()}")
    partial.replace(target)
    return target
