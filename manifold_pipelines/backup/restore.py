"""Restoring a backup into a MANIFOLD_HOME, the backup treated as untrusted input.

Everything is copied into a private staging folder and checked before anything in the home
is touched: the manifest, that every file is the backup's own (no symbolic link, no path out
of it), that core.db and each data file are Manifold files, every id, every project's data
path against the target's allowed roots, and the admin role. Only then is the home replaced,
and nothing is written or deleted outside the target's allowed roots.

Who may restore: a restore replaces core.db whole, its users' instance roles and the global
settings (the alerts webhook, the sandbox's env allow-list) with it, so it is judged by
instance-wide roles. Replacing a home whose roles are enforced (a named user, and users
exist) needs an instance admin of that home. A backup whose core.db has users may be
restored only by the local admin or by an instance admin by the backup's own roles: they
become the truth of the new home. A backup without users is single-user, as its home was.
Every refusal is audited in the target home when it has a core.db.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from manifold_pipelines.access import Access
from manifold_pipelines.backup.manifest import BackupManifest, read_manifest
from manifold_pipelines.backup.sqlite_home import require_sqlite_home
from manifold_pipelines.backup.staging import check_format, stage_file
from manifold_pipelines.catalog import Catalog
from manifold_pipelines.core.permissions import acting_user, authorize_instance
from manifold_pipelines.core.tables import CORE_FORMAT
from manifold_pipelines.core.users import UserDirectory
from manifold_pipelines.db.migrations import migrate
from manifold_pipelines.db.sqlite import SqliteDatabase, copy_database
from manifold_pipelines.errors import (
    AlreadyExistsError,
    ConfigError,
    DatabaseError,
    StorageError,
)
from manifold_pipelines.files import check_data_folder, remove_files
from manifold_pipelines.paths import resolve_allowed, validate_id
from manifold_pipelines.settings import Settings
from manifold_pipelines.versions.tables import DATA_FORMAT


@dataclass(frozen=True)
class RestorePlan:
    """What a checked backup puts where: the staged core.db (data paths already rewritten),
    and per source its target file and its staged copy (None: the backup has no data)."""

    core: Path
    files: list[tuple[str, Path, Path | None]]


def restore_backup(
    backup_folder: Path,
    home: Path,
    *,
    force: bool = False,
    user: str | None = None,
    database_url: str | None = None,
) -> list[str]:
    """Put a backup back into `home`: core.db and every source's file; returns the sources
    whose data was restored.

    Restoring into another home than the one backed up puts every data file in that home's
    default layout (projects' own data paths are cleared), so the original installation is
    never written to; restoring into the same home keeps a data path only inside its allowed
    roots and in a folder of the project's own. With `force`, an existing home is replaced
    and its data files that the backup does not know are removed. `user` defaults to
    MANIFOLD_USER, else the local admin; an empty or malformed name is refused. A home whose
    data is in PostgreSQL (`database_url`, else MANIFOLD_DATABASE_URL) is refused.
    """
    user = acting_user(user)
    folder = backup_folder.resolve()
    manifest = read_manifest(folder)
    settings = Settings.load(home, database_url)
    require_sqlite_home(
        settings,
        "manifold restore-backup",
        "Restore a pg_dump of the database with pg_restore; or restore this backup into a"
        " home folder with no database URL set, and copy it into the database from there with"
        " `manifold transfer`.",
    )
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.home) as staging:
        with _target(settings, user, force) as current:
            plan = _stage(folder, manifest, settings, user, Path(staging), current)
        _replace(settings, plan, force)
    return [name for name, _, copy in plan.files if copy is not None]


REPLACE = Access("admin", "instance", "replace this home from a backup")
BRING_IN = Access(
    "admin", "instance", "bring in this backup's users and settings (judged by its own roles)"
)


@contextmanager
def _target(settings: Settings, user: str, force: bool) -> Iterator[Catalog | None]:
    """The home being replaced, open for its checks and audit entries (None: no core.db yet)."""
    if not settings.core_db_path.exists():
        yield None
        return
    if not force:
        raise AlreadyExistsError(
            f"{str(settings.home)!r} already has a core.db. Restore into an empty MANIFOLD_HOME,"
            " or pass --force to replace everything in it."
        )
    with Catalog(settings.home, user=user) as current:
        current._check_access(REPLACE, None)
        yield current


def _stage(
    folder: Path,
    manifest: BackupManifest,
    settings: Settings,
    user: str,
    staging: Path,
    current: Catalog | None,
) -> RestorePlan:
    """Copy out and check everything the backup restores; raise before anything is touched."""
    root = folder.parent
    entries = {name: manifest.source_file(folder, name) for name in manifest.sources}
    core = staging / "core.db"
    try:
        stage_file(root, manifest.core_file(folder), core)
    except FileNotFoundError:
        raise _incomplete(folder, [manifest.core]) from None
    check_format(core, CORE_FORMAT, f"The backup's core.db in {str(folder)!r}")
    raw_paths, sources = _read_catalog(core, user, current)
    kept = manifest.home == str(settings.home)
    data_paths = _checked_data_paths(folder, raw_paths, settings) if kept else {}
    staged = SqliteDatabase(core, what="backup's core.db", create=False)
    with closing(staged), staged.writing():
        staged.executemany(
            "UPDATE projects SET data_path = ? WHERE id = ?",
            [(data_paths.get(project_id), project_id) for project_id in raw_paths],
        )
    files: list[tuple[str, Path, Path | None]] = []
    missing = []
    for project_id, source_id in sources:
        name = f"{project_id}/{source_id}"
        data_path = data_paths.get(project_id)
        directory = Path(data_path) if data_path else settings.data_sources_dir / project_id
        resolve_allowed(directory, settings.allowed_roots, f"The data folder of {name}")
        copy = None
        if name in entries:
            copy = staging / "data-sources" / project_id / f"{source_id}.db"
            file = entries[name]
            try:
                stage_file(root, file, copy)
            except FileNotFoundError:
                missing.append(file)
                continue
            check_format(copy, DATA_FORMAT, f"{file!r} in the backup {str(root)!r}")
        files.append((name, directory / f"{source_id}.db", copy))
    if missing:
        raise _incomplete(folder, missing)
    return RestorePlan(core=core, files=files)


def _read_catalog(
    core: Path, user: str, current: Catalog | None
) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """Projects (id -> raw data path) and sources of the staged core.db, every id checked,
    and the acting user's instance admin role by the backup's own roles (the refusal is
    audited in the target home when there is one)."""
    try:
        # The staged copy is ours: bring an older backup's core.db to today's format first,
        # so that its roles are read as this Manifold reads them.
        with closing(SqliteDatabase(core, what="backup's core.db", create=False)) as conn:
            migrate(conn, CORE_FORMAT)
            projects = {
                validate_id(project_id, "Backed-up project"): data_path
                for project_id, data_path in conn.execute("SELECT id, data_path FROM projects")
            }
            sources = [
                (validate_id(project_id, "Backed-up project"), validate_id(sid, "Backed-up source"))
                for project_id, sid in conn.execute("SELECT project_id, id FROM data_sources")
            ]
            if current is None:
                authorize_instance(UserDirectory(conn), user, BRING_IN.action)
            else:
                current._check_access(BRING_IN, None, roles=UserDirectory(conn))
    except DatabaseError as exc:
        raise StorageError(
            f"The backup's core.db cannot be read ({exc}); it is damaged or was changed by hand."
            " Nothing was restored."
        ) from exc
    return projects, sources


def _checked_data_paths(
    folder: Path, raw_paths: dict[str, object], settings: Settings
) -> dict[str, str]:
    """The backed-up projects' own data folders, resolved, each inside the target's allowed
    roots and none of them the home, in Manifold's own folders or another project's: a
    source named 'core' in a project whose folder is the home would overwrite core.db."""
    folders = {
        project_id: _resolved_data_path(project_id, raw, settings)
        for project_id, raw in raw_paths.items()
        if raw is not None
    }
    for project_id, path in folders.items():
        try:
            check_data_folder(settings, path, project_id, folders)
        except ConfigError as exc:
            raise ConfigError(
                f"The backup in {str(folder)!r} cannot be restored here: {exc} Nothing was"
                " restored."
            ) from exc
    return {project_id: str(path) for project_id, path in folders.items()}


def _resolved_data_path(project_id: str, raw: object, settings: Settings) -> Path:
    if not isinstance(raw, str):
        raise StorageError(
            f"Backed-up project {project_id!r} has a data_path that is not text ({raw!r})."
            " The backup was changed by hand; nothing was restored."
        )
    what = f"Backed-up project {project_id!r}'s data_path"
    return resolve_allowed(raw, settings.allowed_roots, what)


def _incomplete(folder: Path, missing: list[str]) -> StorageError:
    return StorageError(
        f"The backup in {str(folder)!r} is incomplete: missing {', '.join(missing)}"
        " (an older backup folder it points to was removed?). Nothing was restored."
    )


def _replace(settings: Settings, plan: RestorePlan, force: bool) -> None:
    """Swap the checked files in; every path here was checked against the allowed roots."""
    remove_files(settings.core_db_path)
    if force:
        shutil.rmtree(settings.data_sources_dir, ignore_errors=True)
    copy_database(plan.core, settings.core_db_path)
    for _, target, copy in plan.files:
        remove_files(target)
        if copy is not None:
            copy_database(copy, target)
