"""Writing a version: one `BEGIN IMMEDIATE` transaction holding the version row, its record
rows, its diff summary, schema version, quality metrics and the completed import log.

The version number is allocated inside the transaction, so two processes importing into the
same source queue on the write lock and get consecutive numbers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from manifold_pipelines.core.source_config import QualityConfig
from manifold_pipelines.errors import DiffKeyError
from manifold_pipelines.quality.metrics import ImportFigures, blocks_publication, compute_metrics
from manifold_pipelines.quality.models import QualityMetric
from manifold_pipelines.timestamps import now_text
from manifold_pipelines.versions.diff import DiffSettings, all_added, diff_sides
from manifold_pipelines.versions.matching import Changes, live_rows, load_rows, match_keys
from manifold_pipelines.versions.models import DataDiff, ImportResult
from manifold_pipelines.versions.records import KeySpec, bad_key_error, key_records
from manifold_pipelines.versions.scan import scan_records
from manifold_pipelines.versions.schema import (
    FieldStats,
    apply_counts,
    change_count,
    count_fields,
    describe_changes,
    non_null_counts,
    schema_from_stats,
    schema_hash,
    shape_counts,
    stats_of,
)
from manifold_pipelines.versions.store import VersionStore


@dataclass(frozen=True)
class ImportOptions:
    key_spec: KeySpec
    report_diff: bool
    diff_settings: DiffSettings
    quality: QualityConfig


LogText = Callable[[], str | None]
"""The import log's text, read when the import ends: a streaming run logs as it goes."""


def preview_version(
    store: VersionStore, records: Iterable[Any], options: ImportOptions
) -> ImportResult:
    """What importing `records` would give (version, diff, quality), with nothing written."""
    return write_version(
        store, records, options, log_id=0, started=time.perf_counter(), dry_run=True
    )


@dataclass(frozen=True)
class _Previous:
    version: int
    record_count: int
    key_spec: str
    field_stats: FieldStats
    schema_version: int
    schema: dict[str, Any]


def start_import(store: VersionStore) -> int:
    """Log an import as pending, committed on its own so a killed import leaves a trace."""
    with store.writing() as conn:
        cursor = conn.execute(
            "INSERT INTO import_logs (status, started_at) VALUES ('pending', ?)", (now_text(),)
        )
    return int(cursor.lastrowid or 0)


def fail_import(store: VersionStore, log_id: int, error: str, started: float, log: LogText) -> None:
    with store.writing() as conn:
        conn.execute(
            "UPDATE import_logs SET status = 'failed', finished_at = ?, duration_ms = ?,"
            " error = ?, log = ? WHERE id = ?",
            (now_text(), _elapsed_ms(started), error, log(), log_id),
        )


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def write_version(
    store: VersionStore,
    records: Iterable[Any],
    options: ImportOptions,
    *,
    log_id: int,
    started: float,
    declared_schema: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    log: LogText = lambda: None,
    dry_run: bool = False,
    created_at: str | None = None,
) -> ImportResult:
    """Import `records` as the next version; on any error nothing of it is written. A dry
    run computes everything, diff and quality included, then rolls it all back."""
    spec = options.key_spec
    with store.writing(commit=not dry_run) as conn:
        previous = _previous(store)
        version = previous.version + 1 if previous else 1
        same_keys = previous is not None and previous.key_spec == spec.to_json()
        live = live_rows(store, spec) if same_keys else None
        scan = scan_records(
            conn,
            records,
            spec,
            live,
            version=version,
            where=store.label,
            # A list is in memory anyway, and counting at the end is faster; a stream is not,
            # so it is counted as it passes and not held.
            first_import=previous is None and not isinstance(records, (list, tuple)),
        )
        if same_keys:
            ended_ids = scan.ended_ids
        else:
            ended_ids = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM record_history"
                    " WHERE last_version IS NULL AND first_version < ?",
                    (version,),
                )
            ]
        ended = load_rows(store, ended_ids)
        conn.executemany(
            "UPDATE record_history SET last_version = ? WHERE id = ?",
            [(version - 1, row_id) for row_id in ended_ids],
        )
        changes = match_keys(store, scan, ended, same_keys, version, spec.keyless)
        if scan.missing_keys or scan.duplicate_keys:
            raise bad_key_error(spec, store.label, scan.missing_keys, scan.duplicate_keys)
        diff = _diff(previous, changes, ended, same_keys, options, store.label, version)
        stats = _field_stats(previous, changes, ended, same_keys, store.label, scan.shapes)
        schema = schema_from_stats(stats, scan.record_count)
        schema_version, schema_changes = _track_schema(store, previous, schema, version)
        metrics = compute_metrics(
            ImportFigures(
                record_count=scan.record_count,
                previous_count=previous.record_count if previous else None,
                added=diff.added,
                removed=diff.removed,
                modified=diff.modified,
                unique_records=scan.unique_records,
                non_null_counts=non_null_counts(stats),
                schema_changes=change_count(schema_changes) if previous else 0,
            ),
            options.quality,
        )
        status = "held" if blocks_publication(metrics) else "published"
        now = now_text()
        conn.execute(
            "INSERT INTO data_versions (version, schema, metadata, record_count, previous_version,"
            " diff_summary, status, diff_key, field_stats, schema_version, import_log_id,"
            " created_at, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                version,
                orjson.dumps(declared_schema or schema).decode(),
                orjson.dumps(metadata or {}).decode(),
                scan.record_count,
                previous.version if previous else None,
                orjson.dumps(diff.summary()).decode() if options.report_diff else None,
                status,
                spec.to_json(),
                orjson.dumps(stats).decode(),
                schema_version,
                log_id,
                created_at or now,
                now if status == "published" else None,
            ),
        )
        _insert_metrics(store, version, metrics, now)
        duration_ms = _elapsed_ms(started)
        conn.execute(
            "UPDATE import_logs SET status = 'completed', version = ?, finished_at = ?,"
            " duration_ms = ?, records_processed = ?, log = ? WHERE id = ?",
            (version, now, duration_ms, scan.record_count, log(), log_id),
        )
        result = ImportResult(
            version=version,
            status=status,
            record_count=scan.record_count,
            previous_version=previous.version if previous else None,
            diff=diff if options.report_diff else None,
            schema_changes=None
            if previous and schema_version == previous.schema_version
            else schema_changes,
            quality=metrics,
            import_log_id=log_id,
            duration_ms=duration_ms,
            file_size_bytes=store.file_size(),
        )
    return result


def _previous(store: VersionStore) -> _Previous | None:
    row = store.conn.execute(
        "SELECT v.version, v.record_count, v.diff_key, v.field_stats, v.schema_version, s.schema"
        " FROM data_versions v JOIN schema_versions s ON s.schema_version = v.schema_version"
        " ORDER BY v.version DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return _Previous(
        version=row[0],
        record_count=row[1],
        key_spec=row[2],
        field_stats=orjson.loads(row[3]),
        schema_version=row[4],
        schema=orjson.loads(row[5]),
    )


def _diff(
    previous: _Previous | None,
    changes: Changes,
    ended: list[tuple[Any, ...]],
    same_keys: bool,
    options: ImportOptions,
    label: str,
    version: int,
) -> DataDiff:
    """The diff against the previous version, from the rows the import replaced or ended."""
    settings = options.diff_settings
    if previous is None:
        kept = [record for _, record in changes.added if record is not None]
        return all_added(kept, version, total=len(changes.added))
    old_rows = [(key, record) for _, key, record, _ in ended]
    if same_keys:
        diff = diff_sides(
            old_rows, changes.changed, settings, from_version=previous.version, to_version=version
        )
        added = [record for _, record in changes.added]
        details = diff.details.model_copy(update={"added": added})
        return diff.model_copy(update={"added": len(added), "details": details})
    # The diff key changed: re-key the previous version; if it cannot be keyed the new way,
    # every old record counts as removed.
    old_records = [record for _, record in old_rows]
    try:
        old = key_records(old_records, options.key_spec, label, "")
    except DiffKeyError:
        old = [(f"\0old-row-{row}", record) for row, record in enumerate(old_records)]
    return diff_sides(
        old, changes.added, settings, from_version=previous.version, to_version=version
    )


def _field_stats(
    previous: _Previous | None,
    changes: Changes,
    ended: list[tuple[Any, ...]],
    same_keys: bool,
    where: str,
    scan_shapes: Counter[Any] | None,
) -> FieldStats:
    """Per-field type counts: the previous version's adjusted by what left and what came."""
    if scan_shapes is not None:
        stats: FieldStats = {}
        apply_counts(stats, shape_counts(scan_shapes), 1, where)
        return stats
    if previous is None or not same_keys:
        return stats_of((record for _, record in changes.added), where)
    stats = {name: dict(per_type) for name, per_type in previous.field_stats.items()}
    apply_counts(stats, count_fields(row[2] for row in ended), -1)
    apply_counts(stats, count_fields(record for _, record in changes.added), 1, where)
    apply_counts(stats, count_fields(record for _, record in changes.changed), 1, where)
    return stats


def _track_schema(
    store: VersionStore, previous: _Previous | None, schema: dict[str, Any], version: int
) -> tuple[int, dict[str, Any]]:
    """A new schema version when the inferred schema changed, described field by field."""
    old_schema = previous.schema if previous else None
    changes = describe_changes(old_schema, schema)
    if previous and schema_hash(schema) == schema_hash(previous.schema):
        return previous.schema_version, changes
    row = store.conn.execute("SELECT coalesce(max(schema_version), 0) + 1 FROM schema_versions")
    schema_version = row.fetchone()[0]
    store.conn.execute(
        "INSERT INTO schema_versions (schema_version, data_version, schema, schema_hash, changes,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            schema_version,
            version,
            orjson.dumps(schema).decode(),
            schema_hash(schema),
            orjson.dumps(changes).decode(),
            now_text(),
        ),
    )
    return schema_version, changes


def _insert_metrics(
    store: VersionStore, version: int, metrics: list[QualityMetric], now: str
) -> None:
    store.conn.executemany(
        "INSERT INTO quality_metrics (version, metric, field, value, direction, warn_threshold,"
        " fail_threshold, status, blocking, description, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                version,
                m.metric,
                m.field,
                m.value,
                m.direction,
                m.warn_threshold,
                m.fail_threshold,
                m.status,
                int(m.blocking),
                m.description,
                now,
            )
            for m in metrics
        ],
    )
