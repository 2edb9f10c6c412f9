"""Failover windows derived from timer profiles."""

from __future__ import annotations

import pytest

from lab.model.profile import get_profile
from lab.timing import (
    alternate_data_window,
    first_strike_window,
    GUEST_TICK,
    Window,
    abort_window,
    backoff_sum,
    failback_window,
    strikes_to_switch,
    switch_stall_window,
    tick_for,
    unreachable_window,
)

FAST = get_profile("fast")
DEFAULTS = get_profile("kernel-defaults")


def test_ticks() -> None:
    assert tick_for(100) == GUEST_TICK == 0.01
    assert tick_for(1000) == 0.001
    with pytest.raises(ValueError):
        tick_for(0)


def test_window() -> None:
    w = Window(0.09, 0.18, "basis")
    assert str(w) == "0.09-0.18 s"
    assert w.contains(0.09) and w.contains(0.18) and w.contains(0.1)
    assert not w.contains(0.08) and not w.contains(0.19)
    with pytest.raises(ValueError):
        Window(0.2, 0.1, "basis")


def test_backoff_sum() -> None:
    assert backoff_sum(100, 3, 400) == pytest.approx(0.7)
    assert backoff_sum(100, 5, 400) == pytest.approx(1.5)  # 100 + 200 + 400 + 400 + 400
    assert backoff_sum(1000, 3, 1500) == pytest.approx(4.0)
    assert backoff_sum(100, 0, 400) == 0


def test_strikes_to_switch() -> None:
    assert strikes_to_switch(FAST) == 1
    assert strikes_to_switch(DEFAULTS) == 1
    assert strikes_to_switch(FAST.model_copy(update={"pf_retrans": 1})) == 3  # behaves like pf_enable=0
    assert strikes_to_switch(DEFAULTS.model_copy(update={"pf_retrans": 3})) == 4
    assert strikes_to_switch(DEFAULTS.model_copy(update={"pf_retrans": 4})) == 6


def test_switch_stall_fast() -> None:
    w = switch_stall_window(FAST, r0_ms=100, tick=0.01, interval=0.01)
    assert (w.low, w.high) == pytest.approx((0.09, 0.18))
    assert str(w) == "0.09-0.18 s"
    assert w.basis == (
        "R0=100 ms, rto_max=400 ms, pf_retrans=0 (1 strike), sack_timeout=50 ms, tick=10 ms, message interval=10 ms"
    )
    assert switch_stall_window(FAST, tick=0.01, interval=0.01) == w  # R0 defaults to rto_min


def test_switch_stall_follows_r0_and_pf() -> None:
    w = switch_stall_window(FAST, r0_ms=200, tick=0.01, interval=0.01)
    assert (w.low, w.high) == pytest.approx((0.19, 0.28))
    assert w.contains(0.22)  # measured in the guest with the tuned timers
    no_pf = switch_stall_window(FAST.model_copy(update={"pf_retrans": 1}), r0_ms=100, tick=0.01, interval=0.01)
    assert no_pf.high == pytest.approx(0.01 + 0.7 + 0.05 + 0.02)
    assert no_pf.contains(0.40)  # measured without PF
    assert "path_max_retrans=2 (3 strikes, no PF: pf_retrans=1)" in no_pf.basis
    with pytest.raises(ValueError):
        switch_stall_window(FAST, r0_ms=0, tick=0.01, interval=0.01)


def test_switch_stall_long_timers_allow_for_the_timer_wheel() -> None:
    w = switch_stall_window(DEFAULTS, tick=0.01, interval=0.01)
    # 1 s = 100 ticks sits in the wheel's second level: rounded up to 8 ticks
    assert (w.low, w.high) == pytest.approx((0.99, 0.01 + 1.0 + 0.07 + 0.2 + 0.02))
    assert w.contains(1.0) and w.contains(1.3)  # measured with the kernel defaults


def test_unreachable() -> None:
    w = unreachable_window(FAST, r0_ms=100, tick=0.01)
    # 3 strikes: 0.1 + 0.2 + 0.4; then one heartbeat period of 0.2 + 0.2 + 0.4 (80 ticks: +0.07)
    assert (w.low, w.high) == pytest.approx((0.69, 0.7 + 0.8 + 0.07 + 0.02))
    assert w.contains(1.0) and w.contains(1.4)  # measured: ADDR_UNREACHABLE ~1.0-1.4 s
    assert w.basis == "R0=100 ms, rto_max=400 ms, path_max_retrans=2 (3 strikes), hb_interval=200 ms, tick=10 ms"
    assert unreachable_window(DEFAULTS, tick=0.01).low > 10  # measured: nothing within 10 s


def test_unreachable_heartbeat_floor() -> None:
    tiny = FAST.model_copy(update={"rto_min": 10, "rto_initial": 10, "rto_max": 20, "hb_interval": 10, "sack_timeout": 10})
    w = unreachable_window(tiny, tick=0.001)
    # heartbeat period: max(10 + 10 ms, HZ/5) + 20 ms
    assert w.high == pytest.approx(0.01 + 0.02 + 0.02 + 0.22 + 0.007 + 0.002)


def test_failback() -> None:
    w = failback_window(FAST, tick=0.01)
    assert (w.low, w.high) == pytest.approx((0.0, 2 * (0.8 + 0.07) + 0.02))
    assert w.basis == "rto_max=400 ms, hb_interval=200 ms, tick=10 ms (two heartbeat periods)"


def test_abort_fast() -> None:
    w = abort_window(FAST, r0_ms=100, tick=0.01, interval=0.01)
    # low: 3 of 5 expiries on one path, spaced 0.2 s (half RTO, heartbeat floor)
    # high: 3 + 2 serial T3 expiries: 0.7 + 0.3, a tick each, plus the interval
    assert (w.low, w.high) == pytest.approx((0.39, 0.01 + 1.0 + 0.05))
    assert "association_max_retrans=4 (5 expiries over 2 paths)" in w.basis


def test_abort_with_one_path_follows_its_backoff() -> None:
    w = abort_window(FAST, r0_ms=100, tick=0.01, interval=0.01, paths=1)
    # 5 expiries on the one transport: 0.1 + 0.2 + 0.4 + 0.4 + 0.4 (measured 1.55 s, partial-server)
    assert w.high == pytest.approx(0.01 + 0.05 + 1.5 + 0.05) and w.contains(1.55)  # + sack_timeout
    assert w.low == pytest.approx(4 * 0.2 - 0.01)  # four gaps of at least min(rto, max(rto/2, 0.2 s))
    with pytest.raises(ValueError):
        abort_window(FAST, tick=0.01, paths=0)


def test_abort_contains_measurements() -> None:
    tuned = FAST.model_copy(update={"association_max_retrans": 10})
    w = abort_window(tuned, tick=0.01, interval=0.01)
    assert w.contains(2.3) and w.contains(3.2)  # measured with the tuned timers (association_max_retrans 10)
    # 11 expiries: 3 on one path, then 8 on the other (both INACTIVE after 3 each)
    assert w.high == pytest.approx(0.01 + 0.7 + 2.7 + 0.11)
    d = abort_window(DEFAULTS, tick=0.01, interval=0.01)
    assert d.contains(55)  # measured sender abort with the kernel defaults
    assert d.low == pytest.approx(1 + 2 + 4 + 8 + 16 - 0.01)
    assert d.high > 63 + 31


def test_abort_without_pf_keeps_data_on_the_primary() -> None:
    no_pf = DEFAULTS.model_copy(update={"pf_retrans": 5, "association_max_retrans": 4})
    w = abort_window(no_pf, tick=0.01)
    # all 5 expiries may fall on the primary before it goes INACTIVE: 1 + 2 + 4 + 8 + 16
    assert w.high > 31


def test_first_strike_can_come_at_once_and_at_the_latest_one_rto_after_the_next_message() -> None:
    w = first_strike_window(get_profile("fast"), r0_ms=100, tick=0.01, interval=0.01)
    assert (w.low, round(w.high, 3)) == (0.0, 0.18)  # 10 ms + 50 ms sack_timeout + 100 ms + 2 ticks
    assert "R0=100 ms" in w.basis


def test_alternate_data_window_starts_one_sack_timeout_before_r0() -> None:
    w = alternate_data_window(get_profile("fast"), r0_ms=100, tick=0.01, interval=0.01)
    assert round(w.low, 3) == 0.04  # 100 ms - 50 ms sack_timeout - 10 ms tick
    assert w.high == switch_stall_window(get_profile("fast"), r0_ms=100, tick=0.01, interval=0.01).high
