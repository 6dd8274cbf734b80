"""Catalog: the configuration half of the Python API, over core.db and the data files' places.

Projects, data sources, relationships, users and settings: every change is validated, written
in one core.db transaction with its audit entry, and reaches files only after core.db agrees.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from manifold_pipelines.core import users
from manifold_pipelines.core.models import AuditEntry, DataSource, Project, Relationship, Role, User
from manifold_pipelines.core.permissions import (
    LOCAL_ADMIN,
    SYSTEM_USERS,
    PermissionDeniedError,
    authorize,
)
from manifold_pipelines.core.relationships import reaches
from manifold_pipelines.core.source_config import (
    FileSourceConfig,
    SourceConfig,
    check_config_size,
    parse_source_config,
)
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.errors import AlreadyExistsError, ConfigError
from manifold_pipelines.files import archive_file, data_dir, data_file, existing_files, remove_files
from manifold_pipelines.paths import resolve_allowed, validate_id
from manifold_pipelines.reload import reload_target, request_reload
from manifold_pipelines.settings import Settings
from manifold_pipelines.sources.files import resolve_file_path

T = TypeVar("T")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_").lower()[:64]


def source_label(project_id: str, source_id: str) -> str:
    return f"Data source '{project_id}/{source_id}'"


def _reloads_dagster(method: Callable[..., T]) -> Callable[..., T]:
    """Catalogue changes that change the Dagster definitions end with a reload request."""

    @functools.wraps(method)
    def wrapper(self: Catalog, *args: Any, **kwargs: Any) -> T:
        result = method(self, *args, **kwargs)
        self.reload_dagster()
        return result

    return wrapper


class Catalog:
    """Projects, sources and who may touch them. `home` defaults to `MANIFOLD_HOME` (or
    `./manifold_home`); `user` is who the audit log names as acting: `MANIFOLD_USER`, else the
    implied local admin."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *, user: str | None = None):
        self.settings = Settings.load(home)
        self.user = user or os.environ.get("MANIFOLD_USER") or LOCAL_ADMIN
        self.core = CoreStore(self.settings.core_db_path, actor=self.user)
        self.last_reload: str | None = None

    def close(self) -> None:
        self.core.close()

    def __enter__(self) -> Catalog:
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
        self._authorize(None, "admin", "create projects")
        resolved = self._checked_data_path(data_path)
        with self.core.writing() as conn:
            self.core.insert_project(
                {"id": project_id, "name": name, "description": description, "data_path": resolved}
            )
            if self.user not in SYSTEM_USERS and users.list_users(conn):
                users.set_role(conn, self.user, project_id, "admin")
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
        self._authorize(project.id, "admin", "change the project")
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

    @_reloads_dagster
    def delete_project(self, project_id: str, *, archive: bool = False) -> list[Path]:
        """Delete a project, its sources and their files; with `archive`, keep a copy of each
        file in MANIFOLD_HOME/archive first. Returns the archive copies made."""
        project = self.get_project(project_id)
        self._authorize(project.id, "admin", "delete the project")
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

    @_reloads_dagster
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
        self._authorize(project.id, "editor", "create data sources")
        source_id = validate_id(id if id is not None else _slug(name), "Data source")
        label = source_label(project.id, source_id)
        check_config_size(config or {}, where=label)
        self._check_paths(parse_source_config(type, config or {}, where=label))
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
        """Sources of one project or all; a named user sees only projects it has a role in."""
        if project_id is not None:
            self.get_project(project_id)
        return [s for s in self.core.list_sources(project_id) if self._may_read(s.project_id)]

    def describe_data_source(self, project_id: str, source_id: str) -> DataSource:
        """A source with its config, for people: configs hold scripts and variables, so
        reading one needs the viewer role, like reading data."""
        source = self.get_data_source(project_id, source_id)
        self._authorize(source.project_id, "viewer", "read source configs")
        return source

    def _may_read(self, project_id: str) -> bool:
        try:
            self._authorize(project_id, "viewer", "read")
        except PermissionDeniedError:
            return False
        return True

    @_reloads_dagster
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
        self._authorize(source.project_id, "editor", "change data sources")
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if config is not None:
            check_config_size(config, where=source_label(project_id, source_id))
            self._check_paths(
                parse_source_config(source.type, config, where=source_label(project_id, source_id))
            )
            changes["config"] = config
        if enabled is not None:
            changes["enabled"] = enabled
        if sync_interval is not None:
            self._check_interval(sync_interval, source_label(project_id, source_id))
            changes["sync_interval"] = sync_interval
        with self.core.writing():
            self.core.update_source(project_id, source_id, changes)
        return self.core.get_source(project_id, source_id)

    @_reloads_dagster
    def delete_data_source(
        self, project_id: str, source_id: str, *, archive: bool = False
    ) -> Path | None:
        """Delete a source and its data file (or archive it first); returns the archive copy.
        core.db forgets the source before the file goes, so it never points at nothing."""
        source = self.get_data_source(project_id, source_id)
        self._authorize(source.project_id, "editor", "delete data sources")
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

    def _check_paths(self, config: SourceConfig) -> None:
        """A file source's path is checked when it is saved, not first when it runs."""
        if isinstance(config, FileSourceConfig) and config.path is not None:
            resolve_file_path(config.path, self.settings)

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

    @_reloads_dagster
    def add_relationship(self, upstream: str, downstream: str) -> Relationship:
        """`upstream` ("project/source") feeds `downstream`; Dagster draws it as a dependency."""
        up, down = self._qualified(upstream), self._qualified(downstream)
        self._authorize(down[0], "editor", "change relationships")
        self._authorize(up[0], "viewer", "read the upstream source")
        with self.core.writing():
            if up == down:
                raise ConfigError(f"'{upstream}' cannot feed itself.")
            if reaches(self.core.list_relationships(), down, up):
                raise ConfigError(
                    f"'{downstream}' already feeds '{upstream}' (directly or through other"
                    f" sources), so '{upstream}' cannot also feed '{downstream}': Dagster needs"
                    " dependencies without cycles. Remove one of the relationships first."
                )
            self.core.insert_relationship(up, down)
        return Relationship(upstream=up, downstream=down)

    @_reloads_dagster
    def remove_relationship(self, upstream: str, downstream: str) -> None:
        up, down = self._qualified(upstream), self._qualified(downstream)
        self._authorize(down[0], "editor", "change relationships")
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
        self._authorize(None, "admin", "create users")
        with self.core.writing() as conn:
            users.insert_user(conn, user_id, name, email)
            self.core.audit("create", "user", user_id, after={"name": name, "email": email})
        return next(user for user in users.list_users(self.core.conn) if user.id == user_id)

    def list_users(self) -> list[User]:
        return users.list_users(self.core.conn)

    def set_role(self, user_id: str, project_id: str, role: Role) -> None:
        project = self.get_project(project_id)
        self._authorize(project.id, "admin", "grant roles")
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

    def _authorize(self, project_id: str | None, needed: Role, action: str) -> None:
        authorize(self.core.conn, self.user, project_id, needed, action)

    def reload_dagster(self) -> str | None:
        """Reload the Dagster code location when a webserver is configured; says what
        happened, or None when none is configured. Called after every catalogue change."""
        target = reload_target(self.get_settings())
        if target is None:
            return None
        self.last_reload = request_reload(*target)
        return self.last_reload

    def set_setting(self, key: str, value: Any) -> None:
        """A Manifold-wide setting (alert thresholds, the webhook, the webserver URL)."""
        with self.core.writing() as conn:
            users.put_global_setting(conn, key, value)
            self.core.audit("set_setting", "settings", key, after=value)

    def get_settings(self) -> dict[str, Any]:
        return users.global_settings(self.core.conn)

    def audit_log(
        self, *, object_id: str | None = None, actor: str | None = None, limit: int = 1000
    ) -> list[AuditEntry]:
        return self.core.audit_entries(object_id=object_id, actor=actor, limit=limit)
