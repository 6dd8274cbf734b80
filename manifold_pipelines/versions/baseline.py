"""The versions an import is compared with: the one just before it, held or not, for the diff
it reports, and the last published one, for the checks that decide publication. A held
version must never be the yardstick that lets its own data through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from manifold_pipelines.errors import DiffKeyError
from manifold_pipelines.quality.metrics import ImportFigures
from manifold_pipelines.versions.diff import DiffSettings
from manifold_pipelines.versions.models import DataDiff
from manifold_pipelines.versions.records import KeySpec
from manifold_pipelines.versions.scan import ScanResult
from manifold_pipelines.versions.schema import (
    FieldStats,
    change_count,
    describe_changes,
    non_null_counts,
)
from manifold_pipelines.versions.store import VersionStore


@dataclass(frozen=True)
class PriorVersion:
    version: int
    record_count: int
    key_spec: str
    field_stats: FieldStats
    schema_version: int
    schema: dict[str, Any]


def prior_version(store: VersionStore, *, published_only: bool) -> PriorVersion | None:
    """The newest version, or the newest published one."""
    row = store.prior_version_row(published_only=published_only)
    if row is None:
        return None
    return PriorVersion(
        version=row[0],
        record_count=row[1],
        key_spec=row[2],
        field_stats=orjson.loads(row[3]),
        schema_version=row[4],
        schema=orjson.loads(row[5]),
    )


def publication_figures(
    store: VersionStore,
    previous: PriorVersion | None,
    diff: DataDiff,
    scan: ScanResult,
    stats: FieldStats,
    schema: dict[str, Any],
    spec: KeySpec,
    settings: DiffSettings,
) -> ImportFigures:
    """The import's figures against the last published version, the one it would replace as
    latest. When the previous version is held, the two are diffed (for the counts)."""
    baseline = prior_version(store, published_only=True)
    counts = (diff.added, diff.removed, diff.modified)
    if baseline is not None and previous is not None and baseline.version != previous.version:
        try:
            against = store.diff_in_snapshot(baseline.version, diff.to_version, spec, settings)
            counts = (against.added, against.removed, against.modified)
        except DiffKeyError:  # the published version cannot be keyed the current way
            counts = (scan.record_count, baseline.record_count, 0)
    schema_changes = describe_changes(baseline.schema, schema) if baseline else None
    return ImportFigures(
        record_count=scan.record_count,
        previous_count=baseline.record_count if baseline else None,
        added=counts[0],
        removed=counts[1],
        modified=counts[2],
        unique_records=scan.unique_records,
        non_null_counts=non_null_counts(stats),
        schema_changes=change_count(schema_changes) if schema_changes else 0,
        baseline_version=baseline.version if baseline else None,
    )
