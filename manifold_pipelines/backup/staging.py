"""Taking files out of an untrusted backup: each path is walked from the backup root one
component at a time without following symbolic links, and the bytes read from what was
opened are copied into a private staging folder, so the file that is checked is the file
that gets restored, whatever happens to the backup folder meanwhile. Only the file itself is
taken: `manifold backup` leaves no -wal beside its copies, and one found there is ignored."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import BinaryIO

from manifold_pipelines.db.migrations import FileFormat
from manifold_pipelines.db.sqlite import SqliteDatabase
from manifold_pipelines.errors import PathNotAllowedError, StorageError


@contextmanager
def open_inside(root: Path, relative: str) -> Iterator[BinaryIO]:
    """`root/relative` ('/'-separated) opened for reading; FileNotFoundError when missing.

    A symbolic link anywhere below `root` is refused: it could name any file on the machine.
    """
    with os.fdopen(_walk(root, relative), "rb") as handle:
        yield handle


def stage_file(root: Path, relative: str, staged: Path) -> None:
    """Copy `root/relative` to `staged`, read from what was opened without following links."""
    staged.parent.mkdir(parents=True, exist_ok=True)
    with open_inside(root, relative) as source, staged.open("xb") as copy:
        shutil.copyfileobj(source, copy)


def _walk(root: Path, relative: str) -> int:
    """A descriptor of the regular file `root/relative`, every component opened with
    O_NOFOLLOW relative to the one before."""
    directory = -1
    parts = relative.split("/")
    try:
        directory = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            try:
                opened = os.open(part, flags, dir_fd=directory)
            except OSError as exc:
                # O_NOFOLLOW gives ELOOP for a link, and with O_DIRECTORY Linux may say ENOTDIR.
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, directory):
                    raise PathNotAllowedError(
                        f"{'/'.join(parts[: index + 1])!r} in the backup {str(root)!r} is a"
                        " symbolic link; a backup holds only its own regular files. Nothing was"
                        " restored."
                    ) from exc
                raise
            os.close(directory)
            directory = opened
        if not stat.S_ISREG(os.fstat(directory).st_mode):
            raise StorageError(
                f"{relative!r} in the backup {str(root)!r} is not a regular file. Nothing was"
                " restored."
            )
        found, directory = directory, -1
        return found
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageError(
            f"{relative!r} in the backup {str(root)!r} cannot be read ({exc}). Nothing was"
            " restored."
        ) from exc
    finally:
        if directory >= 0:
            os.close(directory)


def _is_link(name: str, directory: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode)
    except OSError:
        return False


def check_format(path: Path, file_format: FileFormat, what: str) -> None:
    """Refuse a staged copy that is not a Manifold file of this kind, of a format this Manifold
    understands, with exactly the tables and indexes its migrations make: a trigger or view
    added by hand would run inside the restored home (a trigger can put a data path back)."""
    try:
        with closing(sqlite3.connect(path)) as conn:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            found = _schema(conn)
    except sqlite3.DatabaseError as exc:
        raise StorageError(
            f"{what} is not a Manifold {file_format.label} ({exc}). Nothing was restored."
        ) from exc
    if application_id != file_format.application_id or version < 1:
        raise StorageError(
            f"{what} is not a Manifold {file_format.label} (application_id {application_id:#x},"
            f" expected {file_format.application_id:#x}). Nothing was restored."
        )
    if version > file_format.latest:
        raise StorageError(
            f"{what} has format version {version}, newer than this Manifold understands"
            f" ({file_format.latest}). Upgrade manifold-pipelines to restore it."
        )
    expected = _expected_schema(file_format, version)
    if found != expected:
        strange = sorted(f"{kind} {name!r}" for kind, name in found ^ expected)
        raise StorageError(
            f"{what} is not a Manifold {file_format.label} as Manifold makes them: its schema"
            f" differs in {', '.join(strange)}. It was changed by hand. Nothing was restored."
        )


def _schema(conn: sqlite3.Connection) -> set[tuple[str, str]]:
    """Every table, index, view and trigger but SQLite's own (autoindexes, statistics), by
    kind and name: the text of a statement may differ between Manifold versions."""
    rows = conn.execute(
        "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite!_%' ESCAPE '!'"
    )
    return {(kind, name) for kind, name in rows}


def _expected_schema(file_format: FileFormat, version: int) -> set[tuple[str, str]]:
    """What the migrations up to `version` make of an empty file, their upgrade steps too
    (one builds indexes whose condition only the data can say)."""
    with tempfile.TemporaryDirectory() as folder:
        db = SqliteDatabase(Path(folder) / "expected.db", what="an empty file")
        try:
            for step in file_format.migrations:
                if step.version <= version:
                    for statement in step.statements:
                        db.execute(statement)
                    if step.upgrade is not None:
                        step.upgrade(db)
            return _schema(db.conn)
        finally:
            db.close()
