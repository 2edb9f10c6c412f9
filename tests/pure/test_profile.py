"""Timer profiles: built-in values, validation, sysctls, description."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lab.errors import ConfigError
from lab.model.yamlsource import KeyedValueError
from lab.model.profile import PROFILES, TimerProfile, get_profile

FAST = {**PROFILES["fast"].model_dump(), "name": "t"}


def make(**changes: object) -> TimerProfile:
    return TimerProfile(**{**FAST, **changes})


def test_builtin_profiles() -> None:
    assert list(PROFILES) == ["fast", "kernel-defaults"]
    assert get_profile("fast") == make(name="fast")
    defaults = get_profile("kernel-defaults")
    assert (defaults.rto_initial, defaults.rto_min, defaults.rto_max, defaults.hb_interval) == (3000, 1000, 60000, 30000)
    assert (defaults.path_max_retrans, defaults.pf_retrans, defaults.pf_expose) == (5, 0, 0)
    assert (defaults.sack_timeout, defaults.association_max_retrans, defaults.max_init_retransmits) == (200, 10, 8)


def test_unknown_profile() -> None:
    with pytest.raises(ConfigError) as info:
        get_profile("x")
    assert str(info.value) == "unknown timer profile 'x' (expected one of: fast, kernel-defaults)"


def test_sysctls() -> None:
    values = get_profile("fast").sysctls()
    assert values == {
        "net.sctp.rto_initial": 200,
        "net.sctp.rto_min": 100,
        "net.sctp.rto_max": 400,
        "net.sctp.hb_interval": 200,
        "net.sctp.path_max_retrans": 2,
        "net.sctp.pf_enable": 1,
        "net.sctp.pf_retrans": 0,
        "net.sctp.pf_expose": 2,
        "net.sctp.sack_timeout": 50,
        "net.sctp.association_max_retrans": 4,
        "net.sctp.max_init_retransmits": 8,
    }
    keys = list(values)
    assert keys.index("net.sctp.rto_min") < keys.index("net.sctp.rto_max")  # accepted from the defaults


def test_describe() -> None:
    assert get_profile("fast").describe() == (
        "fast: rto_min=100 ms rto_initial=200 ms rto_max=400 ms hb_interval=200 ms"
        " path_max_retrans=2 pf_retrans=0 sack_timeout=50 ms association_max_retrans=4"
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (dict(rto_min=300), "rto_min", "rto_min (300 ms) must be <= rto_initial (200 ms)"),
        (dict(rto_max=150), "rto_initial", "rto_initial (200 ms) must be <= rto_max (150 ms)"),
        (dict(pf_retrans=3), "pf_retrans", "pf_retrans (3) must be <= path_max_retrans (2)"),
        (dict(sack_timeout=200), "rto_min", "spurious T3 timeouts and PF flapping"),
    ],
)
def test_inconsistent_timers(changes: dict[str, int], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        make(**changes)
    cause = info.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, KeyedValueError) and cause.key_path == (field,)
    assert words in str(cause)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (dict(pf_expose=3), "pf_expose"),
        (dict(rto_min=0), "rto_min"),
        (dict(hb_interval=0), "hb_interval"),
        (dict(sack_timeout=0), "sack_timeout"),
        (dict(sack_timeout=501), "sack_timeout"),
        (dict(path_max_retrans=0, pf_retrans=0), "path_max_retrans"),
        (dict(pf_retrans=-1), "pf_retrans"),
        (dict(association_max_retrans=0), "association_max_retrans"),
        (dict(rto_max="400"), "rto_max"),
        (dict(rto_max=400.0), "rto_max"),
        (dict(path_max_retrans=True), "path_max_retrans"),
        (dict(rto_maximum=400), "rto_maximum"),
    ],
)
def test_invalid_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError) as info:
        make(**changes)
    assert info.value.errors()[0]["loc"][0] == field  # type: ignore[attr-defined]


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        get_profile("fast").rto_min = 10  # type: ignore[misc]


def test_boundaries_accepted() -> None:
    profile = make(rto_min=50, rto_initial=50, rto_max=50, pf_retrans=2, pf_expose=0)
    assert profile.rto_min == profile.sack_timeout == 50
