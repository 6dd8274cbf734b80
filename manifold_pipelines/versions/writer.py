"""Writing a version: one write transaction holding the version row, its record rows, its
diff summary, schema version, quality metrics and the completed import log.

The version number is allocated inside the transaction, which holds the source's write lock
from its first statement, so two processes importing into the same source queue on the lock
and get consecutive numbers. What to write is decided here; the store runs the statements.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from manifold_pipelines.core.source_config import QualityConfig
from manifold_pipelines.errors import (
    DiffKeyError,
    StateConflictError,
    cap_error_text,
)
from manifold_pipelines.quality.metrics import blocks_publication, compute_metrics
from manifold_pipelines.timestamps import now_text
from manifold_pipelines.versions.apply import Applied, apply_incremental_records, apply_snapshot
from manifold_pipelines.versions.baseline import PriorVersion, prior_version, publication_figures
from manifold_pipelines.versions.diff import DiffSettings, all_added, diff_sides
from manifold_pipelines.versions.matching import Changes, added_records
from manifold_pipelines.versions.models import DataDiff, ImportMode, ImportResult, VersionStatus
from manifold_pipelines.versions.records import (
    KeySpec,
    key_records,
    number_copies,
)
from manifold_pipelines.versions.schema import (
    FieldStats,
    apply_counts,
    count_fields,
    describe_changes,
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
    mode: ImportMode = "snapshot"


LogText = Callable[[], str | None]
"""The import log's text, read when the import ends: a streaming run logs as it goes."""
StateText = Callable[[], dict[str, Any] | None]
"""The state to commit, read once the records are in: a run's script sets it as it goes."""


def preview_version(
    store: VersionStore,
    records: Iterable[Any],
    options: ImportOptions,
    deleted: Iterable[Any] = (),
    state: StateText = lambda: None,
) -> ImportResult:
    """What importing `records` would give (version, diff, quality), with nothing written."""
    return write_version(
        store,
        records,
        options,
        log_id=0,
        started=time.perf_counter(),
        dry_run=True,
        deleted=deleted,
        state=state,
    )


def start_import(store: VersionStore) -> int:
    """Log an import as pending, committed on its own so a killed import leaves a trace."""
    with store.writing():
        return store.start_log()


def fail_import(store: VersionStore, log_id: int, error: str, started: float, log: LogText) -> None:
    with store.writing():
        store.fail_log(log_id, cap_error_text(error), _elapsed_ms(started), log())


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
    deleted: Iterable[Any] = (),
    state: StateText = lambda: None,
    state_base: dict[str, Any] | None = None,
) -> ImportResult:
    """Import `records` as the next version; on any error nothing of it is written. A dry
    run computes everything, diff and quality included, then rolls it all back. In
    incremental mode `records` are upserts and `deleted` the keys to remove (both read in
    that order, so a run may fill `deleted` as it yields records); `state()`, read once the
    records are in (None: unchanged), commits with the version. `state_base` is the state a
    run started from: if another import committed another state since, the run read its
    source from a stale cursor and is refused."""
    spec = options.key_spec
    with store.writing(commit=not dry_run):
        if state_base is not None and store.committed_state() != state_base:
            raise StateConflictError(
                f"{store.label}: another import committed a new state while this run was"
                " running, so this run started from a stale state (a cursor already moved on)."
                " Nothing was imported; run the source again to go on from the new state."
            )
        previous = prior_version(store, published_only=False)
        version = previous.version + 1 if previous else 1
        if options.mode == "incremental":
            applied = apply_incremental_records(store, records, deleted, previous, spec, version)
        else:
            applied = apply_snapshot(store, records, deleted, previous, spec, version)
        scan, changes, ended, same_keys = (
            applied.scan,
            applied.changes,
            applied.ended,
            applied.same_keys,
        )
        stats = _field_stats(previous, changes, ended, same_keys, store.label, scan.shapes)
        schema = schema_from_stats(stats, scan.record_count)
        schema_version, schema_changes = _track_schema(store, previous, schema, version)
        now = now_text()
        incremental = applied.incremental
        kept_state = _commit_state(store, state(), version, incremental is not None)
        store.insert_version(
            {
                "version": version,
                "schema": orjson.dumps(declared_schema or schema).decode(),
                "metadata": orjson.dumps(metadata or {}).decode(),
                "record_count": scan.record_count,
                "previous_version": previous.version if previous else None,
                "diff_key": spec.to_json(),
                "field_stats": orjson.dumps(stats).decode(),
                "schema_version": schema_version,
                "import_log_id": log_id,
                "created_at": created_at or now,
                "mode": options.mode,
                "upserts": incremental.upserts if incremental else None,
                "deletions": incremental.deletions if incremental else None,
                "state": None if kept_state is None else orjson.dumps(kept_state).decode(),
                "top_position": applied.top_position,
            }
        )
        diff = _diff(store, previous, applied, options, version)
        figures = publication_figures(
            store, previous, diff, scan, stats, schema, spec, options.diff_settings
        )
        metrics = compute_metrics(figures, options.quality)
        status: VersionStatus = "held" if blocks_publication(metrics) else "published"
        store.settle_version(
            version,
            status,
            now if status == "published" else None,
            orjson.dumps(diff.summary()).decode() if options.report_diff else None,
        )
        store.insert_metrics(version, metrics, now)
        duration_ms = _elapsed_ms(started)
        store.complete_log(
            log_id, version, now, duration_ms, scan.record_count, _with_counts(log(), applied, diff)
        )
        if not dry_run:  # last: on PostgreSQL its drops hold readers off until the commit
            store.fold_recent_keys()
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
            mode=options.mode,
            upserts=incremental.upserts if incremental else None,
            deletions=incremental.deletions if incremental else None,
            absent_deletions=incremental.absent_deletions if incremental else None,
            state=kept_state,
        )
    return result


def _commit_state(
    store: VersionStore, new_state: dict[str, Any] | None, version: int, incremental: bool
) -> dict[str, Any] | None:
    """Save a state that changed, with the version; return the state the version records:
    an incremental version the state it leaves (given or carried over), a snapshot version
    only a state it changed."""
    committed = store.committed_state()
    if new_state is not None and new_state != committed:
        store.save_state(new_state, version)
        return new_state
    return committed if incremental else None


def _with_counts(log: str | None, applied: Applied, diff: DataDiff) -> str | None:
    """An incremental import's log ends with what it applied, counted as its diff counts
    (a record rewritten only in its field order, or within tolerance, is unchanged)."""
    incremental = applied.incremental
    if incremental is None:
        return log
    unchanged = incremental.distinct_keys - diff.added - diff.modified
    line = (
        f"[info] incremental: {incremental.upserts:,} upserts ({diff.added:,} added,"
        f" {diff.modified:,} modified, {unchanged:,} unchanged), {incremental.deletions:,}"
        " deletions"
    )
    if incremental.absent_deletions:
        line += f" ({incremental.absent_deletions:,} more named keys the source did not hold)"
    if incremental.repeated:
        line += f"; {incremental.repeated:,} records repeated a key, the last of each counts"
    return line if log is None else f"{log}\n{line}"


def _diff(
    store: VersionStore,
    previous: PriorVersion | None,
    applied: Applied,
    options: ImportOptions,
    version: int,
) -> DataDiff:
    """The diff against the previous version. With the same key it is the store's own diff
    of the two versions, so it lists details exactly as `get_data_diff` does; an incremental
    import has every row that changed in hand already, in the store's order."""
    settings = options.diff_settings
    changes, ended = applied.changes, applied.ended
    if previous is None:
        return all_added(added_records(changes.added), version, total=applied.scan.record_count)
    if applied.incremental is not None:
        return diff_sides(
            [(key, record) for _, key, record, _ in ended],
            [(key, record) for _, key, record in applied.incremental.written],
            settings,
            from_version=previous.version,
            to_version=version,
            key_fields=options.key_spec.fields or (),
        )
    if applied.same_keys:
        old_rows = [(key, record) for _, key, record, _ in ended]
        return store.diff_in_snapshot(
            previous.version, version, options.key_spec, settings, ended=old_rows
        )
    # The diff key changed: re-key the previous version; if it cannot be keyed the new way,
    # every old record counts as removed.
    old_records = [record for _, _, record, _ in ended]
    try:
        old = key_records(old_records, options.key_spec, store.label, "")
    except DiffKeyError:
        old = [(f"\0old-row-{row}", record) for row, record in enumerate(old_records)]
    new = number_copies(changes.added) if options.key_spec.keyless else changes.added
    return diff_sides(
        old,
        new,
        settings,
        from_version=previous.version,
        to_version=version,
        key_fields=options.key_spec.fields or (),
    )


def _field_stats(
    previous: PriorVersion | None,
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
    store: VersionStore, previous: PriorVersion | None, schema: dict[str, Any], version: int
) -> tuple[int, dict[str, Any]]:
    """A new schema version when the inferred schema changed, described field by field."""
    old_schema = previous.schema if previous else None
    changes = describe_changes(old_schema, schema)
    new_hash = schema_hash(schema)
    if previous is not None and store.schema_hash(previous.schema_version) == new_hash:
        return previous.schema_version, changes
    return store.insert_schema(version, schema, new_hash, changes), changes
