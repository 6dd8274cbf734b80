"""A backup folder is untrusted input: whoever hands one over must not be able to make a
restore write, delete or read anything outside the backup and the target's allowed roots,
or smuggle in unsafe ids (who may restore: test_restore_roles.py). Each hostile backup
here is built for real and restored through the CLI (a subprocess) and the Python function."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.backup import create_backup
from manifold_pipelines.errors import (
    ConfigError,
    InvalidIdError,
    PathNotAllowedError,
    StorageError,
)
from manifold_tests.backup.conftest import Restore, edit_core, edit_manifest, untouched


def test_a_project_data_path_outside_the_target_roots_is_refused(
    restore: Restore, folder: Path, target: Path, outside: Path
) -> None:
    edit_core(folder, f"UPDATE projects SET data_path = '{outside}'")
    edit_manifest(folder, home=str(target))
    restore(folder, target, error=PathNotAllowedError, words="outside every allowed root")
    untouched(outside)
    assert not (target / "core.db").exists()


@pytest.mark.parametrize(
    ("folders", "words"),
    [
        (lambda live: ["{live}"], "is MANIFOLD_HOME or holds it"),
        (lambda live: ["{live}/data-sources/other"], "lies inside Manifold's own data-sources/"),
        (lambda live: ["{live}/shared", "{live}/shared/inner"], "overlaps the data folder of"),
    ],
    ids=["home", "in-data-sources", "overlapping"],
)
def test_a_data_path_that_is_not_a_folder_of_its_own_is_refused_and_core_db_survives(
    live: Path,
    tmp_path: Path,
    restore: Restore,
    folders: Callable[[Path], list[str]],
    words: str,
) -> None:
    """The red team's backup set the project's data_path to the home it is restored into and
    renamed the source `core`: the restore deleted the home's core.db and said it worked."""
    with SeparatedDatabaseManager(live) as manager:
        manager.create_project(name="Q", id="q")
        folder = Path(create_backup(manager, tmp_path / "bk").folder)
        manager.import_data("p", "important", [{"id": 1, "v": "live"}])
    resolved = live.resolve()
    paths = [text.format(live=resolved) for text in folders(resolved)]
    edit_core(
        folder,
        "PRAGMA foreign_keys = OFF",
        "UPDATE data_sources SET id = 'core'",
        *(
            f"UPDATE projects SET data_path = '{path}' WHERE id = '{project}'"
            for project, path in zip(("p", "q"), paths, strict=False)
        ),
    )
    edit_manifest(folder, home=str(resolved))
    core_before = (live / "core.db").read_bytes()
    restore(folder, live, error=ConfigError, words=words)
    assert (live / "core.db").read_bytes() == core_before
    with SeparatedDatabaseManager(live) as manager:
        assert manager.get_latest_data("p", "important").data == [{"id": 1, "v": "live"}]


def test_restoring_in_place_keeps_a_data_path_inside_the_allowed_roots(
    live: Path, tmp_path: Path, restore: Restore
) -> None:
    with SeparatedDatabaseManager(live) as manager:
        manager.create_project(name="Q", id="q", data_path=live / "elsewhere")
        manager.create_data_source("q", name="S", type="javascript", id="s", config={"script": "1"})
        manager.import_data("q", "s", [{"id": 1}])
        folder = Path(create_backup(manager, tmp_path / "bk").folder)
        manager.import_data("q", "s", [{"id": 2}])
    restore(folder, live)
    with SeparatedDatabaseManager(live) as manager:
        assert manager.get_project("q").data_path == str((live / "elsewhere").resolve())
        assert manager.get_latest_data("q", "s").data == [{"id": 1}]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda f, o: {"core": str(o / "core.db")}, "is not this backup's own core.db"),
        (lambda f, o: {"core": f"{f.name}/../{f.name}/core.db"}, "is not this backup's own"),
        (
            lambda f, o: {"sources": {"p/important": {"file": "../x.db", "fingerprint": []}}},
            "is not a data file of this backup",
        ),
        (
            lambda f, o: {
                "sources": {"p/important": {"file": str(o / "important.db"), "fingerprint": []}}
            },
            "is not a data file of this backup",
        ),
        (
            lambda f, o: {
                "sources": {
                    "p/important": {"file": f"{f.name}/data-sources/p/other.db", "fingerprint": []}
                }
            },
            "is not a data file of this backup",
        ),
    ],
    ids=["absolute-core", "dotdot-core", "dotdot-file", "absolute-file", "other-source-file"],
)
def test_manifest_paths_outside_the_backup_are_refused(
    restore: Restore,
    folder: Path,
    target: Path,
    outside: Path,
    edit: Callable[[Path, Path], dict[str, object]],
    words: str,
) -> None:
    edit_manifest(folder, **edit(folder, outside))
    restore(folder, target, error=PathNotAllowedError, words=words)
    untouched(outside)
    assert not (target / "core.db").exists()


def test_a_symlinked_file_inside_the_backup_is_refused(
    restore: Restore, folder: Path, target: Path, live: Path
) -> None:
    copy = folder / "data-sources" / "p" / "important.db"
    copy.unlink()
    copy.symlink_to(live / "data-sources" / "p" / "important.db")
    restore(folder, target, error=PathNotAllowedError, words="is a symbolic link")
    assert not (target / "core.db").exists()


def test_a_symlinked_folder_inside_the_backup_is_refused(
    restore: Restore, folder: Path, target: Path, live: Path
) -> None:
    sources = folder / "data-sources"
    sources.rename(folder / "moved")
    sources.symlink_to(live / "data-sources")
    restore(folder, target, error=PathNotAllowedError, words="is a symbolic link")
    assert not (target / "core.db").exists()


def test_a_symlinked_manifest_is_refused(
    restore: Restore, folder: Path, target: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    (folder / "manifest.json").rename(elsewhere)
    (folder / "manifest.json").symlink_to(elsewhere)
    restore(folder, target, error=PathNotAllowedError, words="manifest.json' in the backup")
    assert not (target / "core.db").exists()


def test_a_file_where_the_backup_has_a_folder_is_a_clear_error(
    restore: Restore, folder: Path, target: Path
) -> None:
    sources = folder / "data-sources"
    sources.rename(folder / "moved")
    sources.write_bytes(b"not a folder")
    restore(folder, target, error=StorageError, words="cannot be read")
    assert not (target / "core.db").exists()


@pytest.mark.parametrize(
    "statements",
    [
        ("UPDATE data_sources SET id = '../../escape'",),
        ("UPDATE projects SET id = '..'", "UPDATE data_sources SET project_id = '..'"),
    ],
    ids=["source-id", "project-id"],
)
def test_unsafe_ids_in_the_backup_core_db_are_refused(
    restore: Restore, folder: Path, target: Path, tmp_path: Path, statements: tuple[str, ...]
) -> None:
    edit_core(folder, *statements)
    restore(folder, target, error=InvalidIdError, words="is not allowed")
    assert not (target / "core.db").exists()
    assert not list(tmp_path.glob("escape*"))


@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        (b"{not json", "manifest.json is not valid JSON"),
        (b"[]", "manifest.json is not a Manifold backup manifest"),
        (b'{"home": "/x", "sources": {}, "createdAt": "t"}', "'core': Field required"),
        (b'{"home": "/x", "core": "c", "sources": [], "createdAt": "t"}', "'sources'"),
        (
            b'{"home": "/x", "core": "c", "createdAt": "t", "sources": {"p/important": {}}}',
            "'sources.p/important.file': Field required",
        ),
        (b'{"home": 5, "core": "c", "sources": {}, "createdAt": "t"}', "'home'"),
    ],
    ids=["not-json", "not-an-object", "no-core", "sources-list", "entry-no-file", "home-int"],
)
def test_a_malformed_manifest_is_a_clear_error(
    restore: Restore, folder: Path, target: Path, manifest: bytes, words: str
) -> None:
    (folder / "manifest.json").write_bytes(manifest)
    restore(folder, target, error=StorageError, words=words)
    assert not (target / "core.db").exists()


def test_a_core_db_of_another_application_is_refused(
    restore: Restore, folder: Path, target: Path
) -> None:
    (folder / "core.db").unlink()
    with sqlite3.connect(folder / "core.db") as conn:
        conn.execute("CREATE TABLE projects (id, data_path)")
    restore(folder, target, error=StorageError, words="is not a Manifold core.db")
    assert not (target / "core.db").exists()


def test_a_core_db_with_a_trigger_added_by_hand_is_refused(
    restore: Restore, folder: Path, target: Path, outside: Path
) -> None:
    edit_core(
        folder,
        "CREATE TRIGGER back_door AFTER UPDATE ON projects BEGIN"
        f" UPDATE projects SET data_path = '{outside}'; END",
    )
    restore(folder, target, error=StorageError, words="its schema differs in trigger 'back_door'")
    untouched(outside)
    assert not (target / "core.db").exists()


@pytest.mark.parametrize("content", [b"plain text, not SQLite", None], ids=["text", "sqlite"])
def test_a_data_file_that_is_not_a_manifold_data_file_is_refused(
    restore: Restore, folder: Path, target: Path, content: bytes | None
) -> None:
    copy = folder / "data-sources" / "p" / "important.db"
    copy.unlink()
    if content is None:
        sqlite3.connect(copy).execute("CREATE TABLE t (x)").connection.close()
    else:
        copy.write_bytes(content)
    restore(folder, target, error=StorageError, words="is not a Manifold data file")
    assert not (target / "core.db").exists()
