"""Roles per project: viewer reads data, editor changes sources and imports, admin manages
projects and users.

`local-admin` (who acts when no user is named) and `dagster` (who scheduled runs act as) are
always allowed: whoever runs Manifold without naming a user owns the files anyway. Named users
(`--user`, MANIFOLD_USER) are held to their roles once any user exists in core.db; before
that, a fresh install is single-user and needs no setup."""

from __future__ import annotations

import sqlite3

from manifold_pipelines.core.models import Role
from manifold_pipelines.errors import ManifoldError

RANK: dict[str, int] = {"viewer": 1, "editor": 2, "admin": 3}
LOCAL_ADMIN = "local-admin"
SYSTEM_USERS = frozenset({"dagster", LOCAL_ADMIN})


class PermissionDeniedError(ManifoldError):
    """The acting user's role does not allow the action."""


def authorize(
    conn: sqlite3.Connection, user: str, project_id: str | None, needed: Role, action: str
) -> None:
    """Allow, or raise naming the user's role, the role needed and who can grant it.

    `project_id` None means a Manifold-wide action (creating projects, managing users): it
    needs the role on at least one project.
    """
    if user in SYSTEM_USERS or conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is None:
        return
    if project_id is None:
        row = conn.execute(
            "SELECT max(CASE role WHEN 'admin' THEN 3 WHEN 'editor' THEN 2 ELSE 1 END)"
            " FROM project_roles WHERE user_id = ?",
            (user,),
        ).fetchone()
        if (row[0] or 0) >= RANK[needed]:
            return
        raise PermissionDeniedError(
            f"User {user!r} cannot {action}: that needs the {needed} role on at least one"
            " project. Ask an admin to grant it (manifold user grant)."
        )
    row = conn.execute(
        "SELECT role FROM project_roles WHERE user_id = ? AND project_id = ?", (user, project_id)
    ).fetchone()
    role = row[0] if row else None
    if role is not None and RANK[role] >= RANK[needed]:
        return
    has = f"is a {role} of" if role else "has no role in"
    raise PermissionDeniedError(
        f"User {user!r} {has} project {project_id!r} and cannot {action}: that needs the"
        f" {needed} role. Ask an admin of {project_id!r} to grant it."
    )
