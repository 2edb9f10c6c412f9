"""Pure tier: where kernel work runs, and what the error says when nowhere can.

The kernel probe and the guest lookup are replaced by fakes: what is tested is
the decision and its wording, not the kernel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import CapabilityError
from lab.guest import uml
from lab.guest.uml import GuestKernel, find_guest_kernel
from lab.kernel import choice
from lab.kernel.caps import KernelCaps

CAPABLE = KernelCaps(release="6.8.0", guest=False)
LACKING = KernelCaps(release="6.18.44", guest=False, missing={"sctp": "socket(IPPROTO_SCTP) failed", "netem": "no qdisc"})
GUEST = GuestKernel(Path("/usr/bin/linux.uml"), "6.1.176", Path("/usr/lib/uml/modules"), Path("/usr/sbin/modprobe"))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def install(caps: KernelCaps, guest: GuestKernel | Exception) -> None:
        monkeypatch.delenv("SCTPLAB_IN_GUEST", raising=False)
        monkeypatch.setattr(choice, "probe", lambda: caps)

        def find() -> GuestKernel:
            if isinstance(guest, Exception):
                raise guest
            return guest

        monkeypatch.setattr(choice, "find_guest_kernel", find)

    return install


def test_auto_stays_on_a_capable_kernel(fake) -> None:  # type: ignore[no-untyped-def]
    fake(CAPABLE, GUEST)
    decided = choice.choose_kernel("auto")
    assert decided.where == "here"
    assert decided.banner == "sctplab: kernel: host kernel 6.8.0 (SCTP, netem, veth, namespaces)"


def test_auto_goes_to_the_guest_and_says_why(fake) -> None:  # type: ignore[no-untyped-def]
    fake(LACKING, GUEST)
    decided = choice.choose_kernel("auto")
    assert decided.where == "guest" and decided.guest == GUEST
    assert decided.banner.startswith("sctplab: kernel: User-Mode Linux 6.1.176 (/usr/bin/linux.uml) guest (this host kernel 6.18.44 lacks sctp")


def test_guest_mode_uses_the_guest_even_on_a_capable_kernel(fake) -> None:  # type: ignore[no-untyped-def]
    fake(CAPABLE, GUEST)
    assert choice.choose_kernel("guest").where == "guest"


def test_host_mode_never_uses_the_guest(fake) -> None:  # type: ignore[no-untyped-def]
    fake(LACKING, GUEST)
    assert choice.choose_kernel("host").where == "here"


def test_inside_the_guest_nothing_is_delegated_again(fake, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    fake(LACKING, GUEST)
    monkeypatch.setenv("SCTPLAB_IN_GUEST", "1")
    assert choice.choose_kernel("guest").where == "here"


def test_neither_kernel_names_what_is_missing_and_the_packages(fake) -> None:  # type: ignore[no-untyped-def]
    fake(LACKING, CapabilityError("no guest kernel available: missing linux.uml (Debian/Ubuntu package user-mode-linux)"))
    with pytest.raises(CapabilityError) as raised:
        choice.choose_kernel("auto")
    message = str(raised.value)
    assert "lacks sctp (socket(IPPROTO_SCTP) failed), netem (no qdisc)" in message
    assert "package user-mode-linux" in message


def test_unknown_mode_is_refused(fake) -> None:  # type: ignore[no-untyped-def]
    fake(CAPABLE, GUEST)
    with pytest.raises(CapabilityError, match="unknown kernel mode 'guests' .expected auto, host or guest."):
        choice.choose_kernel("guests")  # type: ignore[arg-type]


def test_missing_guest_pieces_are_named_with_their_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(uml, "_FALLBACK_DIRS", (str(tmp_path),))
    monkeypatch.setattr(uml, "_MODULES_DIR", tmp_path / "modules")
    with pytest.raises(CapabilityError) as raised:
        find_guest_kernel()
    assert str(raised.value) == (
        "no guest kernel available: missing linux.uml (Debian/Ubuntu package user-mode-linux); modprobe (package kmod)"
    )


def test_capability_error_names_what_provides_each_missing_piece() -> None:
    with pytest.raises(CapabilityError) as raised:
        LACKING.require()
    assert "sctp: socket(IPPROTO_SCTP) failed; needs the sctp module (CONFIG_IP_SCTP" in str(raised.value)
    assert "netem: no qdisc; needs the sch_netem module (CONFIG_NET_SCH_NETEM)" in str(raised.value)
