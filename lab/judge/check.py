"""A check that must hold: :func:`expect` turns a failed one into a test failure that explains itself."""

from __future__ import annotations

from lab.report.model import Check

__all__ = ["ExpectationError", "expect", "holds", "fails"]


class ExpectationError(AssertionError):
    """A failed expectation: ``expected ...; saw ...; see <where the evidence is>``."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.sentence())
        self.check = check
        self.expected, self.seen, self.where = check.expected, check.seen, check.where


def expect(*checks: Check) -> None:
    """Raise :class:`ExpectationError` for the first check that did not pass."""
    for check in checks:
        if not check.passed:
            raise ExpectationError(check)


def holds(name: str, expected: str, seen: str, where: str = "") -> Check:
    return Check(name, True, expected, seen, where)


def fails(name: str, expected: str, seen: str, where: str = "") -> Check:
    return Check(name, False, expected, seen, where)
