"""An incremental import: records are upserts by the diff key, deletions are explicit, and
every record the import does not mention stays as it was.

It costs what it changes: each chunk of upserted keys, and the deleted keys, are looked up
with one indexed query (the live rows' key index), never by scanning the source. A record
equal to its live row is no change; a changed one is written as a new row in the old one's
place; a new key goes after the last row. A key upserted twice in one import takes its last
record, as applying the upserts in order would (a change feed or an append-only export
repeats a record it changed twice), in the place of its first. What this hands back (the
changes and the ended rows) is what a snapshot import's scan and placement hand back, so the
diff, schema, quality and publication that follow are the same code for both modes.

Records stream through in chunks, as a snapshot's do: memory holds one chunk, each upserted
key once, and the records that changed (the diff needs them), never every record and its
JSON. A key that comes again in a later chunk, after its row was written, has that row
replaced, or removed when the key came back to its live record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson
import xxhash

from manifold_pipelines.errors import RecordsError
from manifold_pipelines.versions.matching import Changes
from manifold_pipelines.versions.ordering import POSITION_GAP
from manifold_pipelines.versions.record_batches import BATCH_BYTES, BATCH_ROWS
from manifold_pipelines.versions.records import (
    KeySpec,
    bad_key_error,
    encode,
    key_function,
    key_of_value,
)
from manifold_pipelines.versions.scan import (
    FIRST_IMPORT_DETAIL_BYTES,
    FIRST_IMPORT_DETAILS,
    Record,
)
from manifold_pipelines.versions.schema import Shapes
from manifold_pipelines.versions.store import VersionStore

CHUNK_ROWS = BATCH_ROWS
CHUNK_BYTES = BATCH_BYTES
"""A chunk of upserts is looked up and written when either bound is reached."""

Pending = dict[str, tuple[Any, str, bytes, int]]
"""A chunk: key -> (its last record, that record's JSON, hash and size in bytes), in
first-seen order."""


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
    distinct_keys: int = 0
    added: int = 0
    """Keys the version holds that the one before did not."""
    top_position: int = 0
    """The greatest position the new version's rows have had (rows this import replaced or
    deleted may have been the top): the next new key goes after it."""
    written: list[tuple[int, str, Any]] = field(default_factory=list)
    """(position, key, record) of the rows the import wrote, in position order; on a first
    import only the first FIRST_IMPORT_DETAILS (and FIRST_IMPORT_DETAIL_BYTES of their JSON), as
    a streamed snapshot keeps."""
    shapes: Shapes | None = None
    """On a first import, the records counted by shape (see schema.py)."""


class _Upserts:
    """What an import did with each key so far, as its chunks pass."""

    def __init__(self, store: VersionStore, version: int, first_import: bool) -> None:
        self.store = store
        self.version = version
        self.first_import = first_import
        self.top = store.top_position()
        self.first_id = self.next_id = store.next_row_id()
        self.seen: dict[str, int] = {}
        """key -> id of the row holding its record in the new version: this import's, or
        the live row its upsert equalled."""
        self.written: dict[str, tuple[int, Record]] = {}
        """key -> (position, record) of the rows this import wrote and keeps for the diff."""
        self.ended: dict[str, tuple[int, str, int]] = {}
        """key -> (id, record JSON, position) of the live rows this import replaced."""
        self.shapes: Shapes | None = Counter() if first_import else None
        self.detail_bytes = 0

    def write(self, pending: Pending) -> None:
        """Write one chunk of upserts."""
        seen = self.seen
        fresh = [key for key in pending if key not in seen]
        again = [key for key in pending if key in seen] if len(fresh) < len(pending) else []
        live = self.live(fresh)
        rows = []
        for key in fresh:
            record, text, digest, size = pending[key]
            hit = live.get(key)
            if hit is not None:
                if hit[1] == digest:  # the same record, byte for byte: nothing to write
                    seen[key] = hit[0]
                    continue
                position = hit[2]
                self.ended[key] = (hit[0], hit[3], position)
            else:
                self.top += POSITION_GAP
                position = self.top
            rows.append(self._row(key, record, text, digest, size, position))
        if again:
            rows += self._rewrite(again, pending)
        self._insert(rows)

    def live(self, keys: list[str]) -> dict[str, tuple[int, bytes, int, str]]:
        """The live rows of `keys`, looked up in key order: each descent of the key index
        then starts where the last one ended, in pages already read (65 -> 46 ms for 11,000
        keys of a million)."""
        if self.first_import or not keys:
            return {}
        return self.store.live_rows_by_key(sorted(keys), self.first_id)

    def _row(
        self, key: str, record: Record, text: str, digest: bytes, size: int, position: int
    ) -> tuple[Any, ...]:
        """The new row of `key` (without its id), its record kept for the diff."""
        self._keep(key, position, record, size)
        return (key, bytearray(digest), text, position, self.version)

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Number the rows and write them. Ids go in key order, so the key index takes its
        new entries in its own order too; a first import builds that index afterwards."""
        if not self.first_import:
            rows.sort(key=itemgetter(0))
        first, self.next_id = self.next_id, self.next_id + len(rows)
        self.seen.update(zip(map(itemgetter(0), rows), range(first, self.next_id), strict=True))
        self.store.insert_rows([(row_id, *row) for row_id, row in enumerate(rows, first)])

    def _keep(self, key: str, position: int, record: Record, size: int) -> None:
        """Keep the record for the diff; a first import counts it by shape, and keeps only
        the first records for its details (a key it kept keeps its newest record)."""
        if self.shapes is not None:
            self.shapes[(tuple(record), tuple(map(type, record.values())))] += 1
            if key not in self.written:
                if (
                    len(self.written) >= FIRST_IMPORT_DETAILS
                    or self.detail_bytes >= FIRST_IMPORT_DETAIL_BYTES
                ):
                    return
                self.detail_bytes += size
        self.written[key] = (position, record)

    def _rewrite(self, keys: list[str], pending: Pending) -> list[Any]:
        """Keys an earlier chunk placed already: a row this import wrote gives way to the
        newer record, or goes when the key came back to its live record; a key that
        equalled its live row and now differs replaces it after all."""
        ours = [self.seen[key] for key in keys if self.seen[key] >= self.first_id]
        mine = {row[1]: row for row in self.store.load_rows(ours)}
        live = self.live(keys)
        rows, dropped = [], []
        for key in keys:
            record, text, digest, size = pending[key]
            own, hit = mine.get(key), live.get(key)
            if own is not None and bytes(own[2]) == digest:
                continue
            if own is not None:
                dropped.append(own[0])
                self._forget(key, own[3])
            if hit is not None and hit[1] == digest:  # back to the record it had
                self.seen[key] = hit[0]
                self.ended.pop(key, None)
                self.written.pop(key, None)
                continue
            if own is not None:
                position = own[4]
            else:  # it equalled its live row, which stays live until the import ends
                assert hit is not None
                self.ended[key] = (hit[0], hit[3], hit[2])
                position = hit[2]
            rows.append(self._row(key, record, text, digest, size, position))
        self.store.delete_rows(dropped)
        return rows

    def _forget(self, key: str, text: str) -> None:
        """Uncount the record a row of this import held, before another takes its place."""
        if self.shapes is not None:
            kept = self.written.get(key)
            record = kept[1] if kept is not None else orjson.loads(text)
            shape = (tuple(record), tuple(map(type, record.values())))
            self.shapes[shape] -= 1
            if not self.shapes[shape]:
                # Gone: a shape no record of the version has is not checked as one (a value
                # JSON cannot type, orjson's UUID, is refused only if a record keeps it).
                del self.shapes[shape]


def apply_incremental(
    store: VersionStore,
    records: Iterable[Any],
    deleted: Iterable[Any],
    spec: KeySpec,
    version: int,
    *,
    first_import: bool,
) -> IncrementalResult:
    """Write the new rows and end the replaced and deleted ones, in the caller's transaction.
    A `first_import` has no live rows to look up."""
    where = store.label
    key_of = key_function(spec)
    state = _Upserts(store, version, first_import)
    seen = state.seen
    missing: list[int] = []
    pending: Pending = {}
    digest_of = xxhash.xxh3_128_digest
    size = repeated = 0
    row = -1
    for row, record in enumerate(records):
        blob = encode(record, row, where)
        key = key_of(record)
        if key is None:
            missing.append(row)
            continue
        if key in pending or key in seen:
            repeated += 1
        # The last record, in the place of the first. Its JSON is kept as text: orjson leaves
        # each result in a buffer of at least 4 KB, so a chunk of small records held as bytes
        # took 4 GB a million.
        pending[key] = (record, blob.decode(), digest_of(blob), len(blob))
        size += len(blob)
        if len(pending) >= CHUNK_ROWS or size >= CHUNK_BYTES:
            if not missing:  # the import fails: read on only to name the rows
                state.write(pending)
            pending, size = {}, 0
    if missing:
        raise bad_key_error(spec, where, missing, [])
    state.write(pending)
    result = IncrementalResult(
        changes=Changes(added=[], changed=[]),
        ended=[],
        upserts=row + 1,
        repeated=repeated,
        distinct_keys=len(seen),
        top_position=state.top,
        shapes=state.shapes,
    )
    found = _deleted_rows(store, deleted, spec, state, result)
    ended = [(row_id, key, text, position) for key, (row_id, text, position) in state.ended.items()]
    ended += found
    store.end_rows([row_id for row_id, *_ in ended], version - 1)
    ended.sort(key=itemgetter(3))
    loads = orjson.loads
    result.ended = [(row_id, key, loads(text), position) for row_id, key, text, position in ended]
    _split_written(state, result)
    return result


def _split_written(state: _Upserts, result: IncrementalResult) -> None:
    """The rows written, as added (a new key) or changed (one that replaced a live row)."""
    written = sorted((position, key, record) for key, (position, record) in state.written.items())
    result.written = written
    if state.first_import:
        result.changes.added = [(key, record) for _, key, record in written]
        result.added = result.distinct_keys
        return
    replaced = state.ended
    added: list[tuple[str, Record]] = []
    changed: list[tuple[str, Record]] = []
    for _, key, record in written:
        (changed if key in replaced else added).append((key, record))
    result.changes = Changes(added=added, changed=changed)
    result.added = len(added)


def _deleted_rows(
    store: VersionStore,
    deleted: Iterable[Any],
    spec: KeySpec,
    state: _Upserts,
    result: IncrementalResult,
) -> list[tuple[int, str, str, int]]:
    """The live rows the import's deletions end; a key both upserted and deleted is refused
    (which of the two was meant cannot be told), and a key named twice is deleted once."""
    keys = list(dict.fromkeys(deletion_key(item, spec, store.label) for item in deleted))
    both = [key for key in keys if key in state.seen]
    if both:
        raise RecordsError(
            f"{store.label}: key {both[0]} is both upserted and deleted by this import"
            f" ({len(both):,} such key{'s' if len(both) > 1 else ''}). Send each key once: as"
            " a record to keep it, or in the deletions to remove it. Nothing was imported."
        )
    found: list[tuple[int, str, str, int]] = []
    for start in range(0, len(keys), CHUNK_ROWS):
        live = state.live(keys[start : start + CHUNK_ROWS])
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
