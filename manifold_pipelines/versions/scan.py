"""One pass over an import's records: encode, hash, compare with the live rows, write.

This is the hot loop of every import, so it is written flat. Against a previous version the
records are matched by content hash first: a record whose hash is a live row's is unchanged
(its key is part of its content), so keys are only computed for the few that are not. New
rows are written in batches as they are found, inside the import's transaction; memory holds
the previous version's hashes and the records that changed, never an encoded copy of all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import xxhash

from manifold_pipelines.versions.ordering import POSITION_GAP, position_of, row_id_of
from manifold_pipelines.versions.records import (
    MAX_RECORD_BYTES,
    KeySpec,
    canonical_hash,
    check_encoded,
    dumps_record,
    encode,
    key_function,
    not_an_object,
    not_json,
)
from manifold_pipelines.versions.schema import Shapes

BATCH_ROWS = 10_000
BATCH_BYTES = 16 * 2**20
"""Rows are written when either bound is reached: 10,000 records of 900 KB held for one
executemany would be 9 GB."""
FIRST_IMPORT_DETAILS = 10_000
FIRST_IMPORT_DETAIL_BYTES = 32 * 2**20
"""A streamed first import keeps at most this many records, and this much of their JSON, for
its diff details (the counts stay exact): holding every record of a million-record stream
would cost gigabytes."""
Record = dict[str, Any]

if TYPE_CHECKING:
    from manifold_pipelines.versions.store import VersionStore


NewRow = tuple[int, str, Record | None, int]
"""(input row, key, record, how many kept rows came before it) of a record written as a new
row; whether it replaced a live row with the same key is decided once the scan is over, and
so is its final position. A tuple: one per record, so it holds nothing it need not (the scan
gives new rows consecutive ids: the i-th has `first_id + i`)."""

Live = dict[bytes, int | None] | dict[bytes, list[int]]
"""The previous version's rows as packed (position, id): hash -> row when keyed (a record
whose hash is live is unchanged), hash -> rows when keyless (identical copies)."""


@dataclass
class ScanResult:
    record_count: int = 0
    new_rows: list[NewRow] = field(default_factory=list)
    kept: list[int] = field(default_factory=list)
    """The live rows the import kept unchanged, packed, in import order (see ordering.py)."""
    ended_ids: list[int] = field(default_factory=list)
    first_id: int = 1
    """The id of the import's first row: rows below it are earlier versions'."""
    next_id: int = 1
    unique_records: int = 0
    missing_keys: list[int] = field(default_factory=list)
    duplicate_keys: list[int] = field(default_factory=list)
    shapes: Shapes | None = None
    """On a first import, the new records counted by shape as they pass (see schema.py)."""
    detail_bytes: int = 0
    """JSON size of the records a first import kept for its details."""
    top_position: int = 0
    """The greatest provisional position: no row of the version is above it, unless placement
    moves one there (see placement.py)."""


class _RowWriter:
    """Assigns row ids and provisional positions (after every live row) and writes rows in
    batches, in one bulk statement each. The scan loops append to `batch` inline: a method
    call per record costs more than the insert.

    A row's hash goes in as a bytearray, stored as the same BLOB: Python's sqlite3 binds
    int, float, str and bytearray directly but looks every `bytes` up in its adapter
    registry first, which took a quarter of the insert (0.37 s a million rows)."""

    def __init__(self, store: VersionStore, version: int, top_position: int | None) -> None:
        self.store = store
        self.version = version
        self.next_id = store.next_row_id()
        self.next_position = POSITION_GAP + (
            -POSITION_GAP if top_position is None else top_position
        )
        self.batch: list[tuple[Any, ...]] = []
        self.batch_bytes = 0

    def flush(self) -> None:
        self.store.insert_rows(self.batch)
        self.batch.clear()
        self.batch_bytes = 0

    def advance(self, written: int) -> None:
        """Account for rows the loop appended to `batch` with ids and positions from here."""
        self.next_id += written
        self.next_position += written * POSITION_GAP


def scan_records(
    store: VersionStore,
    records: Iterable[Any],
    spec: KeySpec,
    live: Live | None,
    *,
    version: int,
    where: str,
    first_import: bool = False,
) -> ScanResult:
    """Write every record that is not already a live row, and report the live rows no record
    matched (`ended_ids`: removed, or replaced by a new row with the same key).

    `live` is None when there is nothing to compare with. Key problems are collected, not
    raised, so that the error can name the first offending rows. On a `first_import`,
    records are counted by shape as they pass and only the first FIRST_IMPORT_DETAILS are
    kept, so a streamed source is never held in memory whole.
    """
    result = ScanResult(shapes=Counter() if first_import else None)
    writer = _RowWriter(store, version, _top_position(live or {}))
    result.first_id = writer.next_id
    if spec.keyless:
        keyless_live: dict[bytes, list[int]] = live or {}  # type: ignore[assignment]
        _scan_keyless(records, keyless_live, writer, result, where)
        result.ended_ids = [row_id_of(row) for rows in keyless_live.values() for row in rows]
    else:
        keyed_live: dict[bytes, int | None] = live or {}  # type: ignore[assignment]
        _scan_keyed(records, spec, keyed_live, writer, result, where)
        result.ended_ids = [row_id_of(row) for row in keyed_live.values() if row is not None]
    writer.flush()
    result.next_id = writer.next_id
    result.top_position = max(0, writer.next_position - POSITION_GAP)
    return result


def _top_position(live: Live) -> int | None:
    tops = [max(row) if isinstance(row, list) else row for row in live.values() if row is not None]
    return position_of(max(tops)) if tops else None


def _kept(record: Record, size: int, result: ScanResult) -> Record | None:
    """The record (`size` bytes of JSON), or None once a first import has kept enough for its
    details."""
    shapes = result.shapes
    if shapes is None:
        return record
    shapes[(tuple(record), tuple(map(type, record.values())))] += 1
    if len(result.new_rows) < FIRST_IMPORT_DETAILS and (
        result.detail_bytes < FIRST_IMPORT_DETAIL_BYTES
    ):
        result.detail_bytes += size
        return record
    return None


def _scan_keyed(
    records: Iterable[Any],
    spec: KeySpec,
    live: dict[bytes, int | None],
    writer: _RowWriter,
    result: ScanResult,
    where: str,
) -> None:
    """A record whose hash is live is unchanged; the rest are written as new rows. Repeated
    keys among those are found afterwards, when each new row is matched by key."""
    key_of, digest_of, dumps = key_function(spec), xxhash.xxh3_128_digest, dumps_record
    absent = object()
    new_rows, kept, batch, flush = result.new_rows, result.kept, writer.batch, writer.flush
    row_id, position, version = writer.next_id, writer.next_position, writer.version
    first_id = row_id
    row = -1
    for row, record in enumerate(records):
        if record.__class__ is not dict:
            raise not_an_object(record, row, where)
        try:
            blob = dumps(record)
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise not_json(exc, row, where, record) from exc
        if b"null" in blob or len(blob) > MAX_RECORD_BYTES:
            check_encoded(record, blob, row, where)
        digest = digest_of(blob)
        entry = live.get(digest, absent)
        if entry is absent:
            key = key_of(record)
            if key is None:
                result.missing_keys.append(row)
                continue
            batch.append((row_id, key, bytearray(digest), blob.decode(), position, version))
            new_rows.append((row, key, _kept(record, len(blob), result), len(kept)))
            row_id += 1
            position += POSITION_GAP
            writer.batch_bytes += len(blob)
            if len(batch) >= BATCH_ROWS or writer.batch_bytes >= BATCH_BYTES:
                flush()
        elif entry is None:
            result.duplicate_keys.append(row)  # the same record twice: its key repeats
        else:
            live[digest] = None
            kept.append(entry)  # type: ignore[arg-type]
    writer.advance(row_id - first_id)
    result.record_count = row + 1
    result.unique_records = result.record_count


def _scan_keyless(
    records: Iterable[Any],
    live: dict[bytes, list[int]],
    writer: _RowWriter,
    result: ScanResult,
    where: str,
) -> None:
    """A record whose exact JSON is live is kept (one live copy each); the key of a new row is
    its canonical hash, so a record whose fields merely come in another order is new as a
    row, to read back as imported, but the same record to the diff."""
    distinct: set[bytes] = set()
    kept = result.kept
    row = -1
    for row, record in enumerate(records):
        blob = encode(record, row, where)
        canonical = canonical_hash(record)
        distinct.add(canonical)
        digest = xxhash.xxh3_128_digest(blob)
        copies = live.get(digest)
        if copies:
            kept.append(copies.pop())
            continue
        key = canonical.hex()
        writer.batch.append(
            (
                writer.next_id,
                key,
                bytearray(digest),
                blob.decode(),
                writer.next_position,
                writer.version,
            )
        )
        result.new_rows.append((row, key, _kept(record, len(blob), result), len(kept)))
        writer.advance(1)
        writer.batch_bytes += len(blob)
        if len(writer.batch) >= BATCH_ROWS or writer.batch_bytes >= BATCH_BYTES:
            writer.flush()
    result.record_count = row + 1
    result.unique_records = len(distinct)
