"""Selective backups: a consistent copy (SQLite's backup API, never a file copy) of core.db
and of only the data files that changed since the last backup into the same folder, with a
manifest that says where every source's latest copy is, so a restore needs one backup."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from manifold_pipelines.backup.manifest import MANIFEST, BackupEntry, BackupManifest, read_manifest
from manifold_pipelines.backup.sqlite_home import require_sqlite_home
from manifold_pipelines.db.sqlite import copy_database
from manifold_pipelines.files import existing_files
from manifold_pipelines.timestamps import now_text, utc_now

if TYPE_CHECKING:
    from manifold_pipelines.manager import SeparatedDatabaseManager


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


def _latest_manifest(destination: Path) -> BackupManifest | None:
    """The newest backup in `destination`, checked as untrusted as any backup: the next one
    points at its files."""
    if not destination.is_dir():
        return None
    folders = sorted(p for p in destination.iterdir() if (p / MANIFEST).is_file())
    if not folders:
        return None
    manifest = read_manifest(folders[-1])
    for name in manifest.sources:
        manifest.source_file(folders[-1], name)
    return manifest


def create_backup(manager: SeparatedDatabaseManager, destination: Path) -> BackupReport:
    require_sqlite_home(
        manager.settings,
        "manifold backup",
        "Back the database up with pg_dump, or copy everything into a folder with"
        " `manifold transfer DEST_FOLDER`.",
    )
    manager._authorize_every_project("back up its data")
    previous = _latest_manifest(destination)
    folder = destination / utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    folder.mkdir(parents=True)
    copy_database(manager.settings.core_db_path, folder / "core.db")
    sources: dict[str, BackupEntry] = {}
    copied, unchanged = [], []
    for source in manager.list_data_sources():
        path = manager.data_file_path(*source.key)
        if not existing_files(path):
            continue
        name = source.qualified_id
        fingerprint = _fingerprint(path, source.created_at.isoformat())
        before = previous.sources.get(name) if previous else None
        if (
            before is not None
            and before.fingerprint == fingerprint
            and (destination / before.file).is_file()
        ):
            sources[name] = before
            unchanged.append(name)
            continue
        relative = f"{folder.name}/data-sources/{source.project_id}/{source.id}.db"
        copy_database(path, destination / relative)
        # Copying reads the file, which may checkpoint its WAL: fingerprint what is left.
        sources[name] = BackupEntry(
            file=relative, fingerprint=_fingerprint(path, source.created_at.isoformat())
        )
        copied.append(name)
    manifest = BackupManifest(
        createdAt=now_text(),
        home=str(manager.settings.home),
        core=f"{folder.name}/core.db",
        sources=sources,
    )
    (folder / MANIFEST).write_bytes(manifest.to_json())
    return BackupReport(folder=str(folder), copied=copied, unchanged=unchanged)
