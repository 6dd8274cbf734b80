"""SeparatedDatabaseManager: the public Python API over core.db and the per-source files.

The manager holds no storage logic of its own: it checks ids, looks sources up in core.db,
opens the source's VersionStore, and mirrors what happened back into core.db (import history,
last sync time, audit log). The CLI and the Dagster code location call only this class.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

from manifold_pipelines.core import history, users
from manifold_pipelines.core.models import (
    AuditEntry,
    DataSource,
    ImportHistoryEntry,
    Project,
    Relationship,
    Role,
    User,
)
from manifold_pipelines.core.source_config import dump_source_config, parse_source_config
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.errors import (
    AlreadyExistsError,
    ConfigError,
    ManifoldError,
    NotFoundError,
    StorageError,
)
from manifold_pipelines.files import archive_file, data_dir, data_file, existing_files, remove_files
from manifold_pipelines.paths import resolve_allowed, validate_id
from manifold_pipelines.quality.models import QualityMetric
from manifold_pipelines.settings import Settings
from manifold_pipelines.timestamps import now_text
from manifold_pipelines.versions.diff import DiffSettings, limit_details
from manifold_pipelines.versions.gc_pause import gc_paused
from manifold_pipelines.versions.models import (
    CleanupResult,
    DataDiff,
    DataVersion,
    ImportLog,
    ImportResult,
    SchemaVersion,
    VersionInfo,
)
from manifold_pipelines.versions.records import KeySpec, require_record_list
from manifold_pipelines.versions.retention import prune_versions
from manifold_pipelines.versions.store import VersionStore
from manifold_pipelines.versions.writer import (
    ImportOptions,
    fail_import,
    start_import,
    write_version,
)

LOCAL_ADMIN = "local-admin"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_").lower()[:64]


def _label(project_id: str, source_id: str) -> str:
    return f"Data source '{project_id}/{source_id}'"


class SeparatedDatabaseManager:
    """Projects and data sources in core.db; each source's versions in its own SQLite file.

    `home` defaults to `MANIFOLD_HOME` (or `./manifold_home`). `user` is who the audit log
    names as acting; it defaults to `MANIFOLD_USER`, else the implied local admin.
    """

    def __init__(self, home: str | os.PathLike[str] | None = None, *, user: str | None = None):
        self.settings = Settings.load(home)
        self.user = user or os.environ.get("MANIFOLD_USER") or LOCAL_ADMIN
        self.core = CoreStore(self.settings.core_db_path, actor=self.user)

    def close(self) -> None:
        self.core.close()

    def __enter__(self) -> SeparatedDatabaseManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Projects

    def create_project(
        self,
        name: str,
        id: str | None = None,
        description: str | None = None,
        data_path: str | os.PathLike[str] | None = None,
    ) -> Project:
        project_id = validate_id(id if id is not None else _slug(name), "Project")
        resolved = self._checked_data_path(data_path)
        with self.core.writing():
            self.core.insert_project(
                {"id": project_id, "name": name, "description": description, "data_path": resolved}
            )
        return self.core.get_project(project_id)

    def get_project(self, project_id: str) -> Project:
        return self.core.get_project(validate_id(project_id, "Project"))

    def list_projects(self) -> list[Project]:
        return self.core.list_projects()

    def update_project(
        self,
        project_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        data_path: str | os.PathLike[str] | None = None,
    ) -> Project:
        project = self.get_project(project_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        if data_path is not None:
            resolved = self._checked_data_path(data_path)
            if resolved != project.data_path and any(
                existing_files(data_file(self.settings, project, s.id))
                for s in self.core.list_sources(project.id)
            ):
                raise ConfigError(
                    f"Project {project.id!r} already has data files in"
                    f" {str(data_dir(self.settings, project))!r}; moving them is not supported."
                    " Create a new project with the new data_path instead."
                )
            changes["data_path"] = resolved
        with self.core.writing():
            self.core.update_project(project.id, changes)
        return self.core.get_project(project.id)

    def delete_project(self, project_id: str, *, archive: bool = False) -> list[Path]:
        """Delete a project, its sources and their files; with `archive`, keep a copy of each
        file in MANIFOLD_HOME/archive first. Returns the archive copies made."""
        project = self.get_project(project_id)
        sources = self.core.list_sources(project.id)
        paths = [data_file(self.settings, project, source.id) for source in sources]
        archived = self._archive(
            project.id, [(s.id, p) for s, p in zip(sources, paths, strict=True)], archive
        )
        with self.core.writing():
            self.core.delete_project(project.id)
        for path in paths:
            remove_files(path)
        return archived

    def _checked_data_path(self, data_path: str | os.PathLike[str] | None) -> str | None:
        if data_path is None:
            return None
        resolved = resolve_allowed(data_path, self.settings.allowed_roots, "Project data_path")
        return str(resolved)

    # Data sources

    def create_data_source(
        self,
        project_id: str,
        name: str,
        type: str,
        id: str | None = None,
        config: dict[str, Any] | None = None,
        sync_interval: int | None = None,
        enabled: bool = True,
    ) -> DataSource:
        project = self.get_project(project_id)
        source_id = validate_id(id if id is not None else _slug(name), "Data source")
        label = _label(project.id, source_id)
        parse_source_config(type, config or {}, where=label)
        self._check_interval(sync_interval, label)
        path = data_file(self.settings, project, source_id)
        if existing_files(path):
            raise AlreadyExistsError(
                f"{label}: a data file already exists at {str(path)!r}, left by an earlier"
                " source of that id. Move it aside or delete it, then create the source again."
            )
        with self.core.writing():
            self.core.insert_source(
                {
                    "id": source_id,
                    "project_id": project.id,
                    "name": name,
                    "type": type,
                    "config": config or {},
                    "enabled": enabled,
                    "sync_interval": sync_interval,
                }
            )
        return self.core.get_source(project.id, source_id)

    def get_data_source(self, project_id: str, source_id: str) -> DataSource:
        return self.core.get_source(
            validate_id(project_id, "Project"), validate_id(source_id, "Data source")
        )

    def list_data_sources(self, project_id: str | None = None) -> list[DataSource]:
        if project_id is not None:
            self.get_project(project_id)
        return self.core.list_sources(project_id)

    def update_data_source(
        self,
        project_id: str,
        source_id: str,
        *,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        enabled: bool | None = None,
        sync_interval: int | None = None,
    ) -> DataSource:
        """Change a source; `config` replaces the whole config and is validated first."""
        source = self.get_data_source(project_id, source_id)
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if config is not None:
            parse_source_config(source.type, config, where=_label(project_id, source_id))
            changes["config"] = config
        if enabled is not None:
            changes["enabled"] = enabled
        if sync_interval is not None:
            self._check_interval(sync_interval, _label(project_id, source_id))
            changes["sync_interval"] = sync_interval
        with self.core.writing():
            self.core.update_source(project_id, source_id, changes)
        return self.core.get_source(project_id, source_id)

    def delete_data_source(
        self, project_id: str, source_id: str, *, archive: bool = False
    ) -> Path | None:
        """Delete a source and its data file (or archive it first); returns the archive copy.
        core.db forgets the source before the file goes, so it never points at nothing."""
        source = self.get_data_source(project_id, source_id)
        path = self._data_file(source)
        archived = self._archive(project_id, [(source_id, path)], archive)
        with self.core.writing():
            self.core.delete_source(project_id, source_id)
        remove_files(path)
        return archived[0] if archived else None

    def _archive(self, project_id: str, files: list[tuple[str, Path]], archive: bool) -> list[Path]:
        if not archive:
            return []
        copies = [archive_file(self.settings, path, project_id, sid) for sid, path in files]
        return [copy for copy in copies if copy is not None]

    @staticmethod
    def _check_interval(sync_interval: int | None, label: str) -> None:
        if sync_interval is not None and (
            not isinstance(sync_interval, int)
            or isinstance(sync_interval, bool)
            or sync_interval < 1
        ):
            raise ConfigError(
                f"{label}: sync_interval {sync_interval!r} is not a whole number of minutes >= 1."
                " Use e.g. 60 for hourly, or None for no schedule."
            )

    def data_file_path(self, project_id: str, source_id: str) -> Path:
        return self._data_file(self.get_data_source(project_id, source_id))

    def _data_file(self, source: DataSource) -> Path:
        return data_file(self.settings, self.core.get_project(source.project_id), source.id)

    # Relationships, users and settings

    def add_relationship(self, upstream: str, downstream: str) -> Relationship:
        """`upstream` ("project/source") feeds `downstream`; Dagster draws it as a dependency."""
        up, down = self._qualified(upstream), self._qualified(downstream)
        with self.core.writing():
            if self._reaches(down, up):
                raise ConfigError(
                    f"'{downstream}' already feeds '{upstream}' (directly or through other"
                    f" sources), so '{upstream}' cannot also feed '{downstream}': Dagster needs"
                    " dependencies without cycles. Remove one of the relationships first."
                )
            self.core.insert_relationship(up, down)
        return Relationship(upstream=up, downstream=down)

    def _reaches(self, start: tuple[str, str], target: tuple[str, str]) -> bool:
        """Whether `target` is `start` or downstream of it."""
        feeds: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for relationship in self.core.list_relationships():
            feeds.setdefault(relationship.upstream, []).append(relationship.downstream)
        pending, seen = [start], {start}
        while pending:
            node = pending.pop()
            if node == target:
                return True
            for child in feeds.get(node, []):
                if child not in seen:
                    seen.add(child)
                    pending.append(child)
        return False

    def remove_relationship(self, upstream: str, downstream: str) -> None:
        up, down = self._qualified(upstream), self._qualified(downstream)
        with self.core.writing():
            self.core.delete_relationship(up, down)

    def list_relationships(self) -> list[Relationship]:
        return self.core.list_relationships()

    def _qualified(self, name: str) -> tuple[str, str]:
        project_id, _, source_id = name.partition("/")
        source = self.get_data_source(project_id, source_id)
        return source.project_id, source.id

    def create_user(self, user_id: str, name: str | None = None, email: str | None = None) -> User:
        validate_id(user_id, "User")
        with self.core.writing() as conn:
            users.insert_user(conn, user_id, name, email)
            self.core.audit("create", "user", user_id, after={"name": name, "email": email})
        return next(user for user in users.list_users(self.core.conn) if user.id == user_id)

    def list_users(self) -> list[User]:
        return users.list_users(self.core.conn)

    def set_role(self, user_id: str, project_id: str, role: Role) -> None:
        project = self.get_project(project_id)
        if role not in ("viewer", "editor", "admin"):
            raise ConfigError(f"Role {role!r} is not one of viewer, editor, admin.")
        with self.core.writing() as conn:
            users.set_role(conn, user_id, project.id, role)
            self.core.audit("set_role", "project", project.id, after={user_id: role})

    def get_role(self, user_id: str, project_id: str) -> Role | None:
        return users.role_of(self.core.conn, user_id, project_id)

    def set_user_setting(self, key: str, value: Any) -> None:
        with self.core.writing() as conn:
            users.put_setting(conn, self.user, key, value)
            self.core.audit("set_setting", "user", self.user, after={key: value})

    def get_user_setting(self, key: str, default: Any = None) -> Any:
        return users.get_setting(self.core.conn, self.user, key, default)

    def audit_log(
        self, *, object_id: str | None = None, actor: str | None = None, limit: int = 1000
    ) -> list[AuditEntry]:
        return self.core.audit_entries(object_id=object_id, actor=actor, limit=limit)

    # Data

    def _open(self, source: DataSource) -> VersionStore:
        return VersionStore(self._data_file(source), _label(source.project_id, source.id))

    def import_data(
        self,
        project_id: str,
        source_id: str,
        records: Iterable[Any],
        schema: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        enable_diff: bool | None = None,
        diff_key: str | list[str] | None = None,
        *,
        log: str | None = None,
    ) -> ImportResult:
        """Import `records` as the next version. On any error nothing is written but the
        failed import's log entry, and the latest good version stays as it was."""
        source = self.get_data_source(project_id, source_id)
        options = self._import_options(source, enable_diff, diff_key)
        started = time.perf_counter()
        with self._open(source) as store:
            self._mirror_history(store, source)
            log_id = start_import(store)
            try:
                require_record_list(records, store.label)
                with gc_paused():
                    result = write_version(
                        store,
                        records,
                        options,
                        log_id=log_id,
                        started=started,
                        declared_schema=schema,
                        metadata=metadata,
                        log=log,
                    )
            except sqlite3.Error as exc:
                fail_import(store, log_id, f"storage error: {exc}", started, log)
                self._mirror_history(store, source)
                raise StorageError(
                    f"{store.label}: the import could not be written ({exc}). Nothing was"
                    " imported; check free disk space and the file's permissions."
                ) from exc
            except (ManifoldError, RecursionError, MemoryError) as exc:
                fail_import(store, log_id, str(exc) or type(exc).__name__, started, log)
                self._mirror_history(store, source)
                raise
            self._mirror_history(store, source)
        with self.core.writing():
            self.core.audit(
                "import",
                "data_source",
                source.qualified_id,
                details={
                    "version": result.version,
                    "records": result.record_count,
                    "status": result.status,
                },
            )
        return result

    def _import_options(
        self, source: DataSource, enable_diff: bool | None, diff_key: str | list[str] | None
    ) -> ImportOptions:
        config = source.config
        report_diff = config.enable_diff if enable_diff is None else enable_diff
        if diff_key is not None:
            config = parse_source_config(
                source.type,
                {**dump_source_config(source.config), "diffKey": diff_key},
                where=_label(source.project_id, source.id),
            )
        keyless = config.keyless_diff or not report_diff
        return ImportOptions(
            key_spec=KeySpec(None if keyless else config.diff_key_fields),
            report_diff=report_diff,
            diff_settings=_diff_settings(source),
            quality=config.quality,
        )

    def _mirror_history(self, store: VersionStore, source: DataSource) -> None:
        """Copy finished import logs that core.db has not seen yet. The data file commits
        first, so a crash between the two commits is healed on the next call."""
        last = history.last_mirrored_log_id(self.core.conn, source.project_id, source.id)
        logs = [
            log
            for log in store.import_logs(limit=1000)
            if log.id > last and log.status != "pending"
        ]
        if not logs:
            return
        with self.core.writing() as conn:
            for log in sorted(logs, key=lambda entry: entry.id):
                history.record_import(
                    conn,
                    {
                        "project_id": source.project_id,
                        "source_id": source.id,
                        "import_log_id": log.id,
                        "version": log.version,
                        "status": log.status,
                        "started_at": log.started_at.isoformat(),
                        "finished_at": (log.finished_at or log.started_at).isoformat(),
                        "duration_ms": log.duration_ms or 0,
                        "records_processed": log.records_processed,
                        "error": log.error,
                    },
                )
            self.core.mark_synced(source.project_id, source.id, now_text())

    def _read(self, project_id: str, source_id: str, what: str, **details: Any) -> DataSource:
        source = self.get_data_source(project_id, source_id)
        with self.core.writing():
            self.core.audit("read", "data_source", source.qualified_id, details={what: details})
        return source

    def get_latest_data(self, project_id: str, source_id: str) -> DataVersion:
        """The newest published version; held-back versions are skipped."""
        source = self._read(project_id, source_id, "latest")
        with self._open(source) as store:
            version = store.latest_version()
            if version is None:
                raise_no_versions(source)
            return store.read_version(version)

    def get_data_version(self, project_id: str, source_id: str, version: int) -> DataVersion:
        source = self._read(project_id, source_id, "version", version=version)
        with self._open(source) as store:
            return store.read_version(version)

    def get_data_diff(
        self,
        project_id: str,
        source_id: str,
        from_version: int,
        to_version: int,
        *,
        limit: int | None = None,
    ) -> DataDiff:
        """Diff any two versions with the source's current diff key, ignore-list and
        tolerances. `limit` caps each details list; the counts stay complete."""
        source = self._read(project_id, source_id, "diff", versions=[from_version, to_version])
        options = self._import_options(source, True, None)
        with self._open(source) as store:
            diff = store.diff(from_version, to_version, options.key_spec, options.diff_settings)
        return limit_details(diff, limit)

    def list_versions(self, project_id: str, source_id: str) -> list[VersionInfo]:
        with self._open(self.get_data_source(project_id, source_id)) as store:
            return store.list_versions()

    def publish_version(self, project_id: str, source_id: str, version: int) -> VersionInfo:
        source = self.get_data_source(project_id, source_id)
        with self._open(source) as store:
            store.publish(version)
            info = next(v for v in store.list_versions() if v.version == version)
        with self.core.writing():
            self.core.audit(
                "publish", "data_source", source.qualified_id, details={"version": version}
            )
        return info

    def rollback(self, project_id: str, source_id: str, version: int) -> ImportResult:
        """Make `version`'s records current again, as a new version: history is never
        rewritten, and the next import diffs against what was rolled back to."""
        old = self.get_data_version(project_id, source_id, version)
        return self.import_data(
            project_id, source_id, old.data, metadata={**old.metadata, "rollbackOf": version}
        )

    def cleanup(
        self,
        project_id: str,
        source_id: str,
        keep_versions: int | None = None,
        keep_days: float | None = None,
    ) -> CleanupResult:
        """Prune old versions; with neither limit given, the source's retention config."""
        source = self.get_data_source(project_id, source_id)
        if keep_versions is None and keep_days is None:
            keep_versions = source.config.retention.keep_versions
            keep_days = source.config.retention.keep_days
        with self._open(source) as store:
            result = prune_versions(store, keep_versions=keep_versions, keep_days=keep_days)
        with self.core.writing():
            self.core.audit(
                "cleanup",
                "data_source",
                source.qualified_id,
                details={"pruned": result.pruned_versions},
            )
        return result

    def get_schema_history(self, project_id: str, source_id: str) -> list[SchemaVersion]:
        with self._open(self.get_data_source(project_id, source_id)) as store:
            return store.schema_history()

    def get_import_logs(self, project_id: str, source_id: str, limit: int = 100) -> list[ImportLog]:
        with self._open(self.get_data_source(project_id, source_id)) as store:
            return store.import_logs(limit)

    def get_quality_metrics(
        self, project_id: str, source_id: str, version: int | None = None
    ) -> list[QualityMetric]:
        """A version's metrics, the latest version's (held or not) by default."""
        source = self.get_data_source(project_id, source_id)
        with self._open(source) as store:
            chosen = version if version is not None else store.latest_version(published_only=False)
            if chosen is None:
                raise_no_versions(source)
            return store.quality_metrics(chosen)

    def import_history(
        self, project_id: str | None = None, source_id: str | None = None, limit: int = 100
    ) -> list[ImportHistoryEntry]:
        """Finished imports, newest first, from core.db alone."""
        return history.recent_imports(self.core.conn, project_id, source_id, limit)


def raise_no_versions(source: DataSource) -> NoReturn:
    raise NotFoundError(
        f"{_label(source.project_id, source.id)} has no published version yet. Import data"
        " first, or publish a held version."
    )


def _diff_settings(source: DataSource) -> DiffSettings:
    return DiffSettings(
        ignore_fields=frozenset(source.config.diff_ignore_fields),
        tolerance=dict(source.config.diff_tolerance),
    )
