"""Manifold's own files (core.db with every project's configs and secrets, the data files,
the archive; on PostgreSQL the archive alone) lie inside MANIFOLD_HOME, which is an allowed
root. A role in one project must not reach them through a file source's path or a project's
data_path: that would read other projects' secrets and records, or let a source named 'core'
overwrite core.db."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ConfigError, PathNotAllowedError
from manifold_pipelines.sources.base import SourceRunError

SECRET = "k-secret-of-q"


@pytest.fixture
def team(manager: SeparatedDatabaseManager, home: Path) -> Path:
    """Project q holds a secret variable and records; ed edits project p only; eve
    administers project e only."""
    manager.create_project(name="P", id="p")
    manager.create_project(name="Q", id="q")
    manager.create_project(name="E", id="e")
    manager.create_data_source(
        "q", name="x", type="javascript", id="x", config={"script": "1", "variables": {"k": SECRET}}
    )
    manager.import_data("q", "x", [{"id": 1, "secret": "q's records"}])
    for user, project in (("ed", "p"), ("eve", "e")):
        manager.create_user(user)
        manager.set_role(user, project, "editor" if user == "ed" else "admin")
    return home


def _csv(path: str) -> dict[str, object]:
    return {"path": path, "encoding": "latin-1", "inferTypes": False, "keylessDiff": True}


@pytest.mark.parametrize(
    "path", ["core.db", "core.db-wal", "data-sources/q/x.db", "archive/q/x.db", "data-sources"]
)
def test_a_file_source_may_not_name_manifolds_own_files(team: Path, path: str) -> None:
    with SeparatedDatabaseManager(team, user="ed") as ed:
        with pytest.raises(PathNotAllowedError, match="one of Manifold's own files"):
            ed.create_data_source("p", name="l", type="csv", id="l", config=_csv(path))
        assert [s.id for s in ed.list_data_sources("p")] == []


def test_a_file_source_that_reaches_manifolds_files_through_a_link_reads_nothing(
    team: Path,
) -> None:
    """The path is checked again on what a run opened: a link made after the source was
    saved (here to q's archive, which both engines write in the home), or any SQLite file
    elsewhere (a backup), is refused, not parsed as CSV."""
    with SeparatedDatabaseManager(team) as admin:
        admin.import_data("q", "x", [{"id": 2, "secret": "q's newer records"}])
        archive, _ = admin.archive_versions("q", "x", 2)
    (team / "mine").mkdir()
    (team / "mine" / "data.csv").write_text("id\n1\n")
    with SeparatedDatabaseManager(team, user="ed") as ed:
        ed.create_data_source("p", name="l", type="csv", id="l", config=_csv("mine/data.csv"))
        (team / "mine" / "data.csv").unlink()
        (team / "mine" / "data.csv").symlink_to(archive)
        with pytest.raises(SourceRunError, match="one of Manifold's own files"):
            ed.preview_data_source("p", "l")
        (team / "mine" / "data.csv").unlink()
        with closing(sqlite3.connect(team / "mine" / "data.csv")) as copy:
            copy.execute("CREATE TABLE t (secret)")
        with pytest.raises(SourceRunError, match="is a SQLite database"):
            ed.preview_data_source("p", "l")
        assert ed.list_versions("p", "l") == []


@pytest.mark.sqlite_only  # data_path places SQLite files; PostgreSQL refuses it
@pytest.mark.parametrize(
    ("where", "problem"),
    [
        (".", "is MANIFOLD_HOME or holds it"),
        ("..", "is MANIFOLD_HOME or holds it"),
        ("data-sources/q", "inside Manifold's own data-sources/ or archive/"),
        ("data-sources", "inside Manifold's own data-sources/ or archive/"),
        ("archive", "inside Manifold's own data-sources/ or archive/"),
    ],
)
def test_a_data_path_may_not_hold_or_lie_in_manifolds_own_folders(
    team: Path, monkeypatch: pytest.MonkeyPatch, where: str, problem: str
) -> None:
    monkeypatch.setenv("MANIFOLD_ALLOWED_ROOTS", str(team.parent))
    with SeparatedDatabaseManager(team, user="eve") as eve:
        eve.create_data_source("e", name="core", type="javascript", config={"script": "1"})
        with pytest.raises(ConfigError, match=problem):
            eve.update_project("e", data_path=str(team / where))
        with pytest.raises(ConfigError, match=problem):
            eve.create_project(name="F", id="f", data_path=str(team / where))
        assert eve.get_project("e").data_path is None
    assert (team / "core.db").is_file()


@pytest.mark.sqlite_only  # data_path places SQLite files; PostgreSQL refuses it
def test_two_projects_may_not_share_a_data_folder(
    team: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    shared = tmp_path / "bigdisk"
    monkeypatch.setenv("MANIFOLD_ALLOWED_ROOTS", str(shared))
    with SeparatedDatabaseManager(team) as admin:
        admin.create_project(name="R", id="r", data_path=str(shared / "r"))
    with SeparatedDatabaseManager(team, user="eve") as eve:
        for where in ("r", "r/inner", "."):
            with pytest.raises(ConfigError, match="overlaps the data folder of project 'r'"):
                eve.update_project("e", data_path=str(shared / where))
        eve.update_project("e", data_path=str(shared / "e"))
        assert eve.get_project("e").data_path == str((shared / "e").resolve())


@pytest.mark.sqlite_only  # data_path places SQLite files; PostgreSQL refuses it
def test_a_data_path_changed_to_the_home_behind_manifolds_back_is_refused_at_open(
    team: Path,
) -> None:
    with SeparatedDatabaseManager(team) as admin:
        admin.create_data_source("e", name="core", type="javascript", config={"script": "1"})
        with closing(sqlite3.connect(team / "core.db")) as conn, conn:
            conn.execute("UPDATE projects SET data_path = ? WHERE id = 'e'", (str(team),))
        with pytest.raises(ConfigError, match="is MANIFOLD_HOME or holds it"):
            admin.delete_data_source("e", "core")
    assert (team / "core.db").is_file()


def test_an_archive_folder_swapped_for_a_symlink_receives_nothing(
    team: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (team / "archive").mkdir()
    (team / "archive" / "q").symlink_to(outside, target_is_directory=True)
    with SeparatedDatabaseManager(team) as admin:
        admin.import_data("q", "x", [{"id": 2}])
        with pytest.raises(PathNotAllowedError, match="archive file for project 'q'"):
            admin.archive_versions("q", "x", 2)
        with pytest.raises(PathNotAllowedError, match="archive file for project 'q'"):
            admin.delete_data_source("q", "x", archive=True)
        assert [v.version for v in admin.list_versions("q", "x")] == [1, 2]
    assert list(outside.iterdir()) == []


@pytest.mark.sqlite_only  # data_path places SQLite files; PostgreSQL refuses it
@pytest.mark.parametrize("own_data_path", [False, True])
def test_a_data_folder_swapped_for_another_projects_folder_gives_nothing_away(
    team: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, own_data_path: bool
) -> None:
    """Both folders are inside the allowed roots, so the roots alone cannot tell: the file
    must be in the project's own folder as it was set up."""
    roots = tmp_path / "roots"
    monkeypatch.setenv("MANIFOLD_ALLOWED_ROOTS", str(roots))
    with SeparatedDatabaseManager(team) as admin:
        for project in ("x", "y"):
            data_path = str(roots / project) if own_data_path else None
            admin.create_project(name=project, id=project, data_path=data_path)
            admin.create_data_source(project, name="s", type="javascript", config={"script": "1"})
            admin.import_data(project, "s", [{"id": 1, "owner": project}])
        x_folder = admin.data_file_path("x", "s").parent
        y_file = admin.data_file_path("y", "s")
        x_folder.rename(x_folder.with_name("x-moved"))
        x_folder.symlink_to(y_file.parent, target_is_directory=True)
        for attempt in (
            lambda: admin.get_latest_data("x", "s"),
            lambda: admin.data_file_path("x", "s"),
            lambda: admin.delete_data_source("x", "s"),
        ):
            with pytest.raises(PathNotAllowedError, match="outside the project's data folder"):
                attempt()
        assert admin.get_latest_data("y", "s").data == [{"id": 1, "owner": "y"}]
        assert y_file.is_file()
