"""Pure tier: fault parameters, their merge, and the restore check (no kernel)."""

from __future__ import annotations

import pytest

from pathlib import Path

from lab.errors import ConfigError, KernelError
from lab.faults.snapshot import Snapshot, compare
from lab.model.netem import NetemParams
from lab.model.scenario import load_scenario
from lab.session.faultargs import fault_spec


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


#: Bad impairments and the one reason each gets, wherever it is written.
BAD_IMPAIRMENTS = [
    ({"loss_pct": 101}, "loss_pct", "101 is above 100 (expected loss (%), 0-100)"),
    ({"delay_ms": -1}, "delay_ms", "-1 is below 0 (expected delay (ms), 0 or more)"),
    ({"rate_kbit": -5}, "rate_kbit", "-5 is below 0 (expected rate limit (kbit/s), 0 or more)"),
    ({"jitter_ms": 10}, "jitter_ms", "delay variation needs delay_ms > 0 (it varies the delay)"),
    ({"reorder_pct": 5}, "reorder_pct", "reordering needs delay_ms > 0 (netem reorders by not delaying some packets)"),
    ({"loss_corr_pct": 25}, "loss_corr_pct", "loss correlation needs loss_pct > 0 (it correlates the losses)"),
]
#: The same values as the command line writes them.
CLI_WORDS = {"loss_pct": "loss=101%", "delay_ms": "delay=-1ms", "rate_kbit": "rate=-5kbit", "jitter_ms": "jitter=10ms",
             "reorder_pct": "reorder=5%", "loss_corr_pct": "loss-corr=25%"}


@pytest.mark.parametrize(("params", "key", "reason"), BAD_IMPAIRMENTS, ids=[k for _, k, _ in BAD_IMPAIRMENTS])
def test_a_bad_impairment_is_refused_alike_from_a_file_the_cli_and_pytest(
    params: dict[str, float], key: str, reason: str, tmp_path: Path
) -> None:
    # a scenario file
    value = next(iter(params.values()))
    scenario = tmp_path / "scenarios" / "bad.yaml"
    scenario.parent.mkdir()
    scenario.write_text(SCENARIO.format(key=key, value=value))
    with pytest.raises(ConfigError) as from_file:
        load_scenario(scenario, topology_dirs=[TOPOLOGIES])
    assert (from_file.value.key, from_file.value.reason) == (f"steps[0].fault.{key}", reason)
    assert from_file.value.line == 9
    # the command line
    with pytest.raises(ConfigError) as from_cli:
        fault_spec("impair", "path-a", [CLI_WORDS[key]], command="impair")
    assert str(from_cli.value) == f"sctplab impair: {key}: {reason}"
    # pytest: link_faults.impair("path-a", **params) builds its parameters with NetemParams.of
    with pytest.raises(ConfigError) as from_pytest:
        NetemParams.of(params)
    assert (from_pytest.value.key, from_pytest.value.reason) == (key, reason)


SCENARIO = """description: a bad impairment
topology: dual-homed
traffic: {{rate: 50}}
steps:
  - at: 1
    fault:
      kind: impair
      link: path-a
      {key}: {value}
"""
TOPOLOGIES = Path(__file__).resolve().parents[2] / "topologies"


def test_argument_errors_are_config_errors_naming_the_parameter() -> None:
    with pytest.raises(ConfigError, match="^delay_ms: 'x' is not a number"):
        NetemParams.of({"delay_ms": "x"})
    with pytest.raises(ConfigError, match="^dely_ms: unknown key"):
        NetemParams.of({"dely_ms": 5})
    with pytest.raises(ConfigError, match="no impairment given"):
        NetemParams.of({})


def test_the_file_model_and_the_cli_come_from_the_one_table() -> None:
    from lab.model.impairment import Impairment
    from lab.model.netem import BY_KEY, BY_SHORT

    assert set(Impairment.model_fields) == set(BY_KEY) == set(NetemParams().values())
    assert fault_spec("impair", "path-a", [f"{short}=1" for short in BY_SHORT if short != "jitter"] + ["jitter=1"],
                      command="impair")["rate_kbit"] == 1


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
