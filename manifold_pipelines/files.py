"""Where a source's data file lives, what Manifold owns under its home, how big a data file
is, and removing or archiving a data file with its WAL companions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from manifold_pipelines.core.models import Project
from manifold_pipelines.db.sqlite import DATA_PAGE_SIZE, SqliteDatabase, copy_database
from manifold_pipelines.errors import ConfigError, PathNotAllowedError
from manifold_pipelines.paths import resolve_allowed
from manifold_pipelines.settings import Settings
from manifold_pipelines.timestamps import utc_now

COMPANION_SUFFIXES = ("", "-wal", "-shm", "-journal")


def data_dir(settings: Settings, project: Project) -> Path:
    """A project's own `data_path` (checked against the allowed roots when set), or the
    default `MANIFOLD_HOME/data-sources/{projectId}`."""
    if project.data_path:
        return Path(project.data_path)
    return settings.data_sources_dir / project.id


def data_file(settings: Settings, project: Project, source_id: str) -> Path:
    """The data file's real path, checked on every call: it must lie in the project's own
    folder as it was when set up (`data_path` is stored resolved), so a folder or file
    swapped for a symlink since, whether to an outside folder or to another project's, does
    not receive, lose or give away files."""
    label = f"The data file of data source '{project.id}/{source_id}'"
    folder = data_dir(settings, project)
    path = resolve_allowed(folder / f"{source_id}.db", settings.allowed_roots, label)
    if path.parent != folder or path.name != f"{source_id}.db":
        raise PathNotAllowedError(
            f"{label} resolves to {str(path)!r}, outside the project's data folder"
            f" {str(folder)!r}: the folder or the file was replaced, by a symbolic link or"
            " otherwise, after the project was set up. Put the folder back as it was; to keep"
            " data elsewhere, give the project a data_path."
        )
    if project.data_path:
        check_data_folder(settings, folder, project.id, {})
    return path


def _overlap(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def check_data_folder(
    settings: Settings, folder: Path, project_id: str, others: Mapping[str, Path]
) -> None:
    """A project's own data folder (a resolved `data_path`) must hold nothing else of
    Manifold's: a folder that is the home (a source named 'core' would be core.db), holds it,
    lies in data-sources/ or archive/, or shares files with another project (`others`, by
    project id) would let the project's sources overwrite, read or delete what is not theirs."""
    problem = None
    if folder == settings.home or settings.home.is_relative_to(folder):
        problem = "is MANIFOLD_HOME or holds it (where core.db lives)"
    elif folder.is_relative_to(settings.data_sources_dir) or folder.is_relative_to(
        settings.archive_dir
    ):
        problem = "lies inside Manifold's own data-sources/ or archive/ folder"
    else:
        problem = next(
            (
                f"overlaps the data folder of project {other_id!r}"
                for other_id, other in others.items()
                if other_id != project_id and _overlap(folder, other)
            ),
            None,
        )
    if problem:
        raise ConfigError(
            f"Project {project_id!r}: data_path {str(folder)!r} {problem}. Give the project a"
            " folder of its own, for example a new folder beside MANIFOLD_HOME inside an"
            " allowed root."
        )


def manifold_owned(path: Path, settings: Settings, data_folders: Iterable[Path]) -> bool:
    """Whether a real path is one of Manifold's own files: core.db and its companions, or
    anything under data-sources/, archive/ or a project's own data folder. A file source
    must not read them: they hold every project's configs, secrets and records."""
    if path.parent == settings.home and path.name.startswith("core.db"):
        return True
    folders = (settings.data_sources_dir, settings.archive_dir, *data_folders)
    return any(path == folder or path.is_relative_to(folder) for folder in folders)


def archive_target(settings: Settings, project_id: str, name: str) -> Path:
    """A new file in MANIFOLD_HOME/archive/{project}, checked like a data file: an archive
    folder swapped for a symlink must not receive copies of the data."""
    return resolve_allowed(
        settings.archive_dir / project_id / name,
        (settings.home,),
        f"The archive file for project {project_id!r}",
    )


def existing_files(path: Path) -> list[Path]:
    return [
        candidate
        for suffix in COMPANION_SUFFIXES
        if (candidate := path.with_name(path.name + suffix)).exists()
    ]


def data_file_size(path: Path, label: str) -> int:
    """A data file's size by `database_size`, the figure its imports report; 0 before the
    first import. `label` ("Data source 'demo/api'") names it if it is damaged."""
    if not path.exists():
        return 0
    db = SqliteDatabase(path, what=f"data file of {label}", create=False, page_size=DATA_PAGE_SIZE)
    try:
        return db.size()
    finally:
        db.close()


def archive_file(settings: Settings, path: Path, project_id: str, source_id: str) -> Path | None:
    """Copy the data file into the archive with SQLite's backup API: a file copy of a WAL
    database can miss committed pages still in the -wal file."""
    if not path.exists():
        return None
    stamp = utc_now().strftime("%Y%m%dT%H%M%S%fZ")
    target = archive_target(settings, project_id, f"{source_id}-{stamp}.db")
    copy_database(path, target)
    return target


def remove_files(path: Path) -> None:
    """Delete the data file and its -wal/-shm/-journal together, never one without the rest."""
    for candidate in existing_files(path):
        candidate.unlink()
