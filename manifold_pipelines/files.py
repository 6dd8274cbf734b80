"""Where a source's data file lives, and removing or archiving it with its WAL companions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from manifold_pipelines.core.models import Project
from manifold_pipelines.paths import resolve_allowed
from manifold_pipelines.settings import Settings
from manifold_pipelines.timestamps import utc_now

COMPANION_SUFFIXES = ("", "-wal", "-shm", "-journal")


def data_dir(settings: Settings, project: Project) -> Path:
    """A project's own `data_path` (checked against the allowed roots when set), or the
    default `MANIFOLD_HOME/data-sources/{projectId}`."""
    if project.data_path:
        return Path(project.data_path)
    return settings.data_sources_dir / project.id


def data_file(settings: Settings, project: Project, source_id: str) -> Path:
    """The data file's real path, checked on every call: a folder swapped for a symlink to
    an outside folder after the project was created must not receive or lose files."""
    return resolve_allowed(
        data_dir(settings, project) / f"{source_id}.db",
        settings.allowed_roots,
        f"The data file of data source '{project.id}/{source_id}'",
    )


def existing_files(path: Path) -> list[Path]:
    return [
        candidate
        for suffix in COMPANION_SUFFIXES
        if (candidate := path.with_name(path.name + suffix)).exists()
    ]


def archive_file(settings: Settings, path: Path, project_id: str, source_id: str) -> Path | None:
    """Copy the data file into the archive with SQLite's backup API: a file copy of a WAL
    database can miss committed pages still in the -wal file."""
    if not path.exists():
        return None
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    target = settings.archive_dir / project_id / f"{source_id}-{stamp}.db"
    copy_database(path, target)
    return target


def copy_database(path: Path, target: Path) -> None:
    """A consistent copy through SQLite's backup API, committed WAL pages included."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(path)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def remove_files(path: Path) -> None:
    """Delete the data file and its -wal/-shm/-journal together, never one without the rest."""
    for candidate in existing_files(path):
        candidate.unlink()
