"""An incremental import: records are upserts by the diff key, deletions are explicit, and
every record the import does not mention stays as it was.

It costs what it changes: each batch of upserted keys, and the deleted keys, are looked up
with one indexed query (the live rows' key index), never by scanning the source. A record
equal to its live row is no change; a changed one is written as a new row in the old one's
place; a new key goes after the last row. A key upserted twice in one import takes its last
record, as applying the upserts in order would (a change feed or an append-only export
repeats a record it changed twice), in the place of its first. What this hands back (the
changes and the ended rows) is what a snapshot import's scan and placement hand back, so the
diff, schema, quality and publication that follow are the same code for both modes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Any

import orjson
import xxhash

from manifold_pipelines.errors import RecordsError
from manifold_pipelines.versions.matching import Changes
from manifold_pipelines.versions.ordering import POSITION_GAP
from manifold_pipelines.versions.records import (
    KeySpec,
    bad_key_error,
    encode,
    key_function,
    key_of_value,
)
from manifold_pipelines.versions.store import VersionStore

BATCH = 10_000


@dataclass
class IncrementalResult:
    changes: Changes
    ended: list[tuple[Any, ...]]
    """(id, key, record, position) of the rows the import replaced or deleted."""
    upserts: int = 0
    deletions: int = 0
    absent_deletions: int = 0
    """Deletions of keys the source did not hold: not an error (change feeds repeat
    themselves), but counted in the import log."""
    repeated: int = 0
    """Records whose key an earlier record of the same import had: the last one counts."""
    top_position: int = 0
    """The greatest position of the new version's rows, where the next one appends."""
    upserted_keys: set[str] = field(default_factory=set)
    written: list[tuple[int, str, Any]] = field(default_factory=list)
    """(position, key, record) of every row the import wrote."""


def apply_incremental(
    store: VersionStore,
    records: Iterable[Any],
    deleted: Iterable[Any],
    spec: KeySpec,
    version: int,
) -> IncrementalResult:
    """Write the new rows and end the replaced and deleted ones, in the caller's transaction."""
    where = store.label
    result = IncrementalResult(changes=Changes(added=[], changed=[]), ended=[])
    key_of = key_function(spec)
    top = store.top_position()
    first_id = next_id = store.next_row_id()
    ended: list[tuple[int, str, str, int]] = []
    missing: list[int] = []
    upserts: dict[str, tuple[Any, bytes]] = {}
    row = -1
    for row, record in enumerate(records):
        blob = encode(record, row, where)
        key = key_of(record)
        if key is None:
            missing.append(row)
            continue
        if key in upserts:
            result.repeated += 1
        upserts[key] = (record, blob)
    result.upserts = row + 1
    if missing:
        raise bad_key_error(spec, where, missing, [])
    result.upserted_keys = set(upserts)
    pending = iter(upserts.items())
    while batch := list(islice(pending, BATCH)):
        live = store.live_rows_by_key([key for key, _ in batch], first_id)
        rows = []
        for key, (record, blob) in batch:
            digest = xxhash.xxh3_128_digest(blob)
            hit = live.get(key)
            if hit is not None and hit[1] == digest:
                continue  # the same record, byte for byte: nothing to write
            if hit is not None:
                position = hit[2]
                ended.append((hit[0], key, hit[3], position))
                result.changes.changed.append((key, record))
            else:
                top += POSITION_GAP
                position = top
                result.changes.added.append((key, record))
            rows.append((next_id, key, bytearray(digest), blob.decode(), position, version))
            result.written.append((position, key, record))
            next_id += 1
        store.insert_rows(rows)
    result.top_position = top
    ended += _deleted_rows(store, deleted, spec, first_id, result)
    store.end_rows([row_id for row_id, *_ in ended], version - 1)
    ended.sort(key=itemgetter(3))
    loads = orjson.loads
    result.ended = [(row_id, key, loads(text), position) for row_id, key, text, position in ended]
    return result


def _deleted_rows(
    store: VersionStore,
    deleted: Iterable[Any],
    spec: KeySpec,
    first_id: int,
    result: IncrementalResult,
) -> list[tuple[int, str, str, int]]:
    """The live rows the import's deletions end; a key both upserted and deleted is refused
    (which of the two was meant cannot be told), and a key named twice is deleted once."""
    keys = list(dict.fromkeys(deletion_key(item, spec, store.label) for item in deleted))
    both = [key for key in keys if key in result.upserted_keys]
    if both:
        raise RecordsError(
            f"{store.label}: key {both[0]} is both upserted and deleted by this import"
            f" ({len(both):,} such key{'s' if len(both) > 1 else ''}). Send each key once: as"
            " a record to keep it, or in the deletions to remove it. Nothing was imported."
        )
    found: list[tuple[int, str, str, int]] = []
    for start in range(0, len(keys), BATCH):
        live = store.live_rows_by_key(keys[start : start + BATCH], first_id)
        found += [
            (row_id, key, text, position) for key, (row_id, _, position, text) in live.items()
        ]
    result.deletions = len(found)
    result.absent_deletions = len(keys) - len(found)
    return found


def deletion_key(item: Any, spec: KeySpec, where: str) -> str:
    """The key text of one deletion: a key value (a single-field key), or an object holding
    the key fields (any key)."""
    fields = spec.fields or ()
    key: str | None = None
    try:
        if isinstance(item, dict):
            key = key_function(spec)(item)
        elif len(fields) == 1 and not isinstance(item, list):
            key = key_of_value(item)
    except (TypeError, orjson.JSONEncodeError):  # a lone surrogate: no JSON text holds it
        key = None
    if key is None:
        raise RecordsError(
            f"{where}: cannot delete {ascii(item)[:200]}: a deletion is a value of the key"
            f" {spec.describe()}, or an object holding its field{'s' if len(fields) > 1 else ''}"
            f" ({', '.join(fields)}), each a string or a number. Nothing was imported."
        )
    return key
