"""Selective backups: a consistent copy (SQLite's backup API, never a file copy) of core.db
and of only the data files that changed since the last backup into the same folder, with a
manifest that says where every source's latest copy is, so a restore needs one backup."""

from __future__ import annotations

import shutil
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


def _fingerprint(path: Path, created_at: str) -> list[Any]:
    """Changes with every write to the file: size and modification time of the file and its
    WAL (every commit touches one of them), and the source's creation time, so a source
    deleted and made again under the same id is never taken for the old one."""
    stats = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in existing_files(path)]
    return [created_at, *stats]


def _latest_manifest(destination: Path) -> dict[str, Any] | None:
    if not destination.is_dir():
        return None
    folders = sorted(p for p in destination.iterdir() if (p / MANIFEST).is_file())
    return orjson.loads((folders[-1] / MANIFEST).read_bytes()) if folders else None


def create_backup(manager: SeparatedDatabaseManager, destination: Path) -> BackupReport:
    for project in manager.list_projects():
        manager._authorize(project.id, "admin", "back up its data")
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
        fingerprint = _fingerprint(path, source.created_at.isoformat())
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
        # Copying reads the file, which may checkpoint its WAL: fingerprint what is left.
        sources[name] = {
            "file": relative,
            "fingerprint": _fingerprint(path, source.created_at.isoformat()),
        }
        copied.append(name)
    manifest = {
        "createdAt": now_text(),
        "home": str(manager.settings.home),
        "core": f"{folder.name}/core.db",
        "sources": sources,
    }
    (folder / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    return BackupReport(folder=str(folder), copied=copied, unchanged=unchanged)


def restore_backup(backup_folder: Path, home: Path, *, force: bool = False) -> list[str]:
    """Put a backup back into `home`: core.db and every source's file.

    Everything the backup needs is checked before anything in `home` is touched. Restoring
    into another home than the one backed up puts every data file in that home's default
    layout (projects' own data paths are cleared), so the original installation is never
    written to. With `force`, data files in `home` that the backup does not know are removed.
    """
    from manifold_pipelines.manager import SeparatedDatabaseManager

    manifest_path = backup_folder / MANIFEST
    if not manifest_path.is_file():
        raise NotFoundError(f"{str(backup_folder)!r} is not a Manifold backup (no {MANIFEST}).")
    manifest = orjson.loads(manifest_path.read_bytes())
    root = backup_folder.parent
    missing = [
        entry["file"]
        for entry in manifest["sources"].values()
        if not (root / entry["file"]).is_file()
    ]
    if not (root / manifest["core"]).is_file():
        missing.append(manifest["core"])
    if missing:
        raise StorageError(
            f"The backup in {str(backup_folder)!r} is incomplete: missing {', '.join(missing)}"
            " (an older backup folder it points to was removed?). Nothing was restored."
        )
    home.mkdir(parents=True, exist_ok=True)
    home = home.resolve()
    if (home / "core.db").exists() and not force:
        raise AlreadyExistsError(
            f"{str(home)!r} already has a core.db. Restore into an empty MANIFOLD_HOME, or pass"
            " --force to replace everything in it."
        )
    for companion in existing_files(home / "core.db"):
        companion.unlink()
    if force:
        shutil.rmtree(home / "data-sources", ignore_errors=True)
    copy_database(root / manifest["core"], home / "core.db")
    if manifest.get("home") != str(home):
        with sqlite3.connect(home / "core.db") as conn:
            conn.execute("UPDATE projects SET data_path = NULL")
    restored = []
    with SeparatedDatabaseManager(home) as manager:
        for source in manager.list_data_sources():
            target = manager.data_file_path(*source.key)
            for companion in existing_files(target):
                companion.unlink()
            entry = manifest["sources"].get(source.qualified_id)
            if entry is not None:
                copy_database(root / entry["file"], target)
                restored.append(source.qualified_id)
    return restored
