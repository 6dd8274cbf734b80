"""Where Manifold keeps its data, read from the environment once per manager.

`MANIFOLD_DATABASE_URL` (a `postgresql://` URL) puts the catalogue and every source's
versions in PostgreSQL; without it, `MANIFOLD_HOME` holds core.db and, by default, every
data file. `MANIFOLD_ALLOWED_ROOTS` (`:`-separated) names the only other folders a project's
data, or a file source's file, may live in.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

DEFAULT_HOME = Path("manifold_home")


class Settings(BaseModel):
    """Resolved locations; every path is absolute with symlinks followed."""

    model_config = ConfigDict(frozen=True)

    home: Path
    allowed_roots: tuple[Path, ...]
    database_url: str | None = None
    """A PostgreSQL URL, or None for SQLite files under the home."""

    @property
    def core_db_path(self) -> Path:
        return self.home / "core.db"

    @property
    def data_sources_dir(self) -> Path:
        return self.home / "data-sources"

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @classmethod
    def load(
        cls, home: str | os.PathLike[str] | None = None, database_url: str | None = None
    ) -> Settings:
        """Build settings from an explicit home and URL, else from the environment.

        On SQLite the home is created here so that its real path can be resolved: an allowed
        root that is a symlink must compare equal to the paths found under it. On PostgreSQL
        nothing is written to the local disk: a worker may run in an empty folder.
        """
        url = database_url or os.environ.get("MANIFOLD_DATABASE_URL") or None
        raw_home = home if home is not None else os.environ.get("MANIFOLD_HOME") or DEFAULT_HOME
        home_path = Path(raw_home).expanduser()
        if url is None:
            home_path.mkdir(parents=True, exist_ok=True)
        resolved_home = home_path.resolve(strict=url is None)
        extra = os.environ.get("MANIFOLD_ALLOWED_ROOTS", "")
        roots = [resolved_home]
        roots += [Path(part).expanduser().resolve() for part in extra.split(":") if part.strip()]
        return cls(home=resolved_home, allowed_roots=tuple(roots), database_url=url)
