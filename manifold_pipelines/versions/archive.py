"""Archiving old versions to a compressed file, then removing them from the live file.

The archive is gzip'd JSON Lines, one line per version with its records, readable by
`read_archive` (and by zcat and jq). Versions are written out before anything is pruned, and
pruning keeps the latest published version whatever is asked.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

from manifold_pipelines.errors import NotFoundError, VersionStatusError
from manifold_pipelines.versions.models import CleanupResult
from manifold_pipelines.versions.retention import prune_before
from manifold_pipelines.versions.store import VersionStore


def archive_versions(store: VersionStore, before: int, target: Path) -> CleanupResult:
    versions = [info.version for info in store.list_versions() if info.version < before]
    if not versions:
        raise NotFoundError(f"{store.label} has no versions before {before} to archive.")
    latest = store.latest_version()
    if latest is not None and before > latest:
        raise VersionStatusError(
            f"{store.label}: version {latest} is the latest published one and must stay;"
            f" archive versions before {latest} at most."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(target, "wb") as out:
        for number in versions:
            version = store.read_version(number)
            line = {
                "source": store.label,
                "version": version.version,
                "status": version.status,
                "createdAt": version.created_at.isoformat(),
                "metadata": version.metadata,
                "schema": version.schema,
                "recordCount": version.record_count,
                "records": version.data,
            }
            out.write(orjson.dumps(line) + b"\n")
    return prune_before(store, before)


def read_archive(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise NotFoundError(f"Archive {str(path)!r} does not exist.")
    try:
        with gzip.open(path, "rb") as handle:
            return [orjson.loads(line) for line in handle if line.strip()]
    except (OSError, orjson.JSONDecodeError) as exc:
        raise NotFoundError(f"{str(path)!r} is not a Manifold archive ({exc}).") from exc
