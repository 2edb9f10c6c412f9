"""Names of topologies and scenarios: the user's own folders first, then the shipped files; ``sctplab list``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from lab import cli
from lab.errors import ConfigError
from lab.model import catalog
from lab.model.catalog import entries, find, folders, is_path, shipped_dir
from lab.model.scenario import load_scenario
from lab.model.topology import resolve_topology_path

REPO = Path(__file__).resolve().parents[2]
TOPOLOGY = (REPO / "topologies" / "dual-homed.yaml").read_text()
SCENARIO = (REPO / "scenarios" / "primary-blackhole.yaml").read_text()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture
def shipped(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for the shipped files, outside ``tmp_path``: ``topologies/`` (dual-homed, routed), ``scenarios/``."""
    root = tmp_path_factory.mktemp("shipped")
    write(root / "topologies", "dual-homed.yaml", TOPOLOGY)
    write(root / "topologies", "routed.yaml", TOPOLOGY.replace("name: dual-homed", "name: routed"))
    write(root / "scenarios", "primary-blackhole.yaml", SCENARIO)
    monkeypatch.setattr(catalog, "shipped_dir", lambda kind: root / catalog.FOLDERS[kind])
    return root


# -- what ships --------------------------------------------------------------------------------------------


def test_the_package_ships_the_top_level_topologies_and_scenarios() -> None:
    """From a checkout, these are the top-level folders; from an installed wheel (tox), its lab/shipped copies."""
    for kind, folder in catalog.FOLDERS.items():
        found = shipped_dir(kind)
        assert found is not None, f"no shipped {folder}"
        names = sorted(path.name for path in found.glob("*.yaml"))
        assert names == sorted(path.name for path in (REPO / folder).glob("*.yaml"))
        assert all((found / name).read_text() == (REPO / folder / name).read_text() for name in names)


def test_shipped_dir_prefers_the_installed_copies_then_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "site" / "lab"
    package.mkdir(parents=True)
    monkeypatch.setattr(catalog, "_PACKAGE", package)
    assert shipped_dir("topology") is None  # neither copies nor a checkout around the package
    (tmp_path / "site" / "topologies").mkdir()
    assert shipped_dir("topology") is None  # a topologies/ folder next to the package, but no checkout
    (tmp_path / "site" / "pyproject.toml").write_text("")
    assert shipped_dir("topology") == tmp_path / "site" / "topologies"
    (package / "shipped" / "topologies").mkdir(parents=True)
    assert shipped_dir("topology") == package / "shipped" / "topologies"
    assert shipped_dir("scenario") is None


def test_a_shipped_name_resolves_with_no_folders_of_ones_own() -> None:
    found = resolve_topology_path("dual-homed", [])
    assert found == shipped_dir("topology") / "dual-homed.yaml"  # type: ignore[operator]


# -- lookup ------------------------------------------------------------------------------------------------


def test_own_folders_come_first_in_order_then_the_shipped_files(tmp_path: Path, shipped: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    write(second, "dual-homed.yaml", TOPOLOGY)
    write(first, "mine.yaml", TOPOLOGY)
    write(second, "mine.yaml", TOPOLOGY)
    assert resolve_topology_path("dual-homed", [first, second]) == second / "dual-homed.yaml"
    assert resolve_topology_path("mine", [first, second]) == first / "mine.yaml"
    assert resolve_topology_path("routed", [first, second]) == shipped / "topologies" / "routed.yaml"
    assert find("scenario", "primary-blackhole", [tmp_path / "scenarios"]) == (
        shipped / "scenarios" / "primary-blackhole.yaml"
    )


def test_a_path_is_a_path_and_never_looked_up(tmp_path: Path, shipped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = write(tmp_path / "elsewhere", "lab.yaml", TOPOLOGY)
    assert resolve_topology_path(str(mine), []) == mine
    monkeypatch.chdir(tmp_path)
    assert resolve_topology_path("elsewhere/lab.yaml", []) == Path("elsewhere/lab.yaml")
    for value in ("dual-homed.yaml", "nets/dual-homed", str(tmp_path / "none.yaml")):
        with pytest.raises(ConfigError) as info:
            resolve_topology_path(value, [shipped / "topologies"])
        assert str(info.value) == f"{value}: no such file"
    assert is_path("a/b") and is_path("b.yaml") and is_path("b.yml") and not is_path("dual-homed")


def test_unknown_name_lists_the_folders_searched_and_the_names_available(tmp_path: Path, shipped: Path) -> None:
    mine = tmp_path / "mine"
    write(mine, "b-lab.yaml", TOPOLOGY)
    write(mine, "a-lab.yaml", TOPOLOGY)
    with pytest.raises(ConfigError) as info:
        resolve_topology_path("c-lab", [mine, tmp_path / "missing", mine])
    assert str(info.value) == (
        f"unknown topology 'c-lab' (searched {mine}, {tmp_path / 'missing'}, {shipped / 'topologies'} (shipped);"
        " available: a-lab, b-lab (yours); dual-homed, routed (shipped))"
    )


def test_unknown_name_with_nothing_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "shipped_dir", lambda kind: None)
    with pytest.raises(ConfigError) as info:
        find("scenario", "cut", [tmp_path])
    assert str(info.value) == f"unknown scenario 'cut' (searched {tmp_path}; available: none)"


def test_the_shipped_folder_among_ones_own_is_searched_once_in_its_place(tmp_path: Path, shipped: Path) -> None:
    mine = write(tmp_path / "mine", "dual-homed.yaml", TOPOLOGY).parent
    found = folders("topology", [shipped / "topologies", mine])
    assert [(f.path, f.shipped) for f in found] == [(shipped / "topologies", True), (mine, False)]
    found_first = resolve_topology_path("dual-homed", [shipped / "topologies", mine])
    assert found_first == shipped / "topologies" / "dual-homed.yaml"


def test_a_scenario_finds_a_shipped_topology(tmp_path: Path, shipped: Path) -> None:
    path = write(tmp_path / "scenarios", "cut.yaml", SCENARIO)
    loaded = load_scenario(path, topology_dirs=[tmp_path / "topologies"])
    assert loaded.topology_file == shipped / "topologies" / "dual-homed.yaml"
    write(tmp_path / "topologies", "dual-homed.yaml", TOPOLOGY)
    assert load_scenario(path, topology_dirs=[tmp_path / "topologies"]).topology_file == (
        tmp_path / "topologies" / "dual-homed.yaml"
    )


def test_unknown_topology_of_a_scenario_names_the_scenario_line(tmp_path: Path, shipped: Path) -> None:
    path = write(tmp_path / "scenarios", "cut.yaml", SCENARIO.replace("topology: dual-homed", "topology: nope"))
    with pytest.raises(ConfigError) as info:
        load_scenario(path, topology_dirs=[tmp_path / "topologies"])
    line = SCENARIO.splitlines().index("topology: dual-homed") + 1
    assert str(info.value).startswith(
        f"{path}:{line}: topology: unknown topology 'nope' (searched {tmp_path / 'topologies'}"
    )
    assert str(info.value).endswith("available: dual-homed, routed (shipped))")


# -- listing -----------------------------------------------------------------------------------------------


def test_entries_in_lookup_order_with_descriptions_tags_and_hidden_ones(tmp_path: Path, shipped: Path) -> None:
    own = tmp_path / "scenarios"
    write(own, "primary-blackhole.yaml", "description: Mine.\ntags: [mine]\ntopology: dual-homed\n")
    write(own, "broken.yaml", "description: [unclosed\n")
    found = entries("scenario", [own])
    assert [(e.name, e.shipped, e.hidden) for e in found] == [
        ("broken", False, False), ("primary-blackhole", False, False), ("primary-blackhole", True, True),
    ]
    assert found[0].description.startswith("(unreadable: ")
    assert (found[1].description, found[1].tags, found[1].path) == ("Mine.", ("mine",), own / "primary-blackhole.yaml")
    assert found[2].tags == ("failover", "failback", "blackhole")
    assert found[2].description.startswith("The primary path drops everything")


def _list(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], where: Path) -> list[str]:
    monkeypatch.chdir(where)
    assert cli.main(["list"]) == 0
    return capsys.readouterr().out.splitlines()


def test_sctplab_list_shows_what_ships(
    tmp_path: Path, shipped: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _list(monkeypatch, capsys, tmp_path)
    assert lines[0].startswith("Topologies (sctplab up NAME")
    assert lines[1].split() == ["dual-homed", "shipped", "Both", "ends", "have", "two", "addresses", "on", "two",
                                "subnets,", "joined", "by", "two", "direct", "links."]
    assert lines[2].strip() == str(shipped / "topologies" / "dual-homed.yaml")
    assert lines[3].split()[:2] == ["routed", "shipped"]
    assert lines[5:7] == ["", "Scenarios (sctplab replay NAME):"]
    assert lines[7].split()[:3] == ["primary-blackhole", "shipped", "The"]
    assert lines[8].strip() == "tags: failover, failback, blackhole"
    assert lines[9].strip() == str(shipped / "scenarios" / "primary-blackhole.yaml")
    assert len(lines) == 10 and "yours" not in "\n".join(lines)


def test_sctplab_list_marks_ones_own_in_the_current_directory(
    tmp_path: Path, shipped: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "topologies", "routed.yaml", "name: routed\ndescription: My routed lab.\n")
    write(tmp_path / "topologies", "my-lab.yaml", "name: my-lab\ndescription: My own lab.\n")
    lines = _list(monkeypatch, capsys, tmp_path)
    assert [line.split()[:2] for line in lines[1:8:2]] == [
        ["my-lab", "yours"], ["routed", "yours"], ["dual-homed", "shipped"], ["routed", "shipped"]
    ]
    assert lines[1].split()[2:] == ["My", "own", "lab."]
    assert lines[2].strip() == "topologies/my-lab.yaml"
    assert lines[8].strip() == f"{shipped / 'topologies' / 'routed.yaml'}  (not used: yours has this name)"


def test_sctplab_list_with_nothing_shipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(catalog, "shipped_dir", lambda kind: None)
    assert _list(monkeypatch, capsys, tmp_path) == ["Topologies: none", "", "Scenarios: none"]


# -- the command line's names ------------------------------------------------------------------------------


def test_replay_takes_a_name_or_a_path(tmp_path: Path, shipped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = cli._scenario(argparse.Namespace(command="replay", scenario="primary-blackhole"))
    assert (loaded.file, loaded.topology_file) == (
        shipped / "scenarios" / "primary-blackhole.yaml", shipped / "topologies" / "dual-homed.yaml"
    )
    write(tmp_path / "scenarios", "primary-blackhole.yaml", SCENARIO)
    assert cli._scenario(argparse.Namespace(command="replay", scenario="primary-blackhole")).file == (
        tmp_path / "scenarios" / "primary-blackhole.yaml"
    )
    other = write(tmp_path / "stories" / "scenarios", "cut.yaml", SCENARIO.replace("dual-homed", "next-door"))
    write(tmp_path / "stories" / "topologies", "next-door.yaml", TOPOLOGY)
    loaded = cli._scenario(argparse.Namespace(command="replay", scenario="stories/scenarios/cut.yaml"))
    assert loaded.file == Path("stories/scenarios/cut.yaml")
    assert loaded.topology_file.resolve() == other.parent.parent / "topologies" / "next-door.yaml"
    # the demo replays the shipped story even where ./scenarios has one of that name
    assert cli._scenario(argparse.Namespace(command="demo")).file == shipped / "scenarios" / "primary-blackhole.yaml"


def test_unknown_names_on_the_command_line(
    tmp_path: Path, shipped: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["replay", "nope"]) == 2
    assert capsys.readouterr().err == (
        f"sctplab: error: unknown scenario 'nope' (searched {tmp_path / 'scenarios'}, {shipped / 'scenarios'}"
        " (shipped); available: primary-blackhole (shipped))\n"
    )
    assert cli.main(["up", "nope"]) == 2
    assert "unknown topology 'nope'" in capsys.readouterr().err
