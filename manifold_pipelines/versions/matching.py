"""Matching an import's new rows against the previous version by key.

After the scan has written every record that is not already a live row, this decides which
of those rows replaced a row with the same key and which are new, and finds keys that
repeat. Only rows that changed (or moved) are ever looked at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import takewhile
from operator import is_not, itemgetter
from typing import Any

from manifold_pipelines.errors import StorageError
from manifold_pipelines.versions.ordering import pack
from manifold_pipelines.versions.records import KeySpec
from manifold_pipelines.versions.scan import Live, NewRowColumns, NewRows
from manifold_pipelines.versions.store import VersionStore


def live_rows(store: VersionStore, spec: KeySpec) -> Live:
    """The previous version's rows (see scan.Live)."""
    if not spec.keyless:
        # Imported here: numpy takes a tenth of a second to load, which the `manifold`
        # command would pay on every start.
        from manifold_pipelines.versions.live_index import LiveRows

        def read(with_ended: bool) -> LiveRows:
            hashes, ids, positions, ended = store.live_rows_concatenated(with_ended=with_ended)
            return LiveRows(hashes, ids, positions, store.label, ended)

        try:
            return read(with_ended=True)
        except StorageError:
            # An ended row read with the live ones may be the damaged one: only the live rows
            # are compared, and only a damaged one of them stops the import.
            return read(with_ended=False)
    copies: dict[bytes, list[int]] = {}
    for digest, row_id, position in store.live_rows():
        copies.setdefault(digest, []).append(pack(position, row_id))
    for packed in copies.values():
        packed.sort(reverse=True)  # the scan pops the first in version order
    return copies


@dataclass
class Changes:
    """The new rows of an import, split by whether their key was in the previous version:
    (key, record) pairs, each collection read as often as needed."""

    added: Iterable[tuple[str, dict[str, Any]]]
    changed: Iterable[tuple[str, dict[str, Any]]]


class _EveryNewRow:
    """(key, record) of every new row, read from the scan's rows whenever asked: a first
    import of a million records would otherwise copy a million pairs (72 MB) to hand them
    on, at the import's peak of memory."""

    def __init__(self, rows: NewRows) -> None:
        self.rows = rows

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        return zip(_keys(self.rows), self.records(), strict=True)  # type: ignore[arg-type]

    def records(self) -> Iterator[dict[str, Any] | None]:
        rows = self.rows
        if isinstance(rows, NewRowColumns):
            return iter(rows.records)
        return map(itemgetter(2), rows)


def _keys(rows: NewRows) -> Iterator[str]:
    return iter(rows.keys) if isinstance(rows, NewRowColumns) else map(itemgetter(1), rows)


def added_records(added: Iterable[tuple[str, dict[str, Any] | None]]) -> list[dict[str, Any]]:
    """The records of a first import's new rows that it kept for its details, by C-level
    calls: a streamed first import keeps only its first ones, and None for the rest (see
    scan._kept); when it kept them all, the scan's own list of them."""
    records: Iterable[Any]
    if isinstance(added, _EveryNewRow):
        rows = added.rows
        if isinstance(rows, NewRowColumns) and (not rows.records or rows.records[-1] is not None):
            return rows.records  # type: ignore[return-value]
        records = added.records()
    else:
        records = map(itemgetter(1), added)
    return list(takewhile(partial(is_not, None), records))


def match_keys(
    store: VersionStore,
    new_rows: NewRows,
    duplicate_keys: list[int],
    ended: list[tuple[Any, ...]],
    same_keys: bool,
    first_new_id: int,
    keyless: bool,
) -> Changes:
    """Decide for each new row whether it replaced an ended row with the same key or is
    added; record (in `duplicate_keys`) keys that repeat among the new rows or clash with a
    row the import left unchanged. Rows rewritten only to move them come first in `new_rows`
    so that a clash with one is reported at the row of the other record."""
    if keyless:  # keys are content hashes: copies are counted, never refused
        return Changes(added=_EveryNewRow(new_rows), changed=[])
    if not same_keys and len(set(_keys(new_rows))) == len(new_rows):
        return Changes(added=_EveryNewRow(new_rows), changed=[])  # no key repeats: all added
    old_keys = {key for _, key, _, _ in ended} if same_keys else set()
    seen: set[str] = set()
    added: list[tuple[int, str, dict[str, Any]]] = []
    changed: list[tuple[str, dict[str, Any]]] = []
    for row, key, record, _ in new_rows:
        if key in seen:
            duplicate_keys.append(row)
            continue
        seen.add(key)
        if key in old_keys:
            changed.append((key, record))  # type: ignore[arg-type]
        else:
            added.append((row, key, record))  # type: ignore[arg-type]
    if added and same_keys:
        clashes = store.live_keys_before([key for _, key, _ in added], first_new_id)
        duplicate_keys.extend(row for row, key, _ in added if key in clashes)
        duplicate_keys.sort()
    return Changes(added=[(key, record) for _, key, record in added], changed=changed)
