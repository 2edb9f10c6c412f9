"""Kernel tier: the examples of docs/api.md and the README's "In your own tests" run as written.

Each ```python block becomes a test file of its own (in a pytester folder with
the shipped topologies) and must pass.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST = "--lab-kernel=host"  # already in a capable kernel (the guest, or a host with SCTP)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("## In your own tests", 1)[1].split("\n## ", 1)[0]
    return python_blocks(section)[0]


EXAMPLES = {f"api-{i}": block for i, block in enumerate(python_blocks((ROOT / "docs" / "api.md").read_text()))}
EXAMPLES["readme"] = readme_example()


@pytest.mark.kernel
@pytest.mark.parametrize("source", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_the_documented_example_passes(source: str, pytester: pytest.Pytester) -> None:
    shutil.copytree(ROOT / "topologies", pytester.path / "topologies")
    pytester.makepyfile(test_example=source)
    result = pytester.runpytest_inprocess(HOST, "--lab-require-kernel", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=source.count("\ndef test_"))
