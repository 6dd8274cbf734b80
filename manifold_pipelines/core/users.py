"""Users, their role per project, per-user settings, and Manifold-wide settings in core.db.

All of this SQL is here: the permission rules (permissions.py) and the API read roles
through `UserDirectory`, never through a connection of their own.
"""

from __future__ import annotations

from typing import Any

import orjson

from manifold_pipelines.core.models import Role, User
from manifold_pipelines.db.database import Database
from manifold_pipelines.errors import AlreadyExistsError, ConstraintError, NotFoundError
from manifold_pipelines.timestamps import from_text, now_text


class UserDirectory:
    """The users, project_roles, user_settings and settings tables over one connection;
    writes run inside the caller's transaction."""

    def __init__(self, db: Database) -> None:
        self.conn = db

    def insert(self, user_id: str, name: str | None, email: str | None) -> None:
        try:
            self.conn.execute(
                "INSERT INTO users (id, name, email, created_at) VALUES (?, ?, ?, ?)",
                (user_id, name, email, now_text()),
            )
        except ConstraintError as exc:
            raise AlreadyExistsError(f"User {user_id!r} already exists.") from exc

    def list(self) -> list[User]:
        rows = self.conn.execute(
            "SELECT id, name, email, created_at, instance_role FROM users ORDER BY id"
        ).fetchall()
        return [
            User(id=r[0], name=r[1], email=r[2], created_at=from_text(r[3]), instance_role=r[4])
            for r in rows
        ]

    def any(self) -> bool:
        """Whether any user exists: before the first one, Manifold is single-user."""
        return self.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def set_role(self, user_id: str, project_id: str, role: Role | None) -> None:
        """None removes the user's role on the project."""
        self._require(user_id)
        if role is None:
            self.conn.execute(
                "DELETE FROM project_roles WHERE user_id = ? AND project_id = ?",
                (user_id, project_id),
            )
            return
        self.conn.execute(
            "INSERT INTO project_roles (user_id, project_id, role) VALUES (?, ?, ?)"
            " ON CONFLICT (user_id, project_id) DO UPDATE SET role = excluded.role",
            (user_id, project_id, role),
        )

    def role_of(self, user_id: str, project_id: str) -> Role | None:
        row = self.conn.execute(
            "SELECT role FROM project_roles WHERE user_id = ? AND project_id = ?",
            (user_id, project_id),
        ).fetchone()
        role: Role | None = None if row is None else row[0]
        return role

    def project_roles(self, user_id: str) -> dict[str, Role]:
        rows = self.conn.execute(
            "SELECT project_id, role FROM project_roles WHERE user_id = ?", (user_id,)
        ).fetchall()
        return {project_id: role for project_id, role in rows}

    def set_instance_role(self, user_id: str, role: str | None) -> None:
        self._require(user_id)
        self.conn.execute("UPDATE users SET instance_role = ? WHERE id = ?", (role, user_id))

    def instance_role(self, user_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT instance_role FROM users WHERE id = ?", (user_id,)
        ).fetchone()
        role: str | None = None if row is None else row[0]
        return role

    def _require(self, user_id: str) -> None:
        if self.conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
            raise NotFoundError(f"User {user_id!r} does not exist. Create the user first.")

    def put_setting(self, user_id: str, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO user_settings (user_id, key, value, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (user_id, key, orjson.dumps(value).decode(), now_text()),
        )

    def get_setting(self, user_id: str, key: str, default: Any = None) -> Any:
        row = self.conn.execute(
            "SELECT value FROM user_settings WHERE user_id = ? AND key = ?", (user_id, key)
        ).fetchone()
        return default if row is None else orjson.loads(row[0])

    def put_global_setting(self, key: str, value: Any) -> None:
        self.conn.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key)"
            " DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            (key, orjson.dumps(value).decode(), now_text()),
        )

    def global_settings(self) -> dict[str, Any]:
        return {
            key: orjson.loads(value)
            for key, value in self.conn.execute("SELECT key, value FROM settings")
        }
