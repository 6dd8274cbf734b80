"""Retention: prune the oldest versions and hand their pages back to the file system.

Only a prefix of versions is pruned, so every remaining version keeps all its rows (a row
valid in a kept version ends at or after it) and any two remaining versions stay diffable.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError

from manifold_pipelines.core.source_config import MAX_KEEP_DAYS, RetentionConfig
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.timestamps import to_text, utc_now
from manifold_pipelines.versions.models import CleanupResult
from manifold_pipelines.versions.store import VersionStore

_RULES = {
    "keepVersions": (
        "keep_versions",
        "keep at least 1 version (a whole number); leave it unset to keep by age",
    ),
    "keepDays": (
        "keep_days",
        f"keep a number of days above 0 and at most {MAX_KEEP_DAYS:,}; leave it unset to keep"
        " by count",
    ),
}


def check_retention(keep_versions: object, keep_days: object, where: str) -> None:
    """Refuse limits that mean nothing before anything is pruned: keeping 0 or -1 versions
    would otherwise keep everything or prune the first version."""
    try:
        RetentionConfig.model_validate({"keepVersions": keep_versions, "keepDays": keep_days})
    except ValidationError as exc:
        name, rule = _RULES[str(exc.errors()[0]["loc"][0])]
        value = keep_versions if name == "keep_versions" else keep_days
        raise ConfigError(f"{where}: cannot clean up with {name}={value!r}: {rule}.") from None


def prune_versions(
    store: VersionStore, *, keep_versions: int | None, keep_days: float | None
) -> CleanupResult:
    """Keep the last `keep_versions`, those younger than `keep_days`, and everything from the
    latest published version on; prune what is older than all of them."""
    check_retention(keep_versions, keep_days, store.label)
    before = store.file_size()
    with store.writing():
        versions = store.version_numbers()
        if not versions or (keep_versions is None and keep_days is None):
            return CleanupResult(
                pruned_versions=[],
                kept_versions=versions,
                rows_deleted=0,
                bytes_before=before,
                bytes_after=before,
            )
        keep_from = versions[-1]
        latest_published = store.latest_version()
        if latest_published is not None:
            keep_from = min(keep_from, latest_published)
        if keep_versions is not None:
            keep_from = min(keep_from, versions[-min(keep_versions, len(versions))])
        if keep_days is not None:
            cutoff = to_text(utc_now() - timedelta(days=keep_days))
            young = store.first_version_since(cutoff)
            if young is not None:
                keep_from = min(keep_from, young)
    return prune_before(store, keep_from, before)


def prune_before(
    store: VersionStore, keep_from: int, bytes_before: int | None = None
) -> CleanupResult:
    """Remove every version older than `keep_from`, with the rows only they used."""
    before = store.file_size() if bytes_before is None else bytes_before
    with store.writing():
        versions = store.version_numbers()
        pruned = [version for version in versions if version < keep_from]
        rows_deleted = store.delete_before(keep_from)
    if pruned:  # on PostgreSQL reclaiming rewrites the tables: never for nothing
        store.db.reclaim_space()
    return CleanupResult(
        pruned_versions=pruned,
        kept_versions=[v for v in versions if v >= keep_from],
        rows_deleted=rows_deleted,
        bytes_before=before,
        bytes_after=store.file_size(),
    )
