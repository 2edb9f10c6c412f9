"""Pure tier: fault parameters, their merge, and the restore check (no kernel)."""

from __future__ import annotations

import pytest

from lab.errors import KernelError
from lab.faults import NetemParams
from lab.faults.snapshot import Snapshot, compare


def test_impairments_on_one_interface_merge_by_largest_value() -> None:
    slow = NetemParams(delay_ms=80, loss_pct=5)
    blackhole = NetemParams(loss_pct=100)
    merged = slow.merge(blackhole)
    assert (merged.delay_ms, merged.loss_pct) == (80, 100)
    assert merged.describe() == "delay_ms=80 loss_pct=100"


def test_netem_arguments_for_pyroute2() -> None:
    args = NetemParams(delay_ms=80, jitter_ms=5, loss_pct=1, reorder_pct=10, duplicate_pct=2, corrupt_pct=3,
                       rate_kbit=512).pyroute2()
    assert args == {"delay": 80000, "jitter": 5000, "loss": 1, "prob_reorder": 10, "duplicate": 2,
                    "prob_corrupt": 3, "rate": "512kbit"}
    assert NetemParams().pyroute2() == {}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"loss_pct": 101}, "netem loss_pct=101: expected 0-100 for a percentage"),
        ({"delay_ms": -1}, "netem delay_ms=-1: expected 0-100 for a percentage, >= 0 otherwise"),
        ({"reorder_pct": 5}, "netem reorder_pct needs delay_ms > 0"),
        ({"loss_corr_pct": 25}, "netem loss_corr_pct needs loss_pct > 0"),
    ],
)
def test_bad_netem_parameters_are_refused(params: dict[str, float], message: str) -> None:
    with pytest.raises(KernelError, match=message):
        NetemParams(**params)


def _snapshot(**changes: frozenset[tuple[object, ...]]) -> Snapshot:
    base = dict(
        links=frozenset({("eth0-abc123", True, 1500)}),
        addresses=frozenset({("eth0-abc123", "198.18.1.1", 24)}),
        routes=frozenset({("198.18.1.0", 24, "eth0-abc123", None, "198.18.1.1", 2, 253, 1)}),
        qdiscs=frozenset(),
    )
    return Snapshot("sctplab-abc123-client", **{**base, **changes})


def test_an_exact_restore_passes() -> None:
    compare(_snapshot(), _snapshot(), fault="blackhole path-a (both)")


def test_a_restore_that_leaves_differences_names_each_one() -> None:
    after = _snapshot(
        links=frozenset({("eth0-abc123", False, 1500)}),
        routes=frozenset(),
        qdiscs=frozenset({("eth0-abc123", "netem", 0x10000, 0xFFFFFFFF)}),
    )
    with pytest.raises(KernelError) as failure:
        compare(_snapshot(), after, fault="admin down path-a (near side of client)")
    message = str(failure.value)
    assert message.startswith("undoing admin down path-a (near side of client) did not restore sctplab-abc123-client: ")
    assert "link ('eth0-abc123', True, 1500) is gone" in message
    assert "link ('eth0-abc123', False, 1500) is new" in message
    assert "route ('198.18.1.0', 24, 'eth0-abc123', None, '198.18.1.1', 2, 253, 1) is gone" in message
    assert "qdisc ('eth0-abc123', 'netem', 65536, 4294967295) is new" in message
