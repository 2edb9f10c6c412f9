"""Where a topology or scenario name points: the user's own folders first, then the files the package ships.

A name such as ``dual-homed`` means the file ``dual-homed.yaml`` in the first
folder that has one: the caller's own folders in order (``./topologies``,
the ini ``lab_topologies`` ones, ...), then the folder the package ships. A
value that names a file (an existing file, or one containing ``/`` or ending
in ``.yaml``/``.yml``) is that file and is never looked up.

The shipped files are the repository's top-level ``topologies/`` and
``scenarios/``. A wheel carries copies of them as ``lab/shipped/<folder>/``
(setup.py copies them at build time); a source checkout or an editable
install, which has no copies, uses the top-level folders themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lab.errors import ConfigError
from lab.model.yamlsource import load_yaml

__all__ = ["Kind", "FOLDERS", "Entry", "Folder", "shipped_dir", "is_path", "folders", "find", "entries"]

Kind = Literal["topology", "scenario"]

#: The folder name of each kind, both in the user's directory and among the shipped files.
FOLDERS: dict[Kind, str] = {"topology": "topologies", "scenario": "scenarios"}

_PACKAGE = Path(__file__).resolve().parents[1]  # the ``lab`` package


def shipped_dir(kind: Kind) -> Path | None:
    """The folder of the files of ``kind`` the package ships, or ``None`` if it has none.

    ``lab/shipped/<folder>`` in an installed wheel; in a source checkout (an
    editable install too) the repository's top-level ``<folder>``.
    """
    folder = FOLDERS[kind]
    installed = _PACKAGE / "shipped" / folder
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / folder).is_dir():
        return checkout / folder
    return None


def is_path(value: str) -> bool:
    """Whether ``value`` is written as a file path (contains ``/`` or ends in ``.yaml``/``.yml``), not a name."""
    return "/" in value or value.endswith((".yaml", ".yml"))


@dataclass(frozen=True)
class Folder:
    """A folder names are looked up in, and whether it is the shipped one."""

    path: Path
    shipped: bool

    def __str__(self) -> str:
        return f"{self.path} (shipped)" if self.shipped else str(self.path)

    def names(self) -> list[str]:
        """The names of the files in the folder (``<name>.yaml``), sorted."""
        return sorted(found.stem for found in self.path.glob("*.yaml") if found.is_file())


def folders(kind: Kind, own: Sequence[Path]) -> list[Folder]:
    """The folders a name of ``kind`` is looked up in, in order: ``own`` (each once), then the shipped one."""
    shipped = shipped_dir(kind)
    result: list[Folder] = []
    seen: set[Path] = set()
    for path in [*own, *([shipped] if shipped is not None else [])]:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            result.append(Folder(path, shipped is not None and key == shipped.resolve()))
    return result


def _available(found: Sequence[Folder]) -> str:
    own = sorted({name for folder in found if not folder.shipped for name in folder.names()})
    shipped = sorted({name for folder in found if folder.shipped for name in folder.names()})
    groups = [f"{', '.join(own)} (yours)"] if own else []
    groups += [f"{', '.join(shipped)} (shipped)"] if shipped else []
    return "; ".join(groups) or "none"


def find(kind: Kind, name_or_path: str, own: Sequence[Path]) -> Path:
    """The file meant by ``name_or_path``: a file as is, a name looked up in ``own``, then in the shipped files.

    :class:`ConfigError` for a missing file, or for an unknown name listing
    the folders searched and the names available in them.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    if is_path(name_or_path) or path.name != name_or_path:
        raise ConfigError("no such file", file=path)
    searched = folders(kind, own)
    for folder in searched:
        candidate = folder.path / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"unknown {kind} {name_or_path!r} (searched {', '.join(map(str, searched)) or 'no folders'};"
        f" available: {_available(searched)})"
    )


@dataclass(frozen=True)
class Entry:
    """One file a name of ``kind`` can find, as ``sctplab list`` shows it."""

    kind: Kind
    name: str
    path: Path
    shipped: bool
    #: An earlier folder has a file of the same name, so the name finds that one instead.
    hidden: bool
    description: str
    tags: tuple[str, ...]


def _summary(path: Path) -> tuple[str, tuple[str, ...]]:
    """The file's ``description`` and ``tags``, read without validating the file."""
    try:
        data, _ = load_yaml(path)
    except ConfigError as err:
        return f"(unreadable: {err.reason})", ()
    if not isinstance(data, dict):
        return "", ()
    description, tags = data.get("description"), data.get("tags")
    return (
        " ".join(str(description).split()) if description is not None else "",
        tuple(map(str, tags)) if isinstance(tags, list) else (),
    )


def entries(kind: Kind, own: Sequence[Path]) -> list[Entry]:
    """Every file of ``kind`` in the lookup folders, in lookup order (each folder's files sorted by name)."""
    result: list[Entry] = []
    seen: set[str] = set()
    for folder in folders(kind, own):
        if not folder.path.is_dir():
            continue
        for name in folder.names():
            path = folder.path / f"{name}.yaml"
            description, tags = _summary(path)
            result.append(Entry(kind, name, path, folder.shipped, name in seen, description, tags))
            seen.add(name)
    return result
