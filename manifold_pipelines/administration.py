"""Administration: users and their roles, Manifold-wide settings and the audit log.

The people half of the Python API, over the catalogue: who may do what (see access.py for
how each method declares it), what reaches every project, and who did what.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from manifold_pipelines.access import ACCESS, requires
from manifold_pipelines.code_locations import (
    DEFAULT_SOURCES_PER_LOCATION,
    LocationPlan,
    plan_locations,
)
from manifold_pipelines.core.global_settings import (
    load_setting,
    redact_settings,
    validate_setting,
)
from manifold_pipelines.core.models import AuditEntry, Role, User
from manifold_pipelines.core.permissions import is_instance_admin, projects_with
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.paths import validate_id, validate_text
from manifold_pipelines.source_graph import SourceGraph
from manifold_pipelines.versions.diff import check_limit, no_limit_as_sql


class Administration(SourceGraph):
    """Users, roles, settings and the audit log, on top of projects and sources."""

    @requires("admin", "create users", scope="any_project")
    def create_user(self, user_id: str, name: str | None = None, email: str | None = None) -> User:
        validate_id(user_id, "User")
        validate_text(name, "User name")
        validate_text(email, "User email")
        with self.core.writing():
            self.core.users.insert(user_id, name, email)
            self.core.audit("create", "user", user_id, after={"name": name, "email": email})
        return next(user for user in self.core.users.list() if user.id == user_id)

    @requires("admin", "list users", scope="any_project")
    def list_users(self) -> list[User]:
        return self.core.users.list()

    @requires("admin", "grant roles")
    def set_role(self, user_id: str, project_id: str, role: Role | None) -> None:
        """Give `user_id` a role on the project; None takes its role there away."""
        project = self._project(project_id)
        if role not in ("viewer", "editor", "admin", None):
            raise ConfigError(
                f"Role {role!r} is not one of viewer, editor, admin (or None to revoke)."
            )
        with self.core.writing():
            self.core.users.set_role(user_id, project.id, role)
            self.core.audit("set_role", "project", project.id, after={user_id: role})

    @requires("admin", "make instance admins", scope="instance")
    def set_instance_role(self, user_id: str, role: str | None) -> None:
        """`role="admin"` makes the user admin of every project and of the global settings;
        None takes that back."""
        if role not in ("admin", None):
            raise ConfigError(f"Instance role {role!r} is not 'admin' (or None to revoke).")
        with self.core.writing():
            self.core.users.set_instance_role(user_id, role)
            self.core.audit("set_instance_role", "user", user_id, after={"instanceRole": role})

    @requires("viewer", "see roles")
    def get_role(self, user_id: str, project_id: str) -> Role | None:
        return self.core.users.role_of(user_id, project_id)

    @requires(None, "keep own settings", scope="own")
    def set_user_setting(self, key: str, value: Any) -> None:
        with self.core.writing():
            self.core.users.put_setting(self.user, key, value)
            self.core.audit("set_setting", "user", self.user, after={key: value})

    @requires(None, "read own settings", scope="own")
    def get_user_setting(self, key: str, default: Any = None) -> Any:
        return self.core.users.get_setting(self.user, key, default)

    @requires(None, "ask what it may do", scope="own")
    def check_access(self, method: str, project_id: str | None = None) -> None:
        """Raise PermissionDeniedError now if calling `method` (a public method's name) on
        `project_id` would be refused: a front end asks before it shows an editor for
        something the user may not change."""
        if method not in ACCESS:
            raise ConfigError(f"{method!r} is not a method of the Python API.")
        self._check_access(ACCESS[method], project_id)

    @requires("admin", "change global settings", scope="instance")
    def set_setting(self, key: str, value: Any) -> None:
        """A Manifold-wide setting (`alerts`, `dagster`, `sandbox`), validated by its model
        before it is stored: it reaches every project."""
        stored = validate_setting(key, value)
        with self.core.writing():
            self.core.users.put_global_setting(key, stored)
            self.core.audit("set_setting", "settings", key, after=stored)

    @requires("admin", "change global settings", scope="instance")
    def plan_code_locations(
        self, sources_per_location: int = DEFAULT_SOURCES_PER_LOCATION
    ) -> LocationPlan:
        """Spread the projects over Dagster code locations of at most `sources_per_location`
        enabled sources each (1: one per project) and store the layout in the `dagster`
        setting, where every location and every reload reads it. `workspace_yaml(plan)` is
        the workspace file that lists them."""
        dagster = dict(self._settings().get("dagster") or {})
        home = load_setting({"dagster": dagster}, "dagster").location_name
        sources = Counter(s.project_id for s in self.core.list_sources() if s.enabled)
        plan = plan_locations(
            {p.id: sources[p.id] for p in self.core.list_projects()}, sources_per_location, home
        )
        self.set_setting("dagster", {**dagster, "locations": plan.locations})
        return plan

    @requires(
        "admin", "read global settings", scope="filtered", shows="secrets to instance admins only"
    )
    def get_settings(self) -> dict[str, Any]:
        """Every global setting; secrets (the webhook URL) only for instance admins."""
        settings = self._settings()
        return (
            settings if is_instance_admin(self.core.users, self.user) else redact_settings(settings)
        )

    @requires(
        "admin",
        "read the audit log",
        scope="filtered",
        shows="entries of the projects it is admin of (all to instance admins)",
    )
    def audit_log(
        self, *, object_id: str | None = None, actor: str | None = None, limit: int | None = 1000
    ) -> list[AuditEntry]:
        """Newest first: entries of the projects the caller administers (configs in them
        hold scripts and variables); Manifold-wide entries for instance admins only."""
        check_limit(limit, "The audit log", "entries")
        return self.core.audit_entries(
            object_id=object_id,
            actor=actor,
            limit=no_limit_as_sql(limit),
            projects=projects_with(self.core.users, self.user, "admin"),
        )
