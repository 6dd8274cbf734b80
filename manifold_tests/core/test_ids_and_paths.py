"""Ids become file names and data paths decide where files go: both are checked before any
file is touched, because a bad id that reaches os.path could write outside the data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ConfigError, InvalidIdError, PathNotAllowedError
from manifold_tests.raw_storage import source_data_exists

BAD_IDS = [
    "",
    "../etc",
    "..",
    "a/b",
    "/abs",
    "demo\n",
    "-leading",
    "_leading",
    "a" * 65,
    "spaces here",
    "dot.ted",
    "naïve",
    "file:x?mode=memory",
]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_project_id_is_refused_before_any_file_is_touched(
    manager: SeparatedDatabaseManager, home: Path, bad: str
) -> None:
    before = _files(home)
    with pytest.raises(InvalidIdError, match=r"Project id .* is not allowed"):
        manager.create_project(name="X", id=bad)
    assert _files(home) == before
    assert manager.list_projects() == []


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_source_id_is_refused_before_any_file_is_touched(
    manager: SeparatedDatabaseManager, home: Path, bad: str
) -> None:
    manager.create_project(name="Demo", id="demo")
    before = _files(home)
    with pytest.raises(InvalidIdError, match="Data source id"):
        manager.create_data_source(
            "demo", name="x", type="javascript", id=bad, config={"script": "return []"}
        )
    with pytest.raises(InvalidIdError):
        manager.import_data("demo", bad, [{"id": 1}])
    assert _files(home) == before


def test_longest_allowed_id_works(manager: SeparatedDatabaseManager, home: Path) -> None:
    """Two ids of 64 characters make a file name, or a schema name of at most 63 bytes."""
    long_id = "a" * 64
    manager.create_project(name="Long", id=long_id)
    manager.create_data_source(
        long_id, name="s", type="javascript", id=long_id, config={"script": "return []"}
    )
    assert manager.import_data(long_id, long_id, [{"id": 1}]).version == 1
    assert source_data_exists(home, long_id, long_id)
    assert manager.get_latest_data(long_id, long_id).data == [{"id": 1}]


@pytest.mark.postgresql_only
def test_a_data_path_is_refused_where_there_are_no_data_files(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    """On PostgreSQL every source has a schema, so no folder would ever be used."""
    (home / "data").mkdir()
    with pytest.raises(ConfigError, match=r"data_path places SQLite data files.*Leave data_path"):
        manager.create_project(name="X", id="x", data_path=home / "data")
    manager.create_project(name="X", id="x")
    with pytest.raises(ConfigError, match="data_path places SQLite data files"):
        manager.update_project("x", data_path=home / "data")
    assert manager.get_project("x").data_path is None


# data_path places SQLite files: PostgreSQL refuses it whole (the test above).
@pytest.mark.sqlite_only
def test_data_path_outside_allowed_roots_is_refused(
    manager: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(PathNotAllowedError, match="MANIFOLD_ALLOWED_ROOTS"):
        manager.create_project(name="X", id="x", data_path=outside)
    assert manager.list_projects() == []


@pytest.mark.sqlite_only  # data_path places SQLite files
def test_symlink_inside_home_pointing_outside_is_refused(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (home / "link").symlink_to(outside)
    with pytest.raises(PathNotAllowedError, match="outside every allowed root"):
        manager.create_project(name="X", id="x", data_path=home / "link")
    with pytest.raises(PathNotAllowedError):
        manager.create_project(name="X", id="x", data_path=home / ".." / "secret")


def test_data_path_inside_an_extra_allowed_root_holds_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = tmp_path / "bigdisk"
    extra.mkdir()
    monkeypatch.setenv("MANIFOLD_ALLOWED_ROOTS", f"{tmp_path / 'nowhere'}:{extra}")
    with SeparatedDatabaseManager(tmp_path / "home") as manager:
        manager.create_project(name="P", id="p", data_path=extra / "p-data")
        manager.create_data_source(
            "p", name="s", type="javascript", id="s", config={"script": "return []"}
        )
        manager.import_data("p", "s", [{"id": 1}])
        assert (extra / "p-data" / "s.db").exists()
        assert not (tmp_path / "home" / "data-sources" / "p").exists()


def test_home_comes_from_the_environment_and_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_HOME", str(tmp_path / "env-home"))
    with SeparatedDatabaseManager() as manager:
        manager.create_project(name="Demo", id="demo")
    assert (tmp_path / "env-home" / "core.db").exists()


def test_default_home_is_manifold_home_in_the_working_directory(tmp_path: Path) -> None:
    assert Path.cwd() == tmp_path
    with SeparatedDatabaseManager():
        pass
    assert (tmp_path / "manifold_home" / "core.db").exists()


def _swap_for_symlink(folder: Path, target: Path) -> None:
    folder.rename(folder.with_name(folder.name + "-moved"))
    folder.symlink_to(target, target_is_directory=True)


@pytest.mark.parametrize("own_data_path", [False, True])
def test_a_data_folder_swapped_for_a_symlink_after_creation_is_refused_at_every_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_data_path: bool
) -> None:
    """Checking `data_path` only when it is set let a later swap write and delete outside."""
    extra = tmp_path / "extra"
    extra.mkdir()
    monkeypatch.setenv("MANIFOLD_ALLOWED_ROOTS", str(extra))
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "s.db").write_bytes(b"someone else's file")
    with SeparatedDatabaseManager(tmp_path / "home") as manager:
        manager.create_project(
            name="P", id="p", data_path=str(extra / "p") if own_data_path else None
        )
        manager.create_data_source("p", name="s", type="javascript", config={"script": "return []"})
        manager.import_data("p", "s", [{"id": 1}])
        folder = manager.data_file_path("p", "s").parent
        _swap_for_symlink(folder, outside)
        for attempt in (
            lambda: manager.import_data("p", "s", [{"id": 2}]),
            lambda: manager.get_latest_data("p", "s"),
            lambda: manager.data_file_path("p", "s"),
            lambda: manager.delete_data_source("p", "s"),
        ):
            with pytest.raises(PathNotAllowedError, match="outside every allowed root"):
                attempt()
        assert sorted(p.name for p in outside.iterdir()) == ["s.db"]
        assert (outside / "s.db").read_bytes() == b"someone else's file"
        assert [s.id for s in manager.list_data_sources("p")] == ["s"]


@pytest.mark.sqlite_only  # a data file is SQLite's
def test_a_data_file_that_is_a_symlink_to_outside_is_refused(
    manager: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.db"
    outside.write_bytes(b"not yours")
    manager.create_project(name="P", id="p")
    manager.create_data_source("p", name="s", type="javascript", config={"script": "return []"})
    link = manager.settings.data_sources_dir / "p" / "s.db"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    with pytest.raises(PathNotAllowedError, match="data file of data source 'p/s'"):
        manager.import_data("p", "s", [{"id": 1}])
    assert outside.read_bytes() == b"not yours"
