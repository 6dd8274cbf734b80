"""Archiving old versions to a compressed file, then removing them from the live file.

The archive is gzip'd JSON Lines, one line per version with its records, readable by
`read_archive` (and by zcat and jq). Versions are written out before anything is pruned, and
pruning keeps the latest published version whatever is asked. An archive read back is
untrusted (it may have been edited): every line is validated, and names its source.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from manifold_pipelines.errors import (
    NotFoundError,
    StorageError,
    VersionStatusError,
    describe_validation,
)
from manifold_pipelines.versions.models import CleanupResult
from manifold_pipelines.versions.retention import prune_before
from manifold_pipelines.versions.store import VersionStore


class ArchivedVersionInfo(BaseModel):
    """What `manifold restore` lists of an archived version, without its records."""

    source: str
    version: int
    status: str
    created_at: str
    record_count: int
    mode: Literal["snapshot", "incremental"]
    upserts: int | None
    deletions: int | None
    state: dict[str, Any] | None


class ArchivedVersion(BaseModel):
    """One line of an archive: a version with its records and the source it belongs to."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    source: str
    version: int = Field(ge=1)
    status: str
    created_at: str = Field(alias="createdAt")
    metadata: dict[str, Any]
    declared_schema: dict[str, Any] | None = Field(alias="schema")
    record_count: int = Field(alias="recordCount", ge=0)
    records: list[dict[str, Any]]
    # Missing in archives written before sources were told apart by their creation time.
    source_created_at: str | None = Field(default=None, alias="sourceCreatedAt")
    # Missing in archives written before incremental imports: those were all snapshots.
    mode: Literal["snapshot", "incremental"] = "snapshot"
    upserts: int | None = Field(default=None, ge=0)
    deletions: int | None = Field(default=None, ge=0)
    state: dict[str, Any] | None = None

    @field_validator("created_at", "source_created_at")
    @classmethod
    def _a_timestamp(cls, value: str | None) -> str | None:
        if value is not None:
            datetime.fromisoformat(value)  # a ValueError here names the field and line
        return value

    def info(self) -> ArchivedVersionInfo:
        return ArchivedVersionInfo(
            source=self.source,
            version=self.version,
            status=self.status,
            created_at=self.created_at,
            record_count=self.record_count,
            mode=self.mode,
            upserts=self.upserts,
            deletions=self.deletions,
            state=self.state,
        )


def archive_versions(
    store: VersionStore, before: int, target: Path, source_created_at: str
) -> CleanupResult:
    """`source_created_at` marks which source of that id the archive belongs to: an id can
    be reused after a delete, and the new source must not take the old one's data."""
    versions = [info.version for info in store.list_versions() if info.version < before]
    if not versions:
        raise NotFoundError(f"{store.label} has no versions before {before} to archive.")
    latest = store.latest_version()
    if latest is not None and before > latest:
        raise VersionStatusError(
            f"{store.label}: version {latest} is the latest published one and must stay;"
            f" archive versions before {latest} at most."
        )
    newest = store.version_numbers()[-1]
    if before > newest:
        raise VersionStatusError(
            f"{store.label}: version {newest} is the newest one and must stay, published or"
            " held: its rows are what the next import is compared with. Archive versions"
            f" before {newest} at most."
        )
    write_archive(store, versions, target, source_created_at)
    return prune_before(store, before)


def write_archive(
    store: VersionStore, versions: list[int], target: Path, source_created_at: str
) -> None:
    """The given versions, whole, one JSON line each, gzip'd, with how each was imported
    (mode, upserts, deletions, the state it committed)."""
    infos = {info.version: info for info in store.list_versions()}
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wb") as out:
        for number in versions:
            version, info = store.read_version(number), infos[number]
            line = ArchivedVersion(
                source=store.label,
                version=version.version,
                status=version.status,
                createdAt=version.created_at.isoformat(),
                metadata=version.metadata,
                schema=version.schema,
                recordCount=version.record_count,
                records=version.data,
                sourceCreatedAt=source_created_at,
                mode=info.mode,
                upserts=info.upserts,
                deletions=info.deletions,
                state=info.state,
            )
            out.write(orjson.dumps(line.model_dump(by_alias=True)) + b"\n")


def read_archive(path: Path) -> list[ArchivedVersion]:
    return list(iter_archive(path))


def iter_archive(path: Path) -> Iterator[ArchivedVersion]:
    """The archive's versions one line at a time, each validated before it is handed out."""
    if not path.is_file():
        raise NotFoundError(f"Archive {str(path)!r} does not exist.")
    where = f"{str(path)!r} is not a Manifold archive"
    try:
        with gzip.open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise StorageError(
                        f"{where}: line {number} is not valid JSON ({exc})."
                    ) from exc
                try:
                    yield ArchivedVersion.model_validate(raw)
                except ValidationError as exc:
                    raise StorageError(
                        f"{where}: line {number}: {describe_validation(exc)}. It was changed"
                        " by hand or is damaged; restore from another archive."
                    ) from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise StorageError(f"{where} ({exc}).") from exc
