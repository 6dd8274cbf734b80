"""What a backup is of: a SQLite MANIFOLD_HOME, whose core.db and data files it copies. A
Manifold that keeps its data in PostgreSQL has no such files; the database's own tools back
it up, and `manifold transfer` copies everything into a folder."""

from __future__ import annotations

from manifold_pipelines.db.postgres_urls import redact_url
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.settings import Settings


def require_sqlite_home(settings: Settings, command: str, instead: str) -> None:
    """Refuse `command` when the data is in PostgreSQL, saying what to do `instead`."""
    if settings.database_url is None:
        return
    raise ConfigError(
        f"`{command}` works on the SQLite files of a MANIFOLD_HOME (core.db and the data"
        " files), and this Manifold keeps its data in PostgreSQL at"
        f" {redact_url(settings.database_url)}. {instead}"
    )
