"""Per-test artifact folders: kept when a test fails, removed when it passes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

__all__ = ["folder_for", "discard"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def folder_for(root: Path, nodeid: str) -> Path:
    """A fresh folder under ``root`` named after the test (``tests/kernel/test_x.py::test_y[a]`` -> ``test_x.py-test_y-a``)."""
    name = _UNSAFE.sub("-", nodeid.split("/")[-1]).strip("-") or "test"
    folder = root / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def discard(folder: Path) -> None:
    """Remove a folder of artifacts (and ``root`` if that left it empty)."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:
        pass
