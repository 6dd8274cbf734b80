"""CoreStore: reads and writes core.db, auditing every change in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from manifold_pipelines.core.alerts import AlertLog
from manifold_pipelines.core.history import ImportHistory
from manifold_pipelines.core.models import (
    AuditEntry,
    DataSource,
    Project,
    SourceStatus,
)
from manifold_pipelines.core.relationships import RelationshipTable
from manifold_pipelines.core.source_config import dump_source_config, parse_source_config
from manifold_pipelines.core.users import UserDirectory
from manifold_pipelines.db.database import Database
from manifold_pipelines.db.migrations import FileFormat, migrate
from manifold_pipelines.errors import AlreadyExistsError, ConstraintError, NotFoundError
from manifold_pipelines.timestamps import from_text, now_text


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _unjson(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def audited_project(object_type: str, object_id: str) -> str | None:
    """The project an audit entry belongs to (who may read it depends on it); None for
    Manifold-wide entries. Migration 3 backfills older entries with the same rule."""
    if object_type == "project":
        return object_id
    if object_type in ("data_source", "relationship"):
        return object_id.partition("/")[0]
    return None


class CoreStore:
    """The catalogue over one connection, on either engine (`catalogue_format` is the engine's
    migrations of these tables); every write holds the catalogue's write lock from its first
    statement and commits with its audit row."""

    def __init__(self, db: Database, actor: str, catalogue_format: FileFormat) -> None:
        self.actor = actor
        self.conn = db
        try:
            migrate(db, catalogue_format)
        except BaseException:
            db.close()
            raise
        self.alerts = AlertLog(self.conn)
        self.history = ImportHistory(self.conn)
        self.relationships = RelationshipTable(self)
        self.users = UserDirectory(self.conn)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def writing(self) -> Iterator[Database]:
        with self.conn.writing() as db:
            yield db

    def audit(
        self,
        action: str,
        object_type: str,
        object_id: str,
        *,
        before: Any = None,
        after: Any = None,
        details: Any = None,
    ) -> None:
        """Append to the audit log; inside a write it commits with the change it describes."""
        self.conn.execute(
            "INSERT INTO audit_log (at, actor, action, object_type, object_id, before, after,"
            " details, project_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now_text(),
                self.actor,
                action,
                object_type,
                object_id,
                _json(before),
                _json(after),
                _json(details),
                audited_project(object_type, object_id),
            ),
        )

    def audit_entries(
        self,
        *,
        object_id: str | None = None,
        actor: str | None = None,
        limit: int = 1000,
        projects: set[str] | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """Newest first. `projects` limits entries to those projects (None: every entry,
        Manifold-wide ones included)."""
        rows = self.conn.execute(
            "SELECT id, at, actor, action, object_type, object_id, before, after, details,"  # noqa: S608 (the engine's own list condition)
            " project_id FROM audit_log WHERE (CAST(:object AS TEXT) IS NULL OR object_id = :object"
            " OR substr(object_id, 1, length(:object) + 1) = :object || '/')"
            " AND (CAST(:actor AS TEXT) IS NULL OR actor = :actor)"
            # Only the entries of the project as it is now: an id can be reused after a
            # delete, and the new project's admins must not read the old one's configs.
            " AND (:all_projects = 1 OR EXISTS (SELECT 1 FROM projects p"
            " WHERE p.id = audit_log.project_id"
            f" AND {self.conn.in_list('p.id', 'text', ':projects')}"
            " AND audit_log.at >= p.created_at))"
            " AND (CAST(:action AS TEXT) IS NULL OR action = :action)"
            " ORDER BY id DESC LIMIT :limit",
            {
                "object": object_id,
                "actor": actor,
                "limit": limit,
                "all_projects": int(projects is None),
                "projects": self.conn.list_param(sorted(projects or ())),
                "action": action,
            },
        ).fetchall()
        return [
            AuditEntry(
                id=row[0],
                at=from_text(row[1]),
                actor=row[2],
                action=row[3],
                object_type=row[4],
                object_id=row[5],
                before=_unjson(row[6]),
                after=_unjson(row[7]),
                details=_unjson(row[8]),
                project_id=row[9],
            )
            for row in rows
        ]

    # Projects

    def get_project(self, project_id: str) -> Project:
        row = self.conn.execute(
            "SELECT id, name, description, data_path, created_at, updated_at FROM projects"
            " WHERE id = ?",
            (project_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError(
                f"Project {project_id!r} does not exist. Create it first, or list projects to"
                " find its id."
            )
        return _project(row)

    def list_projects(self) -> list[Project]:
        rows = self.conn.execute(
            "SELECT id, name, description, data_path, created_at, updated_at FROM projects"
            " ORDER BY id"
        ).fetchall()
        return [_project(row) for row in rows]

    def insert_project(self, project: dict[str, Any]) -> None:
        now = now_text()
        try:
            self.conn.execute(
                "INSERT INTO projects (id, name, description, data_path, created_at, updated_at)"
                " VALUES (:id, :name, :description, :data_path, :now, :now)",
                {**project, "now": now},
            )
        except ConstraintError as exc:
            raise AlreadyExistsError(
                f"Project {project['id']!r} already exists. Choose another id or update it."
            ) from exc
        self.audit("create", "project", project["id"], after=project)

    def update_project(self, project_id: str, changes: dict[str, Any]) -> None:
        before = self.get_project(project_id).model_dump(mode="json")
        self.conn.execute(
            "UPDATE projects SET name = :name, description = :description,"
            " data_path = :data_path, updated_at = :now WHERE id = :id",
            {**before, **changes, "id": project_id, "now": now_text()},
        )
        self.audit("update", "project", project_id, before=before, after=changes)

    def delete_project(self, project_id: str) -> None:
        before = self.get_project(project_id).model_dump(mode="json")
        self.conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))
        self.audit("delete", "project", project_id, before=before)

    # Data sources

    def get_source(self, project_id: str, source_id: str) -> DataSource:
        row = self.conn.execute(
            f"{_SOURCE_SELECT} WHERE project_id = ? AND id = ?", (project_id, source_id)
        ).fetchone()
        if row is None:
            self.get_project(project_id)
            raise NotFoundError(
                f"Data source '{project_id}/{source_id}' does not exist. Create it first, or"
                " list the project's sources to find its id."
            )
        return _source(row)

    def list_sources(self, project_id: str | None = None) -> list[DataSource]:
        rows = self.conn.execute(
            f"{_SOURCE_SELECT} WHERE CAST(:project AS TEXT) IS NULL OR project_id = :project"
            " ORDER BY project_id, id",
            {"project": project_id},
        ).fetchall()
        return [_source(row) for row in rows]

    def insert_source(self, source: dict[str, Any]) -> None:
        now = now_text()
        try:
            self.conn.execute(
                "INSERT INTO data_sources (id, project_id, name, type, config, status, enabled,"
                " sync_interval, created_at, updated_at) VALUES (:id, :project_id, :name, :type,"
                " :config, :status, :enabled, :sync_interval, :now, :now)",
                {
                    **source,
                    "config": _json(source["config"]),
                    "status": "idle" if source["enabled"] else "disabled",
                    "enabled": int(source["enabled"]),
                    "now": now,
                },
            )
        except ConstraintError as exc:
            raise AlreadyExistsError(
                f"Data source '{source['project_id']}/{source['id']}' already exists. Choose"
                " another id, or update the existing source."
            ) from exc
        self.audit("create", "data_source", f"{source['project_id']}/{source['id']}", after=source)

    def update_source(self, project_id: str, source_id: str, changes: dict[str, Any]) -> None:
        current = self.get_source(project_id, source_id)
        before = _source_record(current)
        merged = {**before, **changes}
        if "enabled" in changes:
            merged["status"] = _settled_status(merged["enabled"], current.status)
        self.conn.execute(
            "UPDATE data_sources SET name = :name, config = :config, enabled = :enabled,"
            " sync_interval = :sync_interval, status = :status, updated_at = :now"
            " WHERE project_id = :project_id AND id = :id",
            {
                **merged,
                "config": _json(merged["config"]),
                "enabled": int(merged["enabled"]),
                "now": now_text(),
            },
        )
        self.audit("update", "data_source", current.qualified_id, before=before, after=changes)

    def delete_source(self, project_id: str, source_id: str) -> None:
        current = self.get_source(project_id, source_id)
        self.conn.execute(
            "DELETE FROM data_sources WHERE project_id = ? AND id = ?", (project_id, source_id)
        )
        self.audit("delete", "data_source", current.qualified_id, before=_source_record(current))

    def set_status(self, project_id: str, source_id: str, status: SourceStatus) -> None:
        """What the source is doing; a state, not a change anyone made, so not audited. A
        disabled source stays 'disabled' whatever its runs do."""
        self.conn.execute(
            "UPDATE data_sources SET status = CASE WHEN enabled = 0 THEN 'disabled' ELSE ?"
            " END WHERE project_id = ? AND id = ?",
            (status, project_id, source_id),
        )

    def mark_synced(self, project_id: str, source_id: str, at: str) -> None:
        self.conn.execute(
            "UPDATE data_sources SET last_sync_at = ? WHERE project_id = ? AND id = ?",
            (at, project_id, source_id),
        )

    # Relationships


_SOURCE_SELECT = (
    "SELECT project_id, id, name, type, config, status, enabled, sync_interval, created_at,"
    " updated_at, last_sync_at FROM data_sources"
)


def _settled_status(enabled: bool, current: SourceStatus) -> SourceStatus:
    """The status after (re-)enabling or disabling a source that is not running."""
    if not enabled:
        return "disabled"
    return "idle" if current == "disabled" else current


def _project(row: tuple[Any, ...]) -> Project:
    return Project(
        id=row[0],
        name=row[1],
        description=row[2],
        data_path=row[3],
        created_at=from_text(row[4]),
        updated_at=from_text(row[5]),
    )


def _source(row: tuple[Any, ...]) -> DataSource:
    where = f"Data source '{row[0]}/{row[1]}'"
    return DataSource(
        project_id=row[0],
        id=row[1],
        name=row[2],
        type=row[3],
        config=parse_source_config(row[3], orjson.loads(row[4]), where=where, stored=True),
        status=row[5],
        enabled=bool(row[6]),
        sync_interval=row[7],
        created_at=from_text(row[8]),
        updated_at=from_text(row[9]),
        last_sync_at=from_text(row[10]) if row[10] else None,
    )


def _source_record(source: DataSource) -> dict[str, Any]:
    """The columns of a source as written back by an update, config as users write it."""
    return {
        "project_id": source.project_id,
        "id": source.id,
        "name": source.name,
        "type": source.type,
        "config": dump_source_config(source.config),
        "enabled": source.enabled,
        "sync_interval": source.sync_interval,
        "status": source.status,
    }
