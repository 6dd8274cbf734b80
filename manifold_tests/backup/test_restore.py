"""A backup folder is untrusted input: whoever hands one over must not be able to make a
restore write, delete or read anything outside the backup and the target's allowed roots,
smuggle in unsafe ids, or take over a home without the admin role. Each hostile backup here
is built for real and restored through the CLI (a subprocess) and the Python function."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import orjson
import pytest

from manifold_pipelines import ManifoldError, SeparatedDatabaseManager
from manifold_pipelines.backup import create_backup, restore_backup
from manifold_pipelines.core.permissions import PermissionDeniedError
from manifold_pipelines.errors import InvalidIdError, PathNotAllowedError, StorageError
from manifold_tests.cli.conftest import run_manifold

Restore = Callable[..., None]
PRECIOUS = b"precious bytes that no restore may touch"


@pytest.fixture(params=["python", "cli"])
def restore(request: pytest.FixtureRequest) -> Restore:
    """Restore `folder` into `target` with --force, through the Python function or the
    `manifold` command, expecting `error` (its class, and `words` in its message) or success."""

    def through_python(
        folder: Path,
        target: Path,
        *,
        user: str | None = None,
        error: type[ManifoldError] | None = None,
        words: str = "",
    ) -> None:
        if error is None:
            restore_backup(folder, target, force=True, user=user)
            return
        with pytest.raises(error, match=re.escape(words)):
            restore_backup(folder, target, force=True, user=user)

    def through_cli(
        folder: Path,
        target: Path,
        *,
        user: str | None = None,
        error: type[ManifoldError] | None = None,
        words: str = "",
    ) -> None:
        user_option = ("--user", user) if user else ()
        done = run_manifold(target, *user_option, "restore-backup", str(folder), "--force")
        if error is None:
            assert done.returncode == 0, done.stderr
            return
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("Error: ") and "Traceback" not in done.stderr
        assert words in done.stderr, done.stderr

    return through_python if request.param == "python" else through_cli


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A home with project 'p' and source 'important' holding one version."""
    home = tmp_path / "live"
    with SeparatedDatabaseManager(home) as manager:
        manager.create_project(name="P", id="p")
        manager.create_data_source(
            "p", name="Important", type="javascript", id="important", config={"script": "1"}
        )
        manager.import_data("p", "important", [{"id": 1, "v": "backed up"}])
    return home


@pytest.fixture
def folder(live: Path, tmp_path: Path) -> Path:
    with SeparatedDatabaseManager(live) as manager:
        return Path(create_backup(manager, tmp_path / "bk").folder)


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "new"
    path.mkdir()
    return path.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder outside every allowed root holding a data file and its WAL."""
    path = tmp_path / "outside"
    path.mkdir()
    for name in ("important.db", "important.db-wal"):
        (path / name).write_bytes(PRECIOUS)
    return path


def _edit_core(folder: Path, *statements: str) -> None:
    with closing(sqlite3.connect(folder / "core.db")) as conn, conn:
        for statement in statements:
            conn.execute(statement)


def _edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    path.write_bytes(orjson.dumps(orjson.loads(path.read_bytes()) | changes))


def _untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["important.db", "important.db-wal"]
    assert all(p.read_bytes() == PRECIOUS for p in outside.iterdir())


def test_a_project_data_path_outside_the_target_roots_is_refused(
    restore: Restore, folder: Path, target: Path, outside: Path
) -> None:
    _edit_core(folder, f"UPDATE projects SET data_path = '{outside}'")
    _edit_manifest(folder, home=str(target))
    restore(folder, target, error=PathNotAllowedError, words="outside every allowed root")
    _untouched(outside)
    assert not (target / "core.db").exists()


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
    _edit_manifest(folder, **edit(folder, outside))
    restore(folder, target, error=PathNotAllowedError, words=words)
    _untouched(outside)
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
    _edit_core(folder, *statements)
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
    _edit_core(
        folder,
        "CREATE TRIGGER back_door AFTER UPDATE ON projects BEGIN"
        f" UPDATE projects SET data_path = '{outside}'; END",
    )
    restore(folder, target, error=StorageError, words="its schema differs in trigger 'back_door'")
    _untouched(outside)
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


def _with_users(live: Path, tmp_path: Path) -> Path:
    with SeparatedDatabaseManager(live) as manager:
        manager.create_user("ann")
        manager.set_role("ann", "p", "admin")
        manager.create_user("mallory")
        manager.set_role("mallory", "p", "viewer")
        return Path(create_backup(manager, tmp_path / "bk").folder)


def test_a_backup_with_users_is_restored_only_by_one_of_its_admins(
    restore: Restore, live: Path, tmp_path: Path, target: Path
) -> None:
    folder = _with_users(live, tmp_path)
    restore(folder, target, user="mallory", error=PermissionDeniedError, words="admin role")
    restore(folder, target, user="stranger", error=PermissionDeniedError, words="admin role")
    assert not (target / "core.db").exists()
    restore(folder, target, user="ann")
    with SeparatedDatabaseManager(target) as manager:
        assert manager.get_latest_data("p", "important").data == [{"id": 1, "v": "backed up"}]


def test_the_local_admin_restores_a_backup_with_users(
    restore: Restore, live: Path, tmp_path: Path, target: Path
) -> None:
    restore(_with_users(live, tmp_path), target)
    with SeparatedDatabaseManager(target) as manager:
        assert manager.get_role("ann", "p") == "admin"


def test_replacing_a_home_needs_admin_of_every_project_in_it(
    restore: Restore, folder: Path, live: Path
) -> None:
    with SeparatedDatabaseManager(live) as manager:
        manager.create_user("ann")
        manager.set_role("ann", "p", "admin")
        manager.create_project(name="Other", id="other")
        manager.import_data("p", "important", [{"id": 1, "v": "live"}])
    restore(folder, live, user="ann", error=PermissionDeniedError, words="'other'")
    with SeparatedDatabaseManager(live) as manager:
        assert manager.get_latest_data("p", "important").data == [{"id": 1, "v": "live"}]


def test_a_backup_made_by_an_older_manifold_is_checked_by_its_own_roles(
    restore: Restore, folder: Path, target: Path
) -> None:
    """A format-2 core.db (before instance admins) restores; its roles still decide."""
    golden = Path(__file__).parents[1] / "cases" / "core_db" / "format-2.db"
    (folder / "core.db").write_bytes(golden.read_bytes())
    _edit_manifest(folder, sources={})
    restore(folder, target, user="ana", error=PermissionDeniedError, words="admin role")
    assert not (target / "core.db").exists()
    restore(folder, target)
    with SeparatedDatabaseManager(target) as manager:
        assert manager.get_role("ana", "shop") == "editor"


@pytest.mark.parametrize("user", ["nobody", "vera", "ann"])
def test_a_backup_needs_admin_of_every_project(live: Path, tmp_path: Path, user: str) -> None:
    """A user sees only its own projects, but a backup copies all of core.db: judged on
    every project, not on the ones it sees."""
    with SeparatedDatabaseManager(live) as manager:
        manager.create_project(name="Other", id="other")
        for name, role in (("nobody", None), ("vera", "viewer"), ("ann", "admin")):
            manager.create_user(name)
            if role:
                manager.set_role(name, "p", role)
    with (
        SeparatedDatabaseManager(live, user=user) as someone,
        pytest.raises(PermissionDeniedError, match="back up"),
    ):
        create_backup(someone, tmp_path / "bk")
    assert not (tmp_path / "bk").exists()
