"""Applying an import's records to the store, in either mode: what the rest of an import
(schema, diff, quality, publication) needs to know of what changed is the same for both."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from manifold_pipelines.errors import ConfigError
from manifold_pipelines.versions.baseline import PriorVersion
from manifold_pipelines.versions.incremental import IncrementalResult, apply_incremental
from manifold_pipelines.versions.matching import Changes, live_rows, match_keys
from manifold_pipelines.versions.placement import place_version
from manifold_pipelines.versions.records import KeySpec, bad_key_error
from manifold_pipelines.versions.scan import ScanResult, scan_records
from manifold_pipelines.versions.store import VersionStore


@dataclass
class Applied:
    """What writing an import's records changed, whichever its mode."""

    scan: ScanResult
    changes: Changes
    ended: list[tuple[Any, ...]]
    same_keys: bool
    top_position: int
    """The greatest position of the version's rows, or more: where the next new key goes.
    Kept on every version, so an incremental import never scans to find it."""
    incremental: IncrementalResult | None = None


def apply_snapshot(
    store: VersionStore,
    records: Iterable[Any],
    deleted: Iterable[Any],
    previous: PriorVersion | None,
    spec: KeySpec,
    version: int,
) -> Applied:
    """Every record of the version: rows it keeps are shared, the rest written anew, and
    every live row it did not keep ends. Deletions mean nothing here: a record missing from
    a snapshot is removed already."""
    same_keys = previous is not None and previous.key_spec == spec.to_json()
    rows = len(records) if isinstance(records, (list, tuple)) else None  # one a record
    with _indexes_built_after(store, _holds_nothing(store, previous), rows):
        scan = scan_records(
            store,
            records,
            spec,
            live_rows(store, spec) if same_keys else None,
            version=version,
            where=store.label,
            first_import=previous is None,
        )
        new_rows, ended, top_position = place_version(store, scan, version, same_keys)
    changes = match_keys(
        store, new_rows, scan.duplicate_keys, ended, same_keys, scan.first_id, spec.keyless
    )
    if scan.missing_keys or scan.duplicate_keys:
        raise bad_key_error(spec, store.label, scan.missing_keys, scan.duplicate_keys)
    if any(True for _ in deleted):
        raise ConfigError(
            f"{store.label} imports snapshots, where a record missing from an import is removed;"
            " deletions are for mode 'incremental'. Set the source's mode to incremental, or"
            " leave the records out instead. Nothing was imported."
        )
    return Applied(
        scan=scan,
        changes=changes,
        ended=ended,
        same_keys=same_keys,
        top_position=top_position,
    )


def apply_incremental_records(
    store: VersionStore,
    records: Iterable[Any],
    deleted: Iterable[Any],
    previous: PriorVersion | None,
    spec: KeySpec,
    version: int,
) -> Applied:
    """Upserts and deletions against the version before, which must be keyed the same way:
    with another key its rows cannot be looked up by this one."""
    if spec.keyless:
        raise ConfigError(
            f"{store.label}: an incremental import needs a diff key to match records by; this"
            " source has none (keylessDiff or enableDiff false). Set diffKey, or import in"
            " snapshot mode."
        )
    if previous is not None and previous.key_spec != spec.to_json():
        raise ConfigError(
            f"{store.label}: version {previous.version} is keyed by"
            f" {KeySpec.from_json(previous.key_spec).describe()}, not {spec.describe()}: an"
            " incremental import cannot match records across a change of diff key. Import one"
            " snapshot with the new key first. Nothing was imported."
        )
    first_import = _holds_nothing(store, previous)  # then nothing to look up
    with _indexes_built_after(store, first_import, None):  # a key repeated is one row
        incremental = apply_incremental(
            store, records, deleted, spec, version, first_import=first_import
        )
    count = (previous.record_count if previous else 0) + incremental.added
    count -= incremental.deletions
    return Applied(
        scan=ScanResult(record_count=count, unique_records=count, shapes=incremental.shapes),
        changes=incremental.changes,
        ended=incremental.ended,
        same_keys=previous is not None,
        top_position=incremental.top_position,
        incremental=incremental,
    )


def _holds_nothing(store: VersionStore, previous: PriorVersion | None) -> bool:
    return previous is None and store.holds_no_rows()


@contextmanager
def _indexes_built_after(
    store: VersionStore, first_import: bool, rows: int | None
) -> Iterator[None]:
    """A first import writes its rows with the key indexes dropped and builds them once after,
    in its own transaction (a failure's rollback brings them back), in either mode; `rows` is
    how many it writes, when known (see KeyIndexUpkeep.drop_row_indexes)."""
    made_at = store.drop_row_indexes(rows) if first_import else None
    yield
    if first_import:
        store.build_row_indexes(made_at)
