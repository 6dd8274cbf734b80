"""Applying an import's placement to the store: end the rows it replaced, rewrite the rows it
moved, and give new rows their final positions (see ordering.py for how they are chosen)."""

from __future__ import annotations

from typing import Any

import orjson

from manifold_pipelines.versions.ordering import Placement, place_rows
from manifold_pipelines.versions.scan import NewRow, NewRows, ScanResult
from manifold_pipelines.versions.store import VersionStore


def place_version(
    store: VersionStore, scan: ScanResult, version: int, same_keys: bool
) -> tuple[NewRows, list[tuple[Any, ...]], int]:
    """End the previous version's rows that the import did not keep in place, and return the
    import's new rows (moved rows first), the ended rows as (id, key, record, position), in
    position order, and the greatest position of the version's rows (or above it: an
    incremental import appends after it). When the diff key changed, every previous row
    ends: nothing was matched against them."""
    if same_keys:  # then the scan's new rows are a list of tuples (scan.NewRow)
        placement = scan.placement
        if placement is None:
            placement = place_rows(scan.kept_positions, [row[3] for row in scan.new_rows])
        moved_ids = [scan.kept_ids[index] for index in placement.moved]
        ended_ids = scan.ended_ids + moved_ids
    else:
        placement, moved_ids = Placement(), []
        # With no row before the import's first (a first import), there is nothing to end,
        # and asking would walk every row the import just wrote: 0.1 s at a million.
        ended_ids = store.live_ids_before(version) if scan.first_id > 1 else []
    stored = store.load_rows(ended_ids)
    store.end_rows(ended_ids, version - 1)
    loads = orjson.loads
    ended = [(row_id, key, loads(text), position) for row_id, key, _, text, position in stored]
    moved = _rewrite_moved(store, stored, ended, moved_ids, placement, scan.next_id, version)
    store.set_positions(
        [(position, scan.first_id + index) for index, position in placement.positions.items()]
    )
    top = max([scan.top_position, *placement.positions.values(), *placement.moved_positions])
    return ([*moved, *scan.new_rows] if moved else scan.new_rows), ended, top


def _rewrite_moved(
    store: VersionStore,
    stored: list[tuple[Any, ...]],
    ended: list[tuple[Any, ...]],
    moved_ids: list[int],
    placement: Placement,
    next_id: int,
    version: int,
) -> list[NewRow]:
    """A kept record the import put elsewhere becomes a new row with the same content at its
    new place; the old row stays, in its place, for the versions before."""
    if not moved_ids:
        return []
    raw = {row[0]: row for row in stored}
    records = {row_id: record for row_id, _, record, _ in ended}
    copies: list[NewRow] = []
    inserts = []
    for offset, (row_id, index, position) in enumerate(
        zip(moved_ids, placement.moved, placement.moved_positions, strict=True)
    ):
        _, key, digest, text, _ = raw[row_id]
        copies.append((-1, key, records[row_id], index))
        inserts.append((next_id + offset, key, digest, text, position, version))
    store.insert_rows(inserts)
    return copies
