"""Hostile backups built for real: a live home with one source, its backup, an empty target
and a folder outside every allowed root that no restore may touch; and a way to restore
through the Python function or the `manifold` command (a subprocess)."""

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


def edit_core(folder: Path, *statements: str) -> None:
    with closing(sqlite3.connect(folder / "core.db")) as conn, conn:
        for statement in statements:
            conn.execute(statement)


def edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    path.write_bytes(orjson.dumps(orjson.loads(path.read_bytes()) | changes))


def untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["important.db", "important.db-wal"]
    assert all(p.read_bytes() == PRECIOUS for p in outside.iterdir())
