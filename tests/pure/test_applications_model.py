"""Applications in scenario files: the model, the placeholders, and one-line errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.model.application import Application, Applications
from lab.model.placeholders import PlaceholderError, render, render_argv, values_for
from lab.model.scenario import load_scenario
from lab.model.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = ROOT / "topologies"

GOOD = """\
description: iperf3 at both ends survives a blackhole.
topology: dual-homed
applications:
  port: 9000
  server:
    command: [iperf3, --server, --port, "{port}"]
    ready: {log: "Server listening"}
    ends: itself
    exit: [0, 1]
  client:
    command: [iperf3, -c, "{peer.address}", --sctp, -4, "-X{self.addresses}", -t, "{duration}"]
    environment: {PEER: "{peer.addresses}", RUN: "{run}"}
    files:
      - {template: client.conf.in, to: client.conf}
    setup:
      - [/bin/true]
    stop: {signal: int, grace: 2}
    checks:
      - [grep, -q, done, "{run}/client.conf"]
steps:
  - at: 2
    fault: {kind: blackhole, link: path-a, name: cut}
    hold: 3
expect:
  failover: {after: cut, to: path-b}
  findings: [peer-address-never-confirmed]
"""


def write(folder: Path, text: str, template: str | None = "peer {peer.path-b} port {port} {{literal}}\n") -> Path:
    if template is not None:
        (folder / "client.conf.in").write_text(template)
    path = folder / "s.yaml"
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_scenario(path, topology_dirs=[TOPOLOGIES])
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_good_file_loads_with_its_defaults(tmp_path: Path) -> None:
    loaded = load_scenario(write(tmp_path, GOOD), topology_dirs=[TOPOLOGIES])
    apps = loaded.scenario.applications
    assert apps is not None and apps.port == 9000 and apps.sides() == ["server", "client"]
    server, client = apps.server, apps.client
    assert server is not None and client is not None
    assert server.exit == [0, 1] and server.ends == "itself" and server.stop.signal == "SIGTERM"
    assert client.exit == [0] and client.ends == "stopped" and client.stop.signal == "SIGINT"
    assert client.stop.signum == 2 and client.ready is None
    assert loaded.scenario.expect.findings == ["peer-address-never-confirmed"]


def test_placeholders_of_a_node_and_its_peer() -> None:
    topology = load_topology(TOPOLOGIES / "dual-homed.yaml")
    values = values_for(topology, "client", port=9000, run=Path("/r"), duration=8.2)
    assert values["port"] == "9000" and values["duration"] == "9" and values["run"] == "/r"
    assert values["self.address"] == values["client.address"] == "198.18.1.1"
    assert values["peer.addresses"] == values["server.addresses"] == ["198.18.1.2", "198.18.2.2"]
    assert values["self.alternates"] == ["198.18.2.1"] and values["peer.path-b"] == "198.18.2.2"
    argv = render_argv(["iperf3", "-X{self.addresses}", "-c", "{peer.address}", "{{x}}"], values)
    assert argv == ["iperf3", "-X198.18.1.1", "-X198.18.2.1", "-c", "198.18.1.2", "{x}"]
    assert render("to {peer.addresses} on {port}", values) == "to 198.18.1.2,198.18.2.2 on 9000"
    assert render_argv(["-B{self.alternates}"], {"self.alternates": []}) == []


@pytest.mark.parametrize(("text", "message"), [
    ("{nope}", "unknown placeholder {nope} in '{nope}' (expected one of: {a}, {b})"),
    ("a { b", "stray '{' in 'a { b' (write {{ for a literal brace)"),
    ("}", "stray '}' in '}' (write }} for a literal brace)"),
])
def test_bad_placeholders_are_named(text: str, message: str) -> None:
    with pytest.raises(PlaceholderError) as info:
        render(text, {"a": "1", "b": ["2"]})
    assert str(info.value) == message


def test_two_lists_in_one_argument_are_refused() -> None:
    with pytest.raises(PlaceholderError, match="more than one list placeholder"):
        render_argv(["{a}{b}"], {"a": ["1"], "b": ["2"]})


@pytest.mark.parametrize(("old", "new", "line", "key", "message"), [
    ('    command: [iperf3, --server, --port, "{port}"]', '    command: "iperf3 --server"', 6,
     "applications.server.command", "expected a list of arguments such as [iperf3, -s, --sctp], never a shell"
     " string (got 'iperf3 --server')"),
    ('"{peer.address}"', '"{peer.adress}"', 11, "applications.client.command[2]",
     "unknown placeholder {peer.adress} in '{peer.adress}' (expected one of: {client.address}"),
    ('RUN: "{run}"', 'RUN: "{runs}"', 12, "applications.client.environment.RUN", "unknown placeholder {runs}"),
    ('"{run}/client.conf"]', '"{rn}/client.conf"]', 19, "applications.client.checks[0][3]",
     "unknown placeholder {rn}"),
    ("      - [/bin/true]", "      - []", 16, "applications.client.setup[0]",
     "expected a non-empty list of arguments (got [])"),
    ("    ready: {log: \"Server listening\"}", "    ready: {log: x, listening: 5}", 7, "applications.server.ready",
     "expected exactly one of: listening (a port), log (a regular expression), association (true)"
     " (got listening, log)"),
    ("    ready: {log: \"Server listening\"}", "    ready: {log: \"(\"}", 7, "applications.server.ready.log",
     "not a regular expression: missing ), unterminated subpattern at position 0"),
    ("    exit: [0, 1]", "    exit: [0, 256]", 9, "applications.server.exit",
     "expected an exit status 0..255, a list of them, or 'any' (got [0, 256])"),
    ("{signal: int, grace: 2}", "{signal: BUS}", 17, "applications.client.stop.signal",
     "unknown signal 'SIGBUS' (expected one of: SIGINT, SIGTERM"),
    ("    ends: itself", "    ends: never", 8, "applications.server.ends", "input should be 'stopped' or 'itself' (got 'never')"),
    ("  port: 9000", "  port: 0", 4, "applications.port", "input should be greater than or equal to 1 (got 0)"),
    ("  findings: [peer-address-never-confirmed]", "  findings: [wildcard]", 26, "expect.findings[0]",
     "unknown finding 'wildcard' (expected one of: advertised-foreign-address"),
])
def test_bad_applications_are_refused_with_file_line_and_key(tmp_path: Path, old: str, new: str, line: int,
                                                             key: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    error = error_of(path)
    assert error.startswith(f"{path}:{line}: {key}: {message}"), error


def test_a_template_is_checked_when_the_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, template=None)
    assert f"applications.client.files[0].template: cannot read template {tmp_path / 'client.conf.in'}" in error_of(path)
    path = write(tmp_path, GOOD, template="peer {peer.nowhere}\n")
    assert "applications.client.files[0].template: " in error_of(path)
    assert "unknown placeholder {peer.nowhere}" in error_of(path)


def test_a_primary_step_needs_the_labs_own_client(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("steps:\n", "steps:\n  - at: 1\n    primary: path-b\n", 1))
    assert error_of(path).startswith(f"{path}:22: steps[0].primary: a primary: step needs the lab's own client")


def test_an_application_section_needs_an_application() -> None:
    with pytest.raises(ValueError, match="expected an application for client:, server: or both"):
        Applications.model_validate({"port": 5})
    assert Application.model_validate({"command": ["a", 1, 2.5]}).command == ["a", "1", "2.5"]


def test_the_shipped_application_scenarios_load() -> None:
    for name in ("iperf3-primary-blackhole", "lksctp-darn-server", "lksctp-test-server"):
        loaded = load_scenario(ROOT / "scenarios" / f"{name}.yaml", topology_dirs=[TOPOLOGIES])
        assert loaded.scenario.applications is not None
    misconfigured = load_scenario(ROOT / "tests" / "kernel" / "applications" / "single-address-server.yaml",
                                  topology_dirs=[TOPOLOGIES])
    assert misconfigured.scenario.applications is not None
