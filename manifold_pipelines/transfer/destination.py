"""The destination of a transfer: a folder (SQLite files, made if missing) or a PostgreSQL
URL, opened the way a manager opens its own, and never the place the data comes from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from manifold_pipelines.backends import Backend, open_backend
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.settings import Settings

if TYPE_CHECKING:
    from manifold_pipelines.manager import SeparatedDatabaseManager

URL_SCHEMES = ("postgresql://", "postgres://")


def open_destination(manager: SeparatedDatabaseManager, destination: str) -> Backend:
    """A URL keeps the manager's folders for what is read from files; a folder is a home of
    its own, read from nothing in the environment (MANIFOLD_DATABASE_URL must not turn it
    into a database)."""
    if destination.startswith(URL_SCHEMES):
        return open_backend(manager.settings.model_copy(update={"database_url": destination}))
    folder = Path(destination).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"Transfer destination {destination!r} is a file. Name a folder (made if missing)"
            " or a postgresql://user:password@host:port/dbname URL."
        )
    folder.mkdir(parents=True, exist_ok=True)
    home = folder.resolve()
    return open_backend(Settings(home=home, allowed_roots=(home,)))


def refuse_same_place(manager: SeparatedDatabaseManager, there: CoreStore, where: str) -> None:
    """Compared where the catalogues really are, so that another path or host name for the
    same place is refused too: a transfer into itself would compare everything with itself."""
    if there.conn.place() == manager.core.conn.place():
        raise ConfigError(
            f"The transfer destination, {where}, is where this Manifold's data already is."
            " Name another folder or database."
        )
