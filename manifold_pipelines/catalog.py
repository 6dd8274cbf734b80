"""Catalog: projects and data sources, over core.db and the data files' places.

The base layer of the Python API: every change is validated, checked against the caller's
role (see access.py), written in one core.db transaction with its audit entry, and reaches
files only after core.db agrees.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from manifold_pipelines.access import Access, enforce, requires
from manifold_pipelines.core.global_settings import (
    check_env_allowed,
    load_setting,
)
from manifold_pipelines.core.models import DataSource, Project
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
from manifold_pipelines.files import (
    archive_file,
    check_data_folder,
    data_dir,
    data_file,
    existing_files,
    manifold_owned,
    remove_files,
)
from manifold_pipelines.paths import resolve_allowed, validate_id
from manifold_pipelines.reload import reload_target, request_reload
from manifold_pipelines.settings import Settings
from manifold_pipelines.sources.files import resolve_file_path

P = ParamSpec("P")
T = TypeVar("T")


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name.strip()).strip("-_").lower()[:64]


def source_label(project_id: str, source_id: str) -> str:
    return f"Data source '{project_id}/{source_id}'"


def reloads_dagster(method: Callable[P, T]) -> Callable[P, T]:
    """Catalogue changes that change the Dagster definitions end with a reload request.
    ParamSpec keeps the wrapped method's signature for type checkers and editors."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        result = method(*args, **kwargs)
        catalog: Catalog = args[0]  # type: ignore[assignment]
        catalog.reload_dagster()
        return result

    return wrapper


class Catalog:
    """Projects, sources and who may touch them. `home` defaults to `MANIFOLD_HOME` (or
    `./manifold_home`); `user` is who the audit log names as acting: `MANIFOLD_USER`, else the
    implied local admin."""

    def __init__(self, home: str | os.PathLike[str] | None = None, *, user: str | None = None):
        self.settings = Settings.load(home)
        self.user = acting_user(user)
        self.core = CoreStore(self.settings.core_db_path, actor=self.user)
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
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if description is not None:
            changes["description"] = description
        if data_path is not None:
            resolved = self._checked_data_path(data_path, project.id)
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

    @reloads_dagster
    @requires("admin", "delete the project")
    def delete_project(self, project_id: str, *, archive: bool = False) -> list[Path]:
        """Delete a project, its sources and their files; with `archive`, keep a copy of each
        file in MANIFOLD_HOME/archive first. Returns the archive copies made."""
        project = self._project(project_id)
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

    def _checked_data_path(
        self, data_path: str | os.PathLike[str] | None, project_id: str
    ) -> str | None:
        if data_path is None:
            return None
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
        source_id = validate_id(id if id is not None else _slug(name), "Data source")
        label = source_label(project.id, source_id)
        check_config_size(config or {}, where=label)
        self._check_config(parse_source_config(type, config or {}, where=label), label)
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
        return self._data_file(self._source(project_id, source_id))

    def _data_file(self, source: DataSource) -> Path:
        return data_file(self.settings, self.core.get_project(source.project_id), source.id)

    def _authorize_every_project(self, action: str) -> None:
        """Backups and restores carry every project's configs and data: admin of all."""
        for project in self.core.list_projects():
            self._check_access(Access("admin", "project", action), project.id)

    def _check_access(
        self, access: Access, named: Any, *, roles: UserDirectory | None = None
    ) -> None:
        enforce(self.core, self.user, access, named, roles=roles)

    @requires(None, "reload the Dagster code location", scope="own")
    def reload_dagster(self) -> str | None:
        """Reload the Dagster code location when a webserver is configured; says what
        happened, or None when none is configured. Called after every catalogue change."""
        target = reload_target(self._settings())
        if target is None:
            return None
        self.last_reload = request_reload(*target)
        return self.last_reload

    def _settings(self) -> dict[str, Any]:
        return self.core.users.global_settings()
