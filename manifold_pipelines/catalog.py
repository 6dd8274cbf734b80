"""Catalog: projects and data sources, over the backend's catalogue and its sources' data.

The base layer of the Python API: every change is validated, checked against the caller's
role (see access.py), written in one catalogue transaction with its audit entry, and reaches
a source's stored data only after the catalogue agrees.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from manifold_pipelines.access import Access, enforce, requires
from manifold_pipelines.backends import open_backend
from manifold_pipelines.core.global_settings import (
    check_env_allowed,
    load_setting,
)
from manifold_pipelines.core.models import DataSource, Project, source_label
from manifold_pipelines.core.permissions import (
    SYSTEM_USERS,
    acting_user,
    projects_with,
)
from manifold_pipelines.core.source_config import (
    FileSourceConfig,
    JavascriptConfig,
    SourceConfig,
    check_config_size,
    parse_source_config,
)
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.core.users import UserDirectory
from manifold_pipelines.errors import AlreadyExistsError, ConfigError, PathNotAllowedError
from manifold_pipelines.files import check_data_folder, manifold_owned
from manifold_pipelines.paths import resolve_allowed, validate_id, validate_text
from manifold_pipelines.reload import reload_target, reloads_dagster, request_reloads
from manifold_pipelines.settings import Settings
from manifold_pipelines.sources.files import resolve_file_path
from manifold_pipelines.timestamps import to_text


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_").lower()[:64]


class Catalog:
    """Projects, sources and who may touch them. `database_url` (else `MANIFOLD_DATABASE_URL`)
    keeps everything in PostgreSQL; without one, SQLite files in `home` (`MANIFOLD_HOME`, or
    `./manifold_home`). `user` is who the audit log names as acting: `MANIFOLD_USER`, else the
    implied local admin."""

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        user: str | None = None,
        database_url: str | None = None,
    ):
        self.settings = Settings.load(home, database_url)
        self.user = acting_user(user)
        self.backend = open_backend(self.settings)
        self.core: CoreStore = self.backend.catalogue(self.user)
        self.last_reload: str | None = None

    @requires(None, "close the manager", scope="own")
    def close(self) -> None:
        self.core.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Projects

    @requires("admin", "create projects", scope="any_project")
    def create_project(
        self,
        name: str,
        id: str | None = None,
        description: str | None = None,
        data_path: str | os.PathLike[str] | None = None,
    ) -> Project:
        validate_text(name, "Project name")
        validate_text(description, "Project description")
        project_id = validate_id(id if id is not None else _slug(name), "Project")
        resolved = self._checked_data_path(data_path, project_id)
        with self.core.writing():
            self.core.insert_project(
                {"id": project_id, "name": name, "description": description, "data_path": resolved}
            )
            if self.user not in SYSTEM_USERS and self.core.users.any():
                self.core.users.set_role(self.user, project_id, "admin")
        return self.core.get_project(project_id)

    @requires("viewer", "read the project")
    def get_project(self, project_id: str) -> Project:
        return self._project(project_id)

    def _project(self, project_id: str) -> Project:
        return self.core.get_project(validate_id(project_id, "Project"))

    @requires("viewer", "list projects", scope="filtered", shows="the projects it has a role in")
    def list_projects(self) -> list[Project]:
        readable = projects_with(self.core.users, self.user, "viewer")
        return [p for p in self.core.list_projects() if readable is None or p.id in readable]

    @requires("admin", "change the project")
    def update_project(
        self,
        project_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        data_path: str | os.PathLike[str] | None = None,
    ) -> Project:
        project = self._project(project_id)
        validate_text(name, "Project name")
        validate_text(description, "Project description")
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        if data_path is not None:
            resolved = self._checked_data_path(data_path, project.id)
            if resolved != project.data_path and any(
                self.backend.has_data(project, s.id) for s in self.core.list_sources(project.id)
            ):
                raise ConfigError(
                    f"Project {project.id!r} already has data files in its data folder;"
                    " moving them is not supported. Create a new project with the new"
                    " data_path instead."
                )
            changes["data_path"] = resolved
        with self.core.writing():
            self.core.update_project(project.id, changes)
        return self.core.get_project(project.id)

    @reloads_dagster
    @requires("admin", "delete the project")
    def delete_project(self, project_id: str, *, archive: bool = False) -> list[Path]:
        """Delete a project, its sources and their files; with `archive`, keep a copy of each
        file in MANIFOLD_HOME/archive first. Returns the archive copies made."""
        project = self._project(project_id)
        sources = self.core.list_sources(project.id)
        for source in sources:
            self.backend.location(project, source.id)  # a swapped folder refuses here
        archived = self._archive(project, sources, archive)
        with self.core.writing():
            self.core.delete_project(project.id)
        for source in sources:
            self.backend.drop_data(project, source.id)
        return archived

    def _checked_data_path(
        self, data_path: str | os.PathLike[str] | None, project_id: str
    ) -> str | None:
        if data_path is None:
            return None
        self.backend.check_data_path(project_id)
        resolved = resolve_allowed(data_path, self.settings.allowed_roots, "Project data_path")
        check_data_folder(self.settings, resolved, project_id, self._data_folders())
        return str(resolved)

    def _data_folders(self) -> dict[str, Path]:
        """Every project's own data folder (`data_path`), by project id."""
        return {p.id: Path(p.data_path) for p in self.core.list_projects() if p.data_path}

    # Data sources

    @reloads_dagster
    @requires("editor", "create data sources")
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
        project = self._project(project_id)
        validate_text(name, "Data source name")
        source_id = validate_id(id if id is not None else _slug(name), "Data source")
        label = source_label(project.id, source_id)
        check_config_size(config or {}, where=label)
        self._check_config(parse_source_config(type, config or {}, where=label), label)
        self._check_interval(sync_interval, label)
        if self.backend.has_data(project, source_id):
            raise AlreadyExistsError(
                f"{label}: data already exists at {self.backend.location(project, source_id)},"
                " left by an earlier source of that id. Move it aside or delete it, then create"
                " the source again."
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

    @requires("viewer", "read source configs")
    def get_data_source(self, project_id: str, source_id: str) -> DataSource:
        """A source with its config. Configs hold scripts and variables, so reading one
        needs the viewer role, like reading data, and is audited."""
        source = self._source(project_id, source_id)
        with self.core.writing():
            self.core.audit("read_config", "data_source", source.qualified_id)
        return source

    @requires("viewer", "read source configs")
    def describe_data_source(self, project_id: str, source_id: str) -> DataSource:
        """The same as get_data_source, under the name the CLI's `source show` uses."""
        return self.get_data_source(project_id, source_id)

    def _source(self, project_id: str, source_id: str) -> DataSource:
        return self.core.get_source(
            validate_id(project_id, "Project"), validate_id(source_id, "Data source")
        )

    @requires("viewer", "list data sources", shows="those of projects it has a role in")
    def list_data_sources(self, project_id: str | None = None) -> list[DataSource]:
        """Sources of one project or all; a named user sees only projects it has a role in."""
        if project_id is not None:
            self._project(project_id)
        return [s for s in self.core.list_sources(project_id) if self._may_read(s.project_id)]

    def _may_read(self, project_id: str) -> bool:
        readable = projects_with(self.core.users, self.user, "viewer")
        return readable is None or project_id in readable

    @reloads_dagster
    @requires("editor", "change data sources")
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
        source = self._source(project_id, source_id)
        label = source_label(*source.key)
        validate_text(name, "Data source name")
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if config is not None:
            check_config_size(config, where=label)
            self._check_config(parse_source_config(source.type, config, where=label), label)
            changes["config"] = config
        if enabled is not None:
            changes["enabled"] = enabled
        if sync_interval is not None:
            self._check_interval(sync_interval, label)
            changes["sync_interval"] = sync_interval
        with self.core.writing():
            self.core.update_source(project_id, source_id, changes)
        return self.core.get_source(project_id, source_id)

    @reloads_dagster
    @requires("editor", "delete data sources")
    def delete_data_source(
        self, project_id: str, source_id: str, *, archive: bool = False
    ) -> Path | None:
        """Delete a source and its data file (or archive it first); returns the archive copy.
        core.db forgets the source before the file goes, so it never points at nothing."""
        source = self._source(project_id, source_id)
        project = self.core.get_project(source.project_id)
        self.backend.location(project, source.id)  # a swapped folder refuses here
        archived = self._archive(project, [source], archive)
        with self.core.writing():
            self.core.delete_source(project_id, source_id)
        self.backend.drop_data(project, source.id)
        return archived[0] if archived else None

    def _archive(self, project: Project, sources: list[DataSource], archive: bool) -> list[Path]:
        if not archive:
            return []
        copies = [
            self.backend.archive_data(project, source.id, to_text(source.created_at))
            for source in sources
        ]
        return [copy for copy in copies if copy is not None]

    def _check_config(self, config: SourceConfig, label: str) -> None:
        """What a config may reach is checked when it is saved: a file source's path, and
        the host variables a script may read."""
        if isinstance(config, FileSourceConfig) and config.path is not None:
            path = resolve_file_path(config.path, self.settings)
            if manifold_owned(path, self.settings, self._data_folders().values()):
                raise PathNotAllowedError(
                    f"{label}: path {config.path!r} is one of Manifold's own files (core.db,"
                    " data-sources/, archive/ or a project's data folder), which hold every"
                    " project's configs and data. Point it at a file of your own."
                )
        self._check_env(config, label)

    def _check_env(self, config: SourceConfig, label: str) -> None:
        """Once users exist, an editor must not read other projects' secrets from the
        runner's environment: only the admin-managed allow-list. Checked when a config is
        saved and when it runs, since the allow-list may have shrunk in between."""
        if isinstance(config, JavascriptConfig) and self.core.users.any():
            check_env_allowed(config.env, load_setting(self._settings(), "sandbox"), label)

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

    @requires("viewer", "see where data files are")
    def data_file_path(self, project_id: str, source_id: str) -> Path:
        """The source's SQLite data file; on PostgreSQL there is none (see data_location)."""
        source = self._source(project_id, source_id)
        return self.backend.data_file(self.core.get_project(source.project_id), source.id)

    @requires("viewer", "see where data files are")
    def data_location(self, project_id: str, source_id: str) -> str:
        """Where the source's versions are: its data file, or its PostgreSQL schema."""
        source = self._source(project_id, source_id)
        return self.backend.location(self.core.get_project(source.project_id), source.id)

    @requires("viewer", "read data")
    def data_size(self, project_id: str, source_id: str) -> int:
        """Bytes the source's versions take, as its imports report it; 0 before the first."""
        source = self._source(project_id, source_id)
        return self.backend.data_size(self.core.get_project(source.project_id), source.id)

    def _authorize_every_project(self, action: str) -> None:
        """Backups and restores carry every project's configs and data: admin of all."""
        for project in self.core.list_projects():
            self._check_access(Access("admin", "project", action), project.id)

    def _check_access(
        self, access: Access, named: Any, *, roles: UserDirectory | None = None
    ) -> None:
        enforce(self.core, self.user, access, named, roles=roles)

    @requires(None, "reload the Dagster code location", scope="own")
    def reload_dagster(self, projects: Collection[str] | None = None) -> str | None:
        """Reload the Dagster code locations that load `projects` (None: every one) when a
        webserver is configured; says what happened, or None when none is configured. Called
        after every catalogue change."""
        target = reload_target(self._settings())
        if target is None:
            return None
        self.last_reload = request_reloads(*target, projects)
        return self.last_reload

    def _projects_fed_by(self, project_id: str) -> set[str]:
        """`project_id` and the projects its sources feed, when a webserver would be told."""
        if reload_target(self._settings()) is None:
            return {project_id}
        return {project_id} | {
            r.downstream[0] for r in self.core.relationships.list() if r.upstream[0] == project_id
        }

    def _settings(self) -> dict[str, Any]:
        return self.core.users.global_settings()
