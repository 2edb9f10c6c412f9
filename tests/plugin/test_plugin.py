"""Plugin tier: the pytest plugin's options, markers, fixtures and kernel checks (pytester).

Which tests go to a guest kernel is tested in test_delegate.py.
"""

from __future__ import annotations

import pytest

from lab.kernel.caps import KernelCaps, probe

# Inner runs never boot a guest: they stay on whatever kernel runs this test.
HOST = "--lab-kernel=host"


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*SCTP multihoming lab*", "*--lab-kernel*", "*--lab-guest-timeout*",
                                 "*--lab-require-kernel*"])
    assert "--lab-guest-part" not in result.stdout.str()  # the host's pytest gives it to the guest's


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*kernel(*needs)*", "*topology(name)*", "*profile(name)*"])


def test_header_names_the_kernel(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest(HOST)
    result.stdout.fnmatch_lines([f"sctplab kernel: *{probe().release}*"])
    result.assert_outcomes(passed=1)


def _write_topology(pytester: pytest.Pytester, name: str, *, a_node: str = "client") -> None:
    """topologies/NAME.yaml: one link; a wrong ``a_node`` makes it invalid at line 6."""
    (pytester.path / "topologies").mkdir(exist_ok=True)
    (pytester.path / "topologies" / f"{name}.yaml").write_text(
        f"name: {name}\nnodes: {{client: {{}}, server: {{}}}}\n"
        f"links:\n  only:\n    subnet: 198.18.7.0/24\n    a: {{node: {a_node}, interface: eth0}}\n"
        "    b: {node: server, interface: eth0}\n"
    )


def test_topology_and_profile_fixtures_follow_markers(pytester: pytest.Pytester) -> None:
    _write_topology(pytester, "pair")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.topology("pair")
        @pytest.mark.profile("kernel-defaults")
        def test_marked(lab_topology, lab_profile):
            assert lab_topology.name == "pair"
            assert str(lab_topology.address("only", "server")) == "198.18.7.2"
            assert lab_profile.rto_min == 1000

        def test_defaults(lab_profile):
            assert lab_profile.name == "fast"
        """
    )
    pytester.runpytest(HOST).assert_outcomes(passed=2)


def test_a_broken_topology_fails_with_one_line_naming_file_key_and_line(pytester: pytest.Pytester) -> None:
    _write_topology(pytester, "broken", a_node="clinet")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.topology("broken")
        def test_uses_it(lab_topology):
            pass
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*broken.yaml:6: links.only.a.node: unknown node 'clinet' (expected one of: client, server)*"]
    )


def test_kernel_tests_skip_with_the_reason_or_fail_when_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    lacking = KernelCaps(release="0.0-test", guest=False, missing={"sctp": "socket(IPPROTO_SCTP) failed: EPROTONOSUPPORT"})
    monkeypatch.setattr("lab.plugin.probe", lambda: lacking)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.kernel
        def test_needs_sctp():
            pass
        """
    )
    skipped = pytester.runpytest(HOST, "-rs")
    skipped.assert_outcomes(skipped=1)
    skipped.stdout.fnmatch_lines(["*kernel 0.0-test lacks sctp: socket(IPPROTO_SCTP) failed: EPROTONOSUPPORT*"])
    required = pytester.runpytest(HOST, "--lab-require-kernel")
    required.assert_outcomes(errors=1)
    required.stdout.fnmatch_lines(["*lacks*--lab-require-kernel*"])


def test_artifacts_of_a_failing_test_are_kept_and_named_in_the_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_art="""
        def test_passes(lab_artifacts):
            (lab_artifacts / "capture.pcap").write_bytes(b"x")

        def test_fails(lab_artifacts):
            (lab_artifacts / "capture.pcap").write_bytes(b"x")
            assert False, "wrong expectation"
        """
    )
    result = pytester.runpytest(HOST)
    result.assert_outcomes(passed=1, failed=1)
    kept = pytester.path / "artifacts" / "test_art.py-test_fails"
    result.stdout.fnmatch_lines(["*sctplab artifacts*", f"kept in {kept}"])
    assert (kept / "capture.pcap").exists()
    assert not (pytester.path / "artifacts" / "test_art.py-test_passes").exists()


def test_keep_artifacts_keeps_those_of_passing_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_art="def test_passes(lab_artifacts):\n    (lab_artifacts / 'f').write_text('x')\n")
    pytester.runpytest(HOST, "--lab-keep-artifacts", "--lab-artifacts=out").assert_outcomes(passed=1)
    assert (pytester.path / "out" / "test_art.py-test_passes" / "f").exists()
