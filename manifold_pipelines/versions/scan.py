"""One pass over an import's records: encode, hash, compare with the live rows, write.

This is the hot loop of every import, so it is written flat. Against a previous version the
records are matched by content hash first: a record whose hash is a live row's is unchanged
(its key is part of its content), so keys are only computed for the few that are not. New
rows are written in batches as they are found, inside the import's transaction; memory holds
the previous version's hashes and the records that changed, never an encoded copy of all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import orjson
import xxhash

from manifold_pipelines.versions.ordering import POSITION_GAP, Placement, position_of, row_id_of
from manifold_pipelines.versions.record_batches import BATCH_BYTES, BATCH_ROWS, read_batches
from manifold_pipelines.versions.records import (
    KeyFunction,
    KeySpec,
    canonical_hash,
    dumps_record,
    encode,
    key_function,
)
from manifold_pipelines.versions.row_writer import RowWriter
from manifold_pipelines.versions.schema import JSON_TYPES, Shapes

FIRST_IMPORT_DETAILS = 10_000
FIRST_IMPORT_DETAIL_BYTES = 32 * 2**20
"""A streamed first import keeps at most this many records, and this much of their JSON, for
its diff details (the counts stay exact): holding every record of a million-record stream
would cost gigabytes."""
Record = dict[str, Any]
T = TypeVar("T")
_JSON_CLASSES = frozenset(JSON_TYPES)

if TYPE_CHECKING:
    from manifold_pipelines.versions.live_index import LiveRows
    from manifold_pipelines.versions.store import VersionStore


NewRow = tuple[int, str, Record | None, int]
"""(input row, key, record, how many kept rows came before it) of a record written as a new
row; whether it replaced a live row with the same key is decided once the scan is over, and
so is its final position. A tuple: one per record, so it holds nothing it need not (the scan
gives new rows consecutive ids: the i-th has `first_id + i`). A first import, where every
record is one, keeps them as columns instead (NewRowColumns)."""


@dataclass
class NewRowColumns:
    """A first import's new rows as three columns, extended a batch at a time by C-level
    calls, each read as it is: a tuple a row cost 0.1 s a million rows, and taking the keys
    (to check they are unique) and the records (for the diff) back out of them 0.2 s more."""

    rows: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    records: list[Record | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[NewRow]:
        return zip(self.rows, self.keys, self.records, repeat(0))


NewRows: TypeAlias = "list[NewRow] | NewRowColumns"

Live: TypeAlias = "LiveRows | dict[bytes, list[int]]"
"""The previous version's rows: as arrays when keyed (see live_index.py), and when keyless
as hash -> copies, each packed (position, id) (see ordering.py)."""


@dataclass
class ScanResult:
    record_count: int = 0
    new_rows: NewRows = field(default_factory=list)
    kept_positions: list[int] = field(default_factory=list)
    """The positions of the live rows the import kept unchanged, in import order."""
    kept_ids: list[int] = field(default_factory=list)
    placement: Placement | None = None
    """Where the new rows go, when the scan could tell at once (see live_index.py); else the
    kept rows' positions and ids are set, for ordering.place_rows."""
    ended_ids: list[int] = field(default_factory=list)
    first_id: int = 1
    """The id of the import's first row: rows below it are earlier versions'."""
    next_id: int = 1
    unique_records: int = 0
    missing_keys: list[int] = field(default_factory=list)
    duplicate_keys: list[int] = field(default_factory=list)
    shapes: Shapes | None = None
    """When every record is a new row (nothing to compare with), the records counted by shape
    as they pass (see schema.py)."""
    capped_details: bool = False
    """A streamed first import keeps only its first records for its diff details."""
    detail_bytes: int = 0
    """JSON size of the records a first import kept for its details."""
    top_position: int = 0
    """The greatest provisional position: no row of the version is above it, unless placement
    moves one there (see placement.py)."""


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
    raised, so that the error can name the first offending rows. With nothing to compare
    with, records are counted by shape as they pass; on the `first_import` of a stream only the
    first FIRST_IMPORT_DETAILS are kept, so a streamed source is never held in memory whole.
    """
    result = ScanResult(
        shapes=Counter() if live is None else None,
        capped_details=first_import and not isinstance(records, (list, tuple)),
    )
    if isinstance(live, dict):
        writer = RowWriter(store, version, _top_position(live))
        result.first_id = writer.next_id
        _scan_keyless(records, live, writer, result, where)
        result.ended_ids = [row_id_of(row) for rows in live.values() for row in rows]
    elif live is None:
        writer = RowWriter(store, version, None)
        result.first_id = writer.next_id
        if spec.keyless:
            _scan_keyless(records, {}, writer, result, where)
        else:
            _scan_new(records, key_function(spec), writer, result, where)
    else:
        writer = RowWriter(store, version, live.top_position())
        result.first_id = writer.next_id
        _scan_against_live(records, key_function(spec), live, writer, result, where)
        result.ended_ids = live.ended_ids()
    writer.flush()
    result.next_id = writer.next_id
    result.top_position = max(0, writer.next_position - POSITION_GAP)
    return result


def _top_position(live: dict[bytes, list[int]]) -> int | None:
    tops = [max(rows) for rows in live.values() if rows]
    return position_of(max(tops)) if tops else None


def _kept(record: Record, size: int, result: ScanResult, index: int) -> Record | None:
    """The `index`-th new record (`size` bytes of JSON), or None once a first import has kept
    enough for its details."""
    if not result.capped_details:
        return record
    if index < FIRST_IMPORT_DETAILS and (result.detail_bytes < FIRST_IMPORT_DETAIL_BYTES):
        result.detail_bytes += size
        return record
    return None


def _count_shape(shapes: Shapes | None, record: Record) -> None:
    if shapes is not None:
        shapes[(tuple(record), tuple(map(type, record.values())))] += 1


def _scan_new(
    records: Iterable[Any],
    key_of: KeyFunction,
    writer: RowWriter,
    result: ScanResult,
    where: str,
) -> None:
    """With no version to compare with, every record is a new row, written a batch at a time
    by C-level calls. Repeated keys among them are found afterwards, when each new row is
    matched by key."""
    start = 0
    new_rows = result.new_rows = NewRowColumns()
    for chunk, digests, texts, sizes, keys in read_batches(records, where, key_of, result.shapes):
        rows: Sequence[int] = range(start, start + len(chunk))
        start += len(chunk)
        if None in keys:
            result.missing_keys.extend(rows[at] for at, key in enumerate(keys) if key is None)
            present = [at for at, key in enumerate(keys) if key is not None]
            chunk, keys, texts = _pick(chunk, present), _pick(keys, present), _pick(texts, present)
            digests, sizes = _pick(digests, present), _pick(sizes, present)
            rows = _pick(list(rows), present)
        writer.write(keys, digests, texts)  # type: ignore[arg-type]
        if result.capped_details:
            done = len(new_rows)
            chunk = [
                _kept(record, size, result, done + offset)
                for offset, (record, size) in enumerate(zip(chunk, sizes, strict=True))
            ]
        new_rows.rows.extend(rows)
        new_rows.keys.extend(keys)  # type: ignore[arg-type]
        new_rows.records.extend(chunk)
        del chunk, digests, texts, sizes, keys  # before the next batch is read, not after
    result.record_count = result.unique_records = start


def _as_read(record: Record, text: str) -> Record:
    """The record as its JSON holds it: a copy its producer can no longer change (a generator
    may reuse one dict, or change a record it yielded). But a record whose top-level values
    JSON would give back as something else (an enum, a UUID) is itself, if it is as it was
    read, so that the field counts refuse it (see schema.json_type). New rows are few."""
    if _JSON_CLASSES.issuperset(map(type, record.values())):  # a C-level test, twice as fast
        return orjson.loads(text)  # type: ignore[no-any-return]
    try:
        unchanged = dumps_record(record).decode() == text
    except (TypeError, orjson.JSONEncodeError):  # changed into something JSON cannot hold
        unchanged = False
    return record if unchanged else orjson.loads(text)


def _pick(items: Sequence[T], at: list[int]) -> list[T]:
    return [items[index] for index in at]


def _scan_against_live(
    records: Iterable[Any],
    key_of: KeyFunction,
    live: LiveRows,
    writer: RowWriter,
    result: ScanResult,
    where: str,
) -> None:
    """Records are hashed a batch at a time and the batch looked up in the live rows at once:
    a record whose hash is live is unchanged (its key is part of its content), the rest are
    written as new rows, as they were read. Repeated keys among new rows are found
    afterwards, when each is matched by key."""
    start = 0
    new_rows: list[NewRow] = []
    result.new_rows = new_rows
    for chunk, digests, texts, sizes, _ in read_batches(records, where):
        batch = live.take(b"".join(digests))
        result.duplicate_keys.extend(start + offset for offset in batch.repeated)
        for offset, kept_before in zip(batch.new, batch.kept_before, strict=True):
            record = _as_read(chunk[offset], texts[offset])
            key = key_of(record)
            if key is None:
                result.missing_keys.append(start + offset)
                continue
            writer.batch.append(
                (
                    writer.next_id,
                    key,
                    bytearray(digests[offset]),
                    texts[offset],
                    writer.next_position,
                    writer.version,
                )
            )
            new_rows.append((start + offset, key, record, kept_before))
            writer.advance(1)
            writer.batch_bytes += sizes[offset]
            if len(writer.batch) >= BATCH_ROWS or writer.batch_bytes >= BATCH_BYTES:
                writer.flush()
        start += len(chunk)
        del chunk, digests, texts, sizes  # before the next batch is read, not after
    result.placement = live.place_in_order([new_row[3] for new_row in new_rows])
    if result.placement is None:
        result.kept_positions, result.kept_ids = live.kept()
    result.record_count = result.unique_records = start


def _scan_keyless(
    records: Iterable[Any],
    live: dict[bytes, list[int]],
    writer: RowWriter,
    result: ScanResult,
    where: str,
) -> None:
    """A record whose exact JSON is live is kept (one live copy each); the key of a new row is
    its canonical hash, so a record whose fields merely come in another order is new as a
    row, to read back as imported, but the same record to the diff."""
    distinct: set[bytes] = set()
    kept_positions, kept_ids = result.kept_positions, result.kept_ids
    new_rows: list[NewRow] = []
    result.new_rows = new_rows
    row = -1
    for row, record in enumerate(records):
        blob = encode(record, row, where)
        _count_shape(result.shapes, record)
        canonical = canonical_hash(record)
        distinct.add(canonical)
        digest = xxhash.xxh3_128_digest(blob)
        copies = live.get(digest)
        if copies:
            packed = copies.pop()
            kept_positions.append(position_of(packed))
            kept_ids.append(row_id_of(packed))
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
        new_rows.append((row, key, _kept(record, len(blob), result, len(new_rows)), len(kept_ids)))
        writer.advance(1)
        writer.batch_bytes += len(blob)
        if len(writer.batch) >= BATCH_ROWS or writer.batch_bytes >= BATCH_BYTES:
            writer.flush()
    result.record_count = row + 1
    result.unique_records = len(distinct)
