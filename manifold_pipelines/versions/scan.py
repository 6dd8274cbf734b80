"""One pass over an import's records: encode, hash, key, compare with the live rows, write.

This is the hot loop of every import. New rows are written as they are found, in batches,
inside the import's transaction, so memory holds the previous version's keys and hashes and
the records that changed, never a second copy of the whole import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from manifold_pipelines.versions.records import (
    KeySpec,
    content_hash,
    copy_key,
    encode,
    key_function,
)

BATCH_ROWS = 10_000
Record = dict[str, Any]
LiveRows = dict[str, tuple[int, bytes] | None]
"""Key -> (row id, hash) of the previous version's rows; None once the import matched it."""

_INSERT_NEW = (
    "INSERT INTO record_history (key, hash, record, position, first_version) VALUES (?, ?, ?, ?, ?)"
)
# A modified record keeps the position of the row it replaces, so versions read back in the
# order their keys were first imported.
_INSERT_REPLACEMENT = (
    "INSERT INTO record_history (key, hash, record, position, first_version)"
    " SELECT ?, ?, ?, position, ? FROM record_history WHERE id = ?"
)


@dataclass
class ScanResult:
    record_count: int = 0
    added: list[tuple[str, Record]] = field(default_factory=list)
    changed: list[tuple[str, Record]] = field(default_factory=list)
    replaced_ids: list[int] = field(default_factory=list)
    unique_records: int = 0
    missing_keys: list[int] = field(default_factory=list)
    duplicate_keys: list[int] = field(default_factory=list)


class _Writer:
    """Batches of new and replacement rows, flushed with executemany."""

    def __init__(self, conn: sqlite3.Connection, version: int, next_position: int) -> None:
        self.conn = conn
        self.version = version
        self.next_position = next_position
        self.new_rows: list[tuple[str, bytes, bytes, int, int]] = []
        self.replacements: list[tuple[str, bytes, bytes, int, int]] = []

    def add(self, key: str, digest: bytes, blob: bytes) -> None:
        self.new_rows.append((key, digest, blob, self.next_position, self.version))
        self.next_position += 1
        if len(self.new_rows) >= BATCH_ROWS:
            self.flush()

    def replace(self, key: str, digest: bytes, blob: bytes, old_id: int) -> None:
        self.replacements.append((key, digest, blob, self.version, old_id))
        if len(self.replacements) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.new_rows:
            self.conn.executemany(_INSERT_NEW, self.new_rows)
            self.new_rows.clear()
        if self.replacements:
            self.conn.executemany(_INSERT_REPLACEMENT, self.replacements)
            self.replacements.clear()


def scan_records(
    conn: sqlite3.Connection,
    records: Iterable[Any],
    spec: KeySpec,
    live: LiveRows,
    *,
    version: int,
    next_position: int,
    where: str,
) -> ScanResult:
    """Write the rows `records` adds or changes against `live`, marking matched keys in it.

    Afterwards every entry of `live` still holding a row id is a record that was removed.
    Key problems are collected (not raised) so the error can name the first offending rows.
    """
    writer = _Writer(conn, version, next_position)
    result = ScanResult()
    if spec.keyless:
        _scan_keyless(records, live, writer, result, where)
    else:
        _scan_keyed(records, spec, live, writer, result, where)
    writer.flush()
    return result


def _scan_keyed(
    records: Iterable[Any],
    spec: KeySpec,
    live: LiveRows,
    writer: _Writer,
    result: ScanResult,
    where: str,
) -> None:
    key_of = key_function(spec)
    absent = object()
    new_keys: set[str] = set()
    added, changed, replaced = result.added, result.changed, result.replaced_ids
    row = -1
    for row, record in enumerate(records):
        blob = encode(record, row, where)
        digest = content_hash(blob)
        key = key_of(record)
        if key is None:
            result.missing_keys.append(row)
            continue
        entry = live.get(key, absent)
        if entry is absent:
            if key in new_keys:
                result.duplicate_keys.append(row)
                continue
            new_keys.add(key)
            added.append((key, record))
            writer.add(key, digest, blob)
        elif entry is None:
            result.duplicate_keys.append(row)
        else:
            live[key] = None
            if entry[1] != digest:  # type: ignore[index]
                changed.append((key, record))
                replaced.append(entry[0])  # type: ignore[index]
                writer.replace(key, digest, blob, entry[0])  # type: ignore[index]
    result.record_count = row + 1
    result.unique_records = result.record_count


def _scan_keyless(
    records: Iterable[Any], live: LiveRows, writer: _Writer, result: ScanResult, where: str
) -> None:
    copies: dict[bytes, int] = {}
    row = -1
    for row, record in enumerate(records):
        blob = encode(record, row, where)
        digest = content_hash(blob)
        key = copy_key(copies, digest)
        if key in live:
            live[key] = None
        else:
            result.added.append((key, record))
            writer.add(key, digest, blob)
    result.record_count = row + 1
    result.unique_records = len(copies)
