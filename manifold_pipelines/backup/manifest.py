"""The manifest of a backup folder: the core.db and the data file of each source it restores.

`create_backup` writes it; a restore reads it as untrusted input, so every field is
validated and every path must be one that `create_backup` itself would have written: the
folder's own `core.db`, and `FOLDER/data-sources/{projectId}/{sourceId}.db` for a source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from manifold_pipelines.backup.staging import open_inside
from manifold_pipelines.errors import (
    NotFoundError,
    PathNotAllowedError,
    StorageError,
    describe_validation,
)
from manifold_pipelines.paths import ID_PATTERN, validate_id

MANIFEST = "manifest.json"


class BackupEntry(BaseModel):
    """Where one source's latest copy is, relative to the folder that holds every backup."""

    model_config = ConfigDict(extra="forbid")

    file: str
    fingerprint: list[Any]


class BackupManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    created_at: str = Field(alias="createdAt")
    home: str
    core: str
    sources: dict[str, BackupEntry]

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(by_alias=True), option=orjson.OPT_INDENT_2)

    def core_file(self, folder: Path) -> str:
        """The folder's own core.db: a manifest may not point at any other one."""
        expected = f"{folder.name}/core.db"
        if self.core != expected:
            raise PathNotAllowedError(
                f"{str(folder)!r}: its manifest names {self.core!r}, which is not this backup's"
                f" own core.db ({expected!r}). A backup names only its own files; this one was"
                " changed by hand or is not a Manifold backup. Nothing was restored."
            )
        return expected

    def source_file(self, folder: Path, name: str) -> str:
        """The file of the entry `name` ('project/source'), with the ids checked and the
        file required to be that source's copy in some backup folder next to `folder`."""
        project_id, _, source_id = name.partition("/")
        validate_id(project_id, "Backed-up project")
        validate_id(source_id, "Backed-up data source")
        file = self.sources[name].file
        parts = file.split("/")
        if (
            len(parts) != 4
            or ID_PATTERN.fullmatch(parts[0]) is None
            or parts[1:] != ["data-sources", project_id, f"{source_id}.db"]
        ):
            raise PathNotAllowedError(
                f"{str(folder)!r}: its manifest names {file!r} for {name}, which is not a data"
                f" file of this backup (FOLDER/data-sources/{project_id}/{source_id}.db, next to"
                " this folder). The manifest was changed by hand or is not a Manifold backup:"
                " move that folder aside."
            )
        return file


def read_manifest(folder: Path) -> BackupManifest:
    """The manifest of `folder` (not through a link), or an error saying what is wrong."""
    try:
        with open_inside(folder.parent, f"{folder.name}/{MANIFEST}") as handle:
            raw = orjson.loads(handle.read())
    except FileNotFoundError as exc:
        raise NotFoundError(f"{str(folder)!r} is not a Manifold backup (no {MANIFEST}).") from exc
    except orjson.JSONDecodeError as exc:
        raise StorageError(
            f"{str(folder)!r}: its {MANIFEST} is not valid JSON ({exc}). Restore from a folder"
            " made by `manifold backup`; nothing was restored."
        ) from exc
    if isinstance(raw, dict):
        try:
            return BackupManifest.model_validate(raw)
        except ValidationError as exc:
            problems = describe_validation(exc)
    else:
        problems = f"expected an object, got {type(raw).__name__}"
    raise StorageError(
        f"{str(folder)!r}: its {MANIFEST} is not a Manifold backup manifest: {problems}."
        " Restore from a folder made by `manifold backup`; nothing was restored."
    )
