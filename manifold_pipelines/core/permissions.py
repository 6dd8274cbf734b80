"""Roles per project: viewer reads data, editor changes sources and imports, admin manages
projects and users. An instance admin is admin of every project and of the global settings.

`local-admin` (who acts when no user is named) and `dagster` (who scheduled runs act as) are
always allowed: whoever runs Manifold without naming a user owns the files anyway. Named users
(`--user`, MANIFOLD_USER) are held to their roles once any user exists in core.db; before
that, a fresh install is single-user and needs no setup. On SQLite these roles are guard-rails
for cooperating users: the boundary is who may write MANIFOLD_HOME's files."""

from __future__ import annotations

import os

from manifold_pipelines.core.models import Role
from manifold_pipelines.core.users import UserDirectory
from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.paths import validate_id

RANK: dict[str, int] = {"viewer": 1, "editor": 2, "admin": 3}
LOCAL_ADMIN = "local-admin"
SYSTEM_USERS = frozenset({"dagster", LOCAL_ADMIN})


class PermissionDeniedError(ManifoldError):
    """The acting user's role does not allow the action."""


def acting_user(user: str | None) -> str:
    """Who acts: `user`, else MANIFOLD_USER, else the local admin. An empty or odd name is
    refused rather than taken for the always-allowed local admin."""
    if user is None:
        # Set but empty is a mistake to report, not a way to become the local admin.
        user = os.environ.get("MANIFOLD_USER", LOCAL_ADMIN)
    return validate_id(user, "Acting user")


def roles_enforced(users: UserDirectory, user: str) -> bool:
    """Whether `user` is held to roles: a named user, once any user exists."""
    return user not in SYSTEM_USERS and users.any()


def is_instance_admin(users: UserDirectory, user: str) -> bool:
    return not roles_enforced(users, user) or users.instance_role(user) == "admin"


def project_roles(users: UserDirectory, user: str) -> dict[str, Role] | None:
    """The user's role in each project it has one in; None means every project, as admin."""
    return None if is_instance_admin(users, user) else users.project_roles(user)


def projects_with(users: UserDirectory, user: str, needed: Role) -> set[str] | None:
    """Projects where `user` holds at least `needed`; None means all of them."""
    roles = project_roles(users, user)
    if roles is None:
        return None
    return {project for project, role in roles.items() if RANK[role] >= RANK[needed]}


def authorize(
    users: UserDirectory, user: str, project_id: str | None, needed: Role, action: str
) -> None:
    """Allow, or raise naming the user's role, the role needed and who can grant it.

    `project_id` None means a Manifold-wide action (creating projects, managing users): it
    needs the role on at least one project.
    """
    roles = project_roles(users, user)
    if roles is None:
        return
    if project_id is None:
        if any(RANK[role] >= RANK[needed] for role in roles.values()):
            return
        raise PermissionDeniedError(
            f"User {user!r} cannot {action}: that needs the {needed} role on at least one"
            " project. Ask an admin to grant it (manifold user grant)."
        )
    role = roles.get(project_id)
    if role is not None and RANK[role] >= RANK[needed]:
        return
    has = f"is a {role} of" if role else "has no role in"
    raise PermissionDeniedError(
        f"User {user!r} {has} project {project_id!r} and cannot {action}: that needs the"
        f" {needed} role. Ask an admin of {project_id!r} to grant it."
    )


def authorize_instance(users: UserDirectory, user: str, action: str) -> None:
    """Manifold-wide settings reach every project: only an instance admin changes them."""
    if is_instance_admin(users, user):
        return
    raise PermissionDeniedError(
        f"User {user!r} cannot {action}: that needs an instance admin ({LOCAL_ADMIN!r}, or a"
        " user made one with `manifold user instance-admin USER`)."
    )
