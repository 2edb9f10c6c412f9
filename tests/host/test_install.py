"""Host tier: the package as a new user gets it, a wheel installed into a fresh virtual environment.

Builds the wheel (``pip wheel --no-deps``) from a copy of the sources, installs
it into a new venv (dependencies from pip's index and wheel cache), then works
in an empty folder outside the repository, as the README tells a user to:
``sctplab list`` shows the shipped topologies and scenarios, ``sctplab --help``
works, and the README's "In your own tests" example passes under that venv's
pytest, finding ``dual-homed`` among the files the wheel ships. That example
needs a kernel with SCTP: the plugin boots a User-Mode Linux guest itself when
this one has none, so this runs on the host (tox: ``pytest tests/host``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import CapabilityError
from lab.kernel.caps import in_guest
from lab.kernel.choice import choose_kernel

PROJECT = Path(__file__).resolve().parents[2]
#: What a wheel is built from (as an sdist would carry it).
SOURCES = ("pyproject.toml", "setup.py", "README.md", "lab", "topologies", "scenarios")
#: Environment that would tie the fresh venv's commands to this checkout or this pytest run.
_LEAKS = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")

pytestmark = [
    pytest.mark.skipif(in_guest(), reason="boots a guest kernel: runs on the host (tox: pytest tests/host)"),
]


def readme_example() -> str:
    """The first ```python block of the README's section "In your own tests"."""
    readme = (PROJECT / "README.md").read_text()
    section = readme.split("\n## In your own tests\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert found, "README.md: no ```python block in the section 'In your own tests'"
    return found.group(1)


def _run(argv: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: float = 600
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (f"{' '.join(map(str, done.args))} exited {done.returncode}\n"
                                  f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    return done


class Installed:
    """A fresh venv with the wheel installed, and an empty folder outside the repository to work in."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.venv = root / "venv"
        self.folder = root / "work"
        self.bin = self.venv / "bin"

    def run(self, *argv: str | Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return _run(list(argv), cwd=self.folder, env=self.env, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    assert not root.resolve().is_relative_to(PROJECT)
    source = root / "source"
    source.mkdir()
    for name in SOURCES:  # a copy: the build writes build/ and *.egg-info next to the sources
        if (PROJECT / name).is_dir():
            shutil.copytree(PROJECT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "shipped"))
        else:
            shutil.copy2(PROJECT / name, source / name)
    env = {key: value for key, value in os.environ.items() if key not in _LEAKS}
    env.update(NO_COLOR="1", COLUMNS="200")
    _ok(_run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", source], cwd=root, env=env))
    (wheel,) = (root / "dist").glob("sctplab-*.whl")
    _ok(_run([sys.executable, "-m", "venv", root / "venv"], cwd=root, env=env))
    # dependencies come from pip's index and its cache (~/.cache/pip), which this reuses
    _ok(_run([root / "venv" / "bin" / "python", "-m", "pip", "install", "-q", "--prefer-binary", wheel],
             cwd=root, env=env, timeout=900))
    setup = Installed(root, {**env, "PATH": f"{root / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"})
    setup.folder.mkdir()
    return setup


def test_sctplab_list_shows_the_shipped_topologies_and_scenarios(installed: Installed) -> None:
    out = _ok(installed.run(installed.bin / "sctplab", "list")).stdout
    site = _ok(installed.run(installed.bin / "python", "-c", "import lab, os; print(os.path.dirname(lab.__file__))"))
    package = Path(site.stdout.strip())
    assert package.is_relative_to(installed.venv), f"lab imported from {package}, not from the fresh venv"
    for kind in ("topologies", "scenarios"):
        names = sorted(path.stem for path in (PROJECT / kind).glob("*.yaml"))
        assert sorted(p.stem for p in (package / "shipped" / kind).glob("*.yaml")) == names
        for name in names:
            assert re.search(rf"^  {re.escape(name)} +shipped ", out, re.M), f"{name} missing:\n{out}"
            assert str(package / "shipped" / kind / f"{name}.yaml") in out
    assert "yours" not in out
    assert "tags: failover, failback, blackhole" in out


def test_sctplab_help(installed: Installed) -> None:
    out = _ok(installed.run(installed.bin / "sctplab", "--help")).stdout
    for command in ("list", "up", "replay", "demo", "doctor"):
        assert re.search(rf"\b{command}\b", out), f"{command} missing from --help:\n{out}"


def test_an_unknown_name_lists_the_shipped_ones(installed: Installed) -> None:
    done = installed.run(installed.bin / "sctplab", "replay", "primary-blackhol")
    assert done.returncode == 2, done
    assert "unknown scenario 'primary-blackhol'" in done.stderr
    assert "primary-blackhole" in done.stderr and "(shipped)" in done.stderr


def test_the_readme_example_passes_under_the_fresh_venv(installed: Installed, request: pytest.FixtureRequest) -> None:
    try:
        choose_kernel("auto")
    except CapabilityError as err:
        if request.config.getoption("--lab-require-kernel"):
            pytest.fail(str(err), pytrace=False)
        pytest.skip(str(err))
    (installed.folder / "test_readme_example.py").write_text(readme_example())
    done = installed.run(installed.bin / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                         "--lab-require-kernel", "test_readme_example.py", timeout=900)
    _ok(done)
    assert re.search(r"\b1 passed\b", done.stdout), done.stdout
