"""Kernel tier: wrong expectations fail with a message that explains itself.

Each test states something false about a real run and checks the failure
names what was expected, what was seen, the timer values and the evidence.
"""

from __future__ import annotations

import re
import time

import pytest

from lab import (alternate_data_window, data_moved, Evidence, expect, init_advertised, kernel_reported, kernel_tick,
                 LinkFaults, unreachable_window, Window)

pytestmark = [pytest.mark.kernel, pytest.mark.topology("dual-homed"), pytest.mark.profile("fast")]


def test_a_wrong_init_address_names_what_the_init_really_advertised(lab_evidence: Evidence) -> None:
    with pytest.raises(AssertionError) as failure:
        expect(init_advertised(lab_evidence, client=["198.18.1.1", "198.18.9.9"], server=["198.18.1.2", "198.18.2.2"]))
    message = str(failure.value)
    assert message.startswith("expected the INIT to advertise exactly 198.18.1.1, 198.18.9.9; "
                              "saw it advertised 198.18.1.1, 198.18.2.1 (source 198.18.1.1")
    assert re.search(r"see .*/path-a-client\.pcap", message)


def test_a_too_small_window_names_the_delay_seen_and_the_timers(lab_evidence: Evidence, link_faults: LinkFaults) -> None:
    pair, profile, tick = lab_evidence.pair, lab_evidence.pair.profile, kernel_tick()
    r0 = pair.warm_up(rate=100, messages=50)
    with link_faults.blackhole("path-a"):
        fault_at = time.monotonic()
        pair.wait_arrival_from("198.18.2.1", after_seq=pair.client.sent,
                               timeout=unreachable_window(profile, r0_ms=r0, tick=tick).high)
    pair.stop_traffic()
    real = alternate_data_window(profile, r0_ms=r0, tick=tick, interval=0.01)
    expect(data_moved(lab_evidence, src="198.18.2.1", dst="198.18.2.2", after=fault_at, within=real))  # holds

    too_small = Window(0.0, 0.01, real.basis)
    with pytest.raises(AssertionError) as failure:
        expect(data_moved(lab_evidence, src="198.18.2.1", dst="198.18.2.2", after=fault_at, within=too_small))
    assert re.fullmatch(
        r"expected DATA on 198\.18\.2\.1 -> 198\.18\.2\.2 within 0\.00-0\.01 s of the fault \(R0=\d+ ms, .*\); "
        r"saw the first 0\.\d{3} s after it \(TSN \d+\); see .*/path-b-client\.pcap, .*/path-b-server\.pcap",
        str(failure.value),
    )
    with pytest.raises(AssertionError, match=r"expected the client's kernel to report 198\.18\.1\.2 ADDR_POTENTIALLY_FAILED "
                                             r"within 0\.00-0\.01 s of the fault .*; saw it reported after 0\.\d+ s .*"
                                             r"see .*/timeline\.json"):
        expect(kernel_reported(lab_evidence, side="client", peer="198.18.1.2", state="ADDR_POTENTIALLY_FAILED",
                               after=fault_at, within=too_small))
