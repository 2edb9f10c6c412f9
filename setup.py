"""One build step on top of pyproject.toml: ship the top-level topologies/ and scenarios/ inside the package.

The repository keeps its topology and scenario files at the top level (pytest
collects ``scenarios/*.yaml`` from there). A wheel carries copies of them as
``lab/shipped/topologies/*.yaml`` and ``lab/shipped/scenarios/*.yaml``, made
here at build time, so that names such as ``dual-homed`` resolve in an
installed package too (lab/model/catalog.py). An editable install makes no
copies: the package finds the top-level folders of its checkout itself.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
#: The top-level folders whose ``*.yaml`` files ship as ``lab/shipped/<folder>/``.
SHIPPED = ("topologies", "scenarios")


def _shipped_files() -> list[Path]:
    return [path for folder in SHIPPED for path in sorted((ROOT / folder).glob("*.yaml"))]


class BuildPyWithShipped(build_py):
    """``build_py`` that also copies the shipped YAML files into ``<build_lib>/lab/shipped/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        shipped = Path(self.build_lib) / "lab" / "shipped"
        shutil.rmtree(shipped, ignore_errors=True)  # no stale copies of removed files from an earlier build
        for source in _shipped_files():
            target = shipped / source.parent.name / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            self.copy_file(str(source), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        shipped = [str(Path(self.build_lib) / "lab" / "shipped" / p.parent.name / p.name) for p in _shipped_files()]
        return [*super().get_outputs(include_bytecode), *shipped]

    def get_source_files(self) -> list[str]:
        """The sources, the shipped files too, so that an sdist carries them."""
        return [*super().get_source_files(), *(str(p.relative_to(ROOT)) for p in _shipped_files())]


setup(cmdclass={"build_py": BuildPyWithShipped})
