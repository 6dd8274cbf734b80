"""One pass over an import's records: encode, hash, compare with the live rows, write.

This is the hot loop of every import, so it is written flat. Against a previous version the
records are matched by content hash first: a record whose hash is a live row's is unchanged
(its key is part of its content), so keys are only computed for the few that are not. New
rows are written in batches as they are found, inside the import's transaction; memory holds
the previous version's hashes and the records that changed, never an encoded copy of all.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import xxhash

from manifold_pipelines.versions.records import (
    KeySpec,
    check_encoded,
    copy_key,
    dumps_record,
    encode,
    key_function,
    not_an_object,
    not_json,
)

BATCH_ROWS = 10_000
FIRST_IMPORT_DETAILS = 10_000
"""A streamed first import keeps at most this many records for its diff details (the counts
stay exact): holding every record of a million-record stream would cost gigabytes."""
Record = dict[str, Any]

_INSERT = (
    "INSERT INTO record_history (id, key, hash, record, position, first_version)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


NewRow = tuple[int, str, int, Record]
"""(input row, key, row id, record) of a record written as a new row; whether it replaced a
live row with the same key is decided once the scan is over. A tuple: one per record."""


@dataclass
class ScanResult:
    record_count: int = 0
    new_rows: list[NewRow] = field(default_factory=list)
    ended_ids: list[int] = field(default_factory=list)
    unique_records: int = 0
    missing_keys: list[int] = field(default_factory=list)
    duplicate_keys: list[int] = field(default_factory=list)
    shapes: Counter[tuple[tuple[str, ...], tuple[type, ...]]] | None = None
    """On a first import, the new records counted by shape as they pass (see schema.py)."""


class _RowWriter:
    """Assigns row ids and positions and writes rows in batches with executemany. The scan
    loops append to `batch` inline: a method call per record costs more than the insert."""

    def __init__(self, conn: sqlite3.Connection, version: int) -> None:
        self.conn = conn
        self.version = version
        self.next_id, self.next_position = conn.execute(
            "SELECT coalesce(max(id), 0) + 1, coalesce(max(position), -1) + 1 FROM record_history"
        ).fetchone()
        self.batch: list[tuple[Any, ...]] = []

    def flush(self) -> None:
        self.conn.executemany(_INSERT, self.batch)
        self.batch.clear()

    def advance(self, written: int) -> None:
        """Account for rows the loop appended to `batch` with ids and positions from here."""
        self.next_id += written
        self.next_position += written


def scan_records(
    conn: sqlite3.Connection,
    records: Iterable[Any],
    spec: KeySpec,
    live: dict[Any, int | None] | None,
    *,
    version: int,
    where: str,
    first_import: bool = False,
) -> ScanResult:
    """Write every record that is not already a live row, and report the live rows no record
    matched (`ended_ids`: removed, or replaced by a new row with the same key).

    `live` maps hash -> row id (keyed) or key -> row id (keyless) for the previous version,
    or is None when there is nothing to compare with. Key problems are collected, not
    raised, so that the error can name the first offending rows. On a `first_import`,
    records are counted by shape as they pass and only the first FIRST_IMPORT_DETAILS are
    kept, so a streamed source is never held in memory whole.
    """
    result = ScanResult(shapes=Counter() if first_import else None)
    writer = _RowWriter(conn, version)
    if spec.keyless:
        _scan_keyless(records, live or {}, writer, result, where)
    else:
        _scan_keyed(records, spec, live or {}, writer, result, where)
    writer.flush()
    if live:
        result.ended_ids = [row_id for row_id in live.values() if row_id is not None]
    return result


def _kept(record: Record, result: ScanResult) -> Record | None:
    """The record, or None once a first import has kept enough for its details."""
    shapes = result.shapes
    if shapes is None:
        return record
    shapes[(tuple(record), tuple(map(type, record.values())))] += 1
    return record if len(result.new_rows) < FIRST_IMPORT_DETAILS else None


def _scan_keyed(
    records: Iterable[Any],
    spec: KeySpec,
    live: dict[Any, int | None],
    writer: _RowWriter,
    result: ScanResult,
    where: str,
) -> None:
    """A record whose hash is live is unchanged; the rest are written as new rows. Repeated
    keys among those are found afterwards, when each new row is matched by key."""
    key_of, digest_of, dumps = key_function(spec), xxhash.xxh3_128_digest, dumps_record
    absent = object()
    new_rows, batch, flush = result.new_rows, writer.batch, writer.flush
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
        if b"null" in blob or len(blob) > 65536:
            check_encoded(record, blob, row, where)
        digest = digest_of(blob)
        entry = live.get(digest, absent)
        if entry is absent:
            key = key_of(record)
            if key is None:
                result.missing_keys.append(row)
                continue
            batch.append((row_id, key, digest, blob.decode(), position, version))
            new_rows.append((row, key, row_id, _kept(record, result)))
            row_id += 1
            position += 1
            if len(batch) >= BATCH_ROWS:
                flush()
        elif entry is None:
            result.duplicate_keys.append(row)  # the same record twice: its key repeats
        else:
            live[digest] = None
    writer.advance(row_id - first_id)
    result.record_count = row + 1
    result.unique_records = result.record_count


def _scan_keyless(
    records: Iterable[Any],
    live: dict[Any, int | None],
    writer: _RowWriter,
    result: ScanResult,
    where: str,
) -> None:
    """Keys are content hashes numbered per copy, so a key match is an unchanged record."""
    copies: dict[bytes, int] = {}
    row = -1
    for row, record in enumerate(records):
        blob = encode(record, row, where)
        digest = xxhash.xxh3_128_digest(blob)
        key = copy_key(copies, digest)
        if key in live:
            live[key] = None
            continue
        writer.batch.append(
            (writer.next_id, key, digest, blob.decode(), writer.next_position, writer.version)
        )
        result.new_rows.append((row, key, writer.next_id, _kept(record, result)))
        writer.advance(1)
        if len(writer.batch) >= BATCH_ROWS:
            writer.flush()
    result.record_count = row + 1
    result.unique_records = len(copies)
