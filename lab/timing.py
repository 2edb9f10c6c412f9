"""Failover windows predicted from a timer profile (pure functions, seconds).

Tests assert that a measured time falls inside a :class:`Window` derived from
the configured timers, never that it equals a number. Terms used below:

* R0: the RTO of the failed path when the fault starts (read it from the kernel
  just before the fault; by default ``rto_min``, what a quiet LAN path has).
* strike: a T3-rtx expiry, or a heartbeat timeout while the previous heartbeat
  is unanswered. Each strike adds one to the path's and the association's
  error count and doubles the path's RTO, capped at ``rto_max``.
* tick: one jiffy; kernel timers run in whole ticks.
* heartbeat period: ``max(rto/2 + hb_interval, HZ/5) + random(0..rto)`` (no
  ``hb_interval`` on a PF path), net/sctp/transport.c.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.model.profile import TimerProfile

__all__ = [
    "Window",
    "GUEST_TICK",
    "HB_FLOOR",
    "tick_for",
    "strikes_to_switch",
    "backoff_sum",
    "switch_stall_window",
    "first_strike_window",
    "alternate_data_window",
    "unreachable_window",
    "failback_window",
    "heartbeat_window",
    "abort_window",
]

#: One jiffy of the User-Mode Linux guest kernel (HZ=100), in s.
GUEST_TICK = 0.01

#: Shortest heartbeat timeout (HZ/5 jiffies, whatever HZ is), in s.
HB_FLOOR = 0.2


@dataclass(frozen=True)
class Window:
    """An interval ``[low, high]`` (s) and the timer values it was derived from."""

    low: float
    high: float
    basis: str

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ValueError(f"invalid window {self.low}-{self.high} s ({self.basis})")

    def contains(self, x: float) -> bool:
        """Whether ``x`` seconds lies in the window (ends included)."""
        return self.low <= x <= self.high

    def __str__(self) -> str:
        return f"{self.low:.2f}-{self.high:.2f} s"


def tick_for(hz: int) -> float:
    """The length of one jiffy (s) of a kernel built with ``CONFIG_HZ=hz``."""
    if hz <= 0:
        raise ValueError(f"HZ must be positive (got {hz})")
    return 1 / hz


def _uses_pf(p: TimerProfile) -> bool:
    return p.pf_retrans <= p.path_max_retrans - 2


def strikes_to_switch(p: TimerProfile) -> int:
    """How many strikes on the primary path move new data to the alternate path.

    With PF (``pf_retrans <= path_max_retrans - 2``; a larger pf_retrans behaves
    like ``pf_enable=0``) the path leaves ACTIVE after ``pf_retrans + 1``
    strikes, otherwise when it becomes INACTIVE after ``path_max_retrans + 1``.
    """
    return p.pf_retrans + 1 if _uses_pf(p) else p.path_max_retrans + 1


def _rtos(r0_ms: float, strikes: int, rto_max_ms: float) -> list[float]:
    """The RTO (s) each of ``strikes`` successive strikes waits: R0, 2*R0, ... capped at rto_max."""
    return [min(r0_ms * 2**i, rto_max_ms) / 1000 for i in range(strikes)]


def backoff_sum(r0_ms: float, strikes: int, rto_max_ms: float) -> float:
    """Seconds taken by ``strikes`` back-to-back T3 expiries: sum of min(R0*2^i, rto_max), i < strikes."""
    return sum(_rtos(r0_ms, strikes, rto_max_ms))


def _wheel(seconds: float, tick: float) -> float:
    """How much later than its last tick a kernel timer of ``seconds`` may fire.

    The timer wheel rounds a timer up to its level's granularity: 1 tick below
    63 ticks, 8 ticks from 63, 64 from 504, 512 from 4032 (kernel/time/timer.c).
    """
    if tick <= 0:
        raise ValueError(f"tick must be positive (got {tick})")
    granularity, start = 1, 63
    while seconds >= start * tick:
        granularity, start = granularity * 8, start * 8
    return (granularity - 1) * tick


def _late(timers: list[float], tick: float) -> float:
    return sum(_wheel(t, tick) for t in timers)


def _r0(p: TimerProfile, r0_ms: float | None) -> float:
    r0 = p.rto_min if r0_ms is None else r0_ms
    if r0 <= 0:
        raise ValueError(f"r0_ms must be positive (got {r0_ms})")
    return r0


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000, 3):g} ms"


def _heartbeat_max(p: TimerProfile) -> float:
    """The longest heartbeat period (s) once the RTO has backed off to rto_max."""
    return max(p.rto_max / 2000 + p.hb_interval / 1000, HB_FLOOR) + p.rto_max / 1000


def _strikes(p: TimerProfile) -> str:
    k = strikes_to_switch(p)
    if _uses_pf(p):
        return f"pf_retrans={p.pf_retrans} ({k} strike{'s' if k > 1 else ''})"
    return f"path_max_retrans={p.path_max_retrans} ({k} strikes, no PF: pf_retrans={p.pf_retrans})"


def switch_stall_window(p: TimerProfile, *, r0_ms: float | None = None, tick: float, interval: float,
                        alternate_delay: float = 0.0) -> Window:
    """The longest gap between deliveries when the primary path is blackholed.

    Steady traffic sends one message every ``interval`` s. The first message
    lost is sent at most one interval after the fault; its T3 timer expires R0
    later (rounded up to a tick) and the retransmission goes to the alternate
    path; ordered delivery holds back every later message until it arrives.
    The stall is therefore at least ``R0 - tick``. At most, new data keeps
    going to the failing path until :func:`strikes_to_switch` strikes have
    backed its timer off, the receiver may delay its SACK by ``sack_timeout``
    and each end may lose a tick: ``interval + backoff_sum(R0, strikes,
    rto_max) + sack_timeout + 2*tick``, plus the timer wheel's rounding of
    timers of 63 ticks or more. An ``alternate_delay`` (one-way delay of the
    alternate path, s) delays the retransmission's arrival by as much.
    """
    r0 = _r0(p, r0_ms)
    rtos = _rtos(r0, strikes_to_switch(p), p.rto_max)
    high = interval + sum(rtos) + _late(rtos, tick) + p.sack_timeout / 1000 + 2 * tick + alternate_delay
    delayed = f", alternate path one-way delay={_ms(alternate_delay)}" if alternate_delay else ""
    return Window(
        max(r0 / 1000 - tick, 0.0) + alternate_delay,
        high,
        f"R0={r0:g} ms, rto_max={p.rto_max} ms, {_strikes(p)}, sack_timeout={p.sack_timeout} ms,"
        f" tick={_ms(tick)}, message interval={_ms(interval)}{delayed}",
    )


def first_strike_window(p: TimerProfile, *, r0_ms: float | None = None, tick: float, interval: float) -> Window:
    """From the fault until the first strike on the failed path.

    With PF in use and ``pf_expose=2`` this is when the kernel reports
    ADDR_POTENTIALLY_FAILED. A heartbeat already in flight at the fault can
    time out at any moment within R0, so the window starts at 0. At the
    latest, the first message sent after the fault (within ``interval``) is
    lost and its T3 timer expires R0 later; when only the sender's direction
    fails, a SACK the peer delayed (by up to ``sack_timeout``) can still
    arrive and restart that timer: ``interval + sack_timeout + R0`` plus the
    timer wheel's rounding and a tick at each end.
    """
    r0 = _r0(p, r0_ms)
    return Window(
        0.0,
        interval + p.sack_timeout / 1000 + r0 / 1000 + _wheel(r0 / 1000, tick) + 2 * tick,
        f"R0={r0:g} ms, sack_timeout={p.sack_timeout} ms, tick={_ms(tick)}, message interval={_ms(interval)}",
    )


def alternate_data_window(p: TimerProfile, *, r0_ms: float | None = None, tick: float, interval: float,
                          alternate_delay: float = 0.0) -> Window:
    """From the fault until the first DATA chunk goes out on an alternate path.

    Data moves when a T3 timer expires (its retransmission goes to an
    alternate path) or when the path leaves ACTIVE. The oldest chunk still
    unacknowledged at the fault was sent at most ``sack_timeout`` earlier
    (the peer acknowledges within its delayed-SACK time), so its T3 timer
    expires no earlier than ``R0 - sack_timeout`` after the fault, less a
    tick. At the latest the bound of :func:`switch_stall_window` holds. Both
    ends move by ``alternate_delay`` when the window is measured where the
    DATA arrives.
    """
    r0 = _r0(p, r0_ms)
    stall = switch_stall_window(p, r0_ms=r0, tick=tick, interval=interval, alternate_delay=alternate_delay)
    low = max(r0 / 1000 - p.sack_timeout / 1000 - tick, 0.0) + alternate_delay
    return Window(low, stall.high, stall.basis)


def unreachable_window(p: TimerProfile, *, r0_ms: float | None = None, tick: float) -> Window:
    """From the fault until the kernel reports the failed peer address UNREACHABLE.

    The path becomes INACTIVE when its error count exceeds path_max_retrans,
    i.e. after ``path_max_retrans + 1`` strikes. They come from T3 expiries
    while data still goes to the path, then from heartbeat timeouts: at least
    ``backoff_sum(R0, path_max_retrans + 1, rto_max) - tick``; at most that
    plus one heartbeat period with the RTO at rto_max (``1.5*rto_max +
    hb_interval``, at least HZ/5 + rto_max), a tick at each end and the timer
    wheel's rounding of timers of 63 ticks or more.
    """
    r0 = _r0(p, r0_ms)
    strikes = p.path_max_retrans + 1
    timers = [*_rtos(r0, strikes, p.rto_max), _heartbeat_max(p)]
    return Window(
        max(sum(timers[:-1]) - tick, 0.0),
        sum(timers) + _late(timers, tick) + 2 * tick,
        f"R0={r0:g} ms, rto_max={p.rto_max} ms, path_max_retrans={p.path_max_retrans}"
        f" ({strikes} strikes), hb_interval={p.hb_interval} ms, tick={_ms(tick)}",
    )


def heartbeat_window(p: TimerProfile, *, tick: float) -> Window:
    """From any moment until every ACTIVE or UNCONFIRMED path has been heartbeated.

    A path is heartbeated once per heartbeat period, ``rto/2 + random(0..rto)
    + hb_interval`` (floor HZ/5 before the random part); with the RTO at most
    rto_max that is at most ``1.5*rto_max + hb_interval``, plus the timer
    wheel's rounding and a tick at each end.
    """
    period = _heartbeat_max(p)
    return Window(
        0.0,
        period + _wheel(period, tick) + 2 * tick,
        f"rto_max={p.rto_max} ms, hb_interval={p.hb_interval} ms, tick={_ms(tick)} (one heartbeat period)",
    )


def failback_window(p: TimerProfile, *, tick: float) -> Window:
    """From restoring the primary path until data returns to it.

    The first HB-ACK on the recovered primary makes it ACTIVE and path
    selection prefers the primary again. Heartbeats on an INACTIVE path come
    every ``rto/2 + random(0..rto) + hb_interval`` with the RTO backed off to
    rto_max, on a PF path every ``rto/2 + random(0..rto)`` (floor HZ/5 before
    the random part). The heartbeat in flight at the restore may be lost, so
    allow two periods: ``0`` to ``2*(1.5*rto_max + hb_interval) + 2*tick``,
    plus the timer wheel's rounding of each period.
    """
    period = _heartbeat_max(p)
    return Window(
        0.0,
        2 * (period + _wheel(period, tick)) + 2 * tick,
        f"rto_max={p.rto_max} ms, hb_interval={p.hb_interval} ms, tick={_ms(tick)} (two heartbeat periods)",
    )


def abort_window(
    p: TimerProfile, *, r0_ms: float | None = None, tick: float, interval: float = 0.0, paths: int = 2
) -> Window:
    """From blackholing every path until the sending side aborts the association.

    Steady traffic (one message every ``interval`` s) keeps data outstanding.
    A timer expiry that finds the association's error count at
    association_max_retrans aborts, so the abort is the ``n =
    association_max_retrans + 1``-th expiry (T3 or heartbeat), counted across
    both paths; every strike doubles its own path's RTO (capped at rto_max).
    Both paths are assumed to start at R0 (the lab's paths have equal delay).

    Low: the fastest interleaving has both paths striking in parallel, each
    strike following the previous one on its path by at least
    ``min(rto, max(rto/2, HZ/5))`` (the shortest T3 or heartbeat timeout) and
    the first one immediately (a heartbeat sent just before the fault). One
    path then needs ``ceil(n/2)`` strikes. (Not covered: a T3 expiry and a
    heartbeat timeout landing on the same path closer together than that.)

    High: T3 alone guarantees progress and is serialised, since each expiry
    moves the outstanding data to the other path: strikes alternate (a PF
    path with fewer errors is preferred) once the first path has
    :func:`strikes_to_switch` strikes, until both are INACTIVE (path_max_retrans
    + 1 each), after which the data stays on one path. With the heavier share
    ``a = max(ceil(n/2), min(n, strikes_to_switch), n - path_max_retrans - 1)``
    the time is ``interval + backoff_sum(R0, a) + backoff_sum(R0, n - a)``
    (heartbeat strikes only add counts; without PF both T3 timers run at once,
    which is faster). Each expiry may fire a tick late, more for timers of 63
    ticks or more (timer wheel granularity).

    ``paths`` is how many peer addresses (transports) the sender has. With
    one (a single-homed peer) every strike lands on it: low and high both
    follow its backoff, ``a = n``, and the first may come ``sack_timeout``
    late (a delayed SACK restarts T3 just before the fault). With three or more the strikes spread
    wider, so the two-path high still bounds them and the low divides by
    ``paths``.

    This window is for the side that sends; an idle side aborts on heartbeats
    alone, much later with long hb_interval.
    """
    if paths < 1:
        raise ValueError(f"paths must be at least 1 (got {paths})")
    r0 = _r0(p, r0_ms)
    n = p.association_max_retrans + 1
    per_path = -(-n // paths)
    low = sum(min(r, max(r / 2, HB_FLOOR)) for r in _rtos(r0, per_path, p.rto_max)[1:])
    heavy = n if paths == 1 else max(-(-n // 2), min(n, strikes_to_switch(p)), n - p.path_max_retrans - 1)
    gaps = _rtos(r0, heavy, p.rto_max) + _rtos(r0, n - heavy, p.rto_max)
    # one path: nothing else strikes in parallel, so the delayed SACK that may restart T3 just before the fault
    # (see first_strike_window) delays every strike
    slack = p.sack_timeout / 1000 if paths == 1 else 0.0
    high = interval + slack + sum(gaps) + _late(gaps, tick) + n * tick
    return Window(
        max(low - tick, 0.0),
        high,
        f"R0={r0:g} ms, rto_max={p.rto_max} ms, association_max_retrans={p.association_max_retrans}"
        f" ({n} expiries over {paths} path{'s' if paths > 1 else ''}), path_max_retrans={p.path_max_retrans}, {_strikes(p)}, tick={_ms(tick)},"
        f" message interval={_ms(interval)}",
    )
