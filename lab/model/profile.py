"""SCTP timer profiles: the per-namespace ``net.sctp.*`` timers a run uses.

A :class:`TimerProfile` holds the timers in milliseconds and checks they make
sense together; :meth:`TimerProfile.sysctls` gives the keys to write into a
network namespace *before* any SCTP socket is created there (a socket copies
them when it is created; a new namespace starts from the kernel defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.errors import ConfigError
from lab.model.yamlsource import KeyedValueError

__all__ = ["TimerProfile", "PROFILES", "get_profile", "TIMER_MAX_MS", "SACK_TIMEOUT_MAX_MS"]

#: Largest value the kernel accepts for a timer sysctl (one day, in ms).
TIMER_MAX_MS = 86_400_000

#: Largest sack_timeout the kernel accepts (ms).
SACK_TIMEOUT_MAX_MS = 500

#: A timer sysctl in ms.
_Timer = Annotated[int, Field(gt=0, le=TIMER_MAX_MS)]


class TimerProfile(BaseModel):
    """A named set of SCTP timers (all times in ms) and retransmission limits."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str = Field(min_length=1)
    rto_initial: _Timer
    rto_min: _Timer
    rto_max: _Timer
    hb_interval: _Timer
    path_max_retrans: int = Field(gt=0)
    pf_retrans: int = Field(ge=0)
    pf_expose: Literal[0, 1, 2]
    sack_timeout: int = Field(gt=0, le=SACK_TIMEOUT_MAX_MS)
    association_max_retrans: int = Field(gt=0)
    max_init_retransmits: int = Field(gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> TimerProfile:
        if self.rto_min > self.rto_initial:
            raise KeyedValueError(
                ("rto_min",), f"rto_min ({self.rto_min} ms) must be <= rto_initial ({self.rto_initial} ms)"
            )
        if self.rto_initial > self.rto_max:
            raise KeyedValueError(
                ("rto_initial",), f"rto_initial ({self.rto_initial} ms) must be <= rto_max ({self.rto_max} ms)"
            )
        if self.pf_retrans > self.path_max_retrans:
            raise KeyedValueError(
                ("pf_retrans",),
                f"pf_retrans ({self.pf_retrans}) must be <= path_max_retrans ({self.path_max_retrans})",
            )
        if self.rto_min < self.sack_timeout:
            raise KeyedValueError(
                ("rto_min",),
                f"rto_min ({self.rto_min} ms) must be >= sack_timeout ({self.sack_timeout} ms): a T3 timer"
                " shorter than the peer's delayed SACK gives spurious T3 timeouts and PF flapping",
            )
        return self

    def sysctls(self) -> dict[str, int]:
        """The ``net.sctp.*`` sysctls of this profile, plus ``pf_enable=1``.

        The order is one the kernel accepts when writing them one by one into a
        namespace that still has the defaults: rto_min (checked against the
        current rto_max) before rto_max (checked against the current rto_min).
        """
        return {
            "net.sctp.rto_initial": self.rto_initial,
            "net.sctp.rto_min": self.rto_min,
            "net.sctp.rto_max": self.rto_max,
            "net.sctp.hb_interval": self.hb_interval,
            "net.sctp.path_max_retrans": self.path_max_retrans,
            "net.sctp.pf_enable": 1,
            "net.sctp.pf_retrans": self.pf_retrans,
            "net.sctp.pf_expose": self.pf_expose,
            "net.sctp.sack_timeout": self.sack_timeout,
            "net.sctp.association_max_retrans": self.association_max_retrans,
            "net.sctp.max_init_retransmits": self.max_init_retransmits,
        }

    def describe(self) -> str:
        """One line naming the profile and the timers that decide failover."""
        return (
            f"{self.name}: rto_min={self.rto_min} ms rto_initial={self.rto_initial} ms"
            f" rto_max={self.rto_max} ms hb_interval={self.hb_interval} ms"
            f" path_max_retrans={self.path_max_retrans} pf_retrans={self.pf_retrans}"
            f" sack_timeout={self.sack_timeout} ms association_max_retrans={self.association_max_retrans}"
        )


#: The built-in profiles by name: "fast" (sub-second failover, PF events
#: exposed) and "kernel-defaults" (what a new network namespace starts with).
PROFILES: Mapping[str, TimerProfile] = MappingProxyType(
    {
        profile.name: profile
        for profile in (
            TimerProfile(
                name="fast",
                rto_initial=200,
                rto_min=100,
                rto_max=400,
                hb_interval=200,
                path_max_retrans=2,
                pf_retrans=0,
                pf_expose=2,
                sack_timeout=50,
                association_max_retrans=4,
                max_init_retransmits=8,
            ),
            TimerProfile(
                name="kernel-defaults",
                rto_initial=3000,
                rto_min=1000,
                rto_max=60000,
                hb_interval=30000,
                path_max_retrans=5,
                pf_retrans=0,
                pf_expose=0,
                sack_timeout=200,
                association_max_retrans=10,
                max_init_retransmits=8,
            ),
        )
    }
)


def get_profile(name: str) -> TimerProfile:
    """The built-in profile called ``name``; :class:`ConfigError` if there is none."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(
            f"unknown timer profile {name!r} (expected one of: {', '.join(PROFILES)})"
        ) from None
