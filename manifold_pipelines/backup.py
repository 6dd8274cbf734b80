"""Selective backups: a consistent copy (SQLite's backup API, never a file copy) of core.db
and of only the data files that changed since the last backup into the same folder, with a
manifest that says where every source's latest copy is, so a restore needs one backup."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel

from manifold_pipelines.errors import AlreadyExistsError, NotFoundError, StorageError
from manifold_pipelines.files import copy_database, existing_files
from manifold_pipelines.timestamps import now_text, utc_now

if TYPE_CHECKING:
    from manifold_pipelines.manager import SeparatedDatabaseManager

MANIFEST = "manifest.json"


class BackupReport(BaseModel):
    folder: str
    copied: list[str]
    unchanged: list[str]


def _fingerprint(path: Path) -> list[Any]:
    """What changes whenever the file's content does: its newest import log and version."""
    with sqlite3.connect(path) as conn:
        logs = conn.execute("SELECT max(id), count(*) FROM import_logs").fetchone()
        versions = conn.execute("SELECT max(version), count(*) FROM data_versions").fetchone()
        fmt = conn.execute("PRAGMA user_version").fetchone()
    return [*logs, *versions, *fmt]


def _latest_manifest(destination: Path) -> dict[str, Any] | None:
    folders = (
        sorted(p for p in destination.iterdir() if (p / MANIFEST).is_file())
        if destination.is_dir()
        else []
    )
    return orjson.loads((folders[-1] / MANIFEST).read_bytes()) if folders else None


def create_backup(manager: SeparatedDatabaseManager, destination: Path) -> BackupReport:
    folder = destination / utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True)
    previous = _latest_manifest(destination) or {"sources": {}}
    copy_database(manager.settings.core_db_path, folder / "core.db")
    sources: dict[str, Any] = {}
    copied, unchanged = [], []
    for source in manager.list_data_sources():
        path = manager.data_file_path(*source.key)
        if not existing_files(path):
            continue
        name = source.qualified_id
        fingerprint = _fingerprint(path)
        before = previous["sources"].get(name)
        if (
            before
            and before["fingerprint"] == fingerprint
            and (destination / before["file"]).is_file()
        ):
            sources[name] = before
            unchanged.append(name)
            continue
        relative = f"{folder.name}/data-sources/{source.project_id}/{source.id}.db"
        copy_database(path, destination / relative)
        sources[name] = {"file": relative, "fingerprint": fingerprint}
        copied.append(name)
    manifest = {"createdAt": now_text(), "core": f"{folder.name}/core.db", "sources": sources}
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return BackupReport(folder=str(folder), copied=copied, unchanged=unchanged)


def restore_backup(backup_folder: Path, home: Path, *, force: bool = False) -> list[str]:
    """Put a backup back into `home`: core.db, then every source's file where core.db says
    it lives. Refuses to overwrite an existing core.db unless `force`."""
    from manifold_pipelines.manager import SeparatedDatabaseManager

    manifest_path = backup_folder / MANIFEST
    if not manifest_path.is_file():
        raise NotFoundError(f"{str(backup_folder)!r} is not a Manifold backup (no {MANIFEST}).")
    manifest = orjson.loads(manifest_path.read_bytes())
    root = backup_folder.parent
    home.mkdir(parents=True, exist_ok=True)
    if (home / "core.db").exists() and not force:
        raise AlreadyExistsError(
            f"{str(home)!r} already has a core.db. Restore into an empty MANIFOLD_HOME, or pass"
            " --force to replace everything in it."
        )
    for companion in existing_files(home / "core.db"):
        companion.unlink()
    copy_database(root / manifest["core"], home / "core.db")
    restored = []
    with SeparatedDatabaseManager(home) as manager:
        for name, entry in manifest["sources"].items():
            project_id, source_id = name.split("/", 1)
            target = manager.data_file_path(project_id, source_id)
            for companion in existing_files(target):
                companion.unlink()
            source_file = root / entry["file"]
            if not source_file.is_file():
                raise StorageError(f"The backup is missing {entry['file']} for {name}.")
            copy_database(source_file, target)
            restored.append(name)
    return restored
