"""Storage backends: where the catalogue and every source's versions live.

The manager asks its Backend for the catalogue store and for a source's version store, and
for the few things that depend on where data lives (whether a source left data behind,
dropping or archiving it, its size). Nothing above knows which engine it runs on.
"""

from __future__ import annotations

from manifold_pipelines.backends.base import Backend
from manifold_pipelines.backends.postgres import PostgresBackend
from manifold_pipelines.backends.sqlite import SqliteBackend
from manifold_pipelines.settings import Settings


def open_backend(settings: Settings) -> Backend:
    """PostgreSQL when the settings carry a database URL, else SQLite files under the home."""
    if settings.database_url is not None:
        return PostgresBackend(settings, settings.database_url)
    return SqliteBackend(settings)


__all__ = ["Backend", "PostgresBackend", "SqliteBackend", "open_backend"]
