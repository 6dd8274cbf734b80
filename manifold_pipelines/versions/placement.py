"""Applying an import's placement to the file: end the rows it replaced, rewrite the rows it
moved, and give new rows their final positions (see ordering.py for how they are chosen)."""

from __future__ import annotations

from typing import Any

from manifold_pipelines.versions.matching import load_rows
from manifold_pipelines.versions.ordering import Placement, place_rows, row_id_of
from manifold_pipelines.versions.scan import NewRow, ScanResult
from manifold_pipelines.versions.store import VersionStore


def place_version(
    store: VersionStore, scan: ScanResult, version: int, same_keys: bool
) -> tuple[list[NewRow], list[tuple[Any, ...]]]:
    """End the previous version's rows that the import did not keep in place, and return the
    import's new rows (moved rows first) and the ended rows, in position order. When the diff
    key changed, every previous row ends: nothing was matched against them."""
    conn = store.conn
    if same_keys:
        placement = place_rows(scan.kept, [new_row[4] for new_row in scan.new_rows])
        moved_ids = [row_id_of(scan.kept[index]) for index in placement.moved]
        ended_ids = scan.ended_ids + moved_ids
    else:
        placement, moved_ids = Placement(), []
        ended_ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM record_history WHERE last_version IS NULL AND first_version < ?",
                (version,),
            )
        ]
    ended = load_rows(store, ended_ids)
    conn.executemany(
        "UPDATE record_history SET last_version = ? WHERE id = ?",
        [(version - 1, row_id) for row_id in ended_ids],
    )
    moved = _rewrite_moved(store, ended, moved_ids, placement, scan.next_id, version)
    conn.executemany(
        "UPDATE record_history SET position = ? WHERE id = ?",
        [(position, scan.new_rows[index][2]) for index, position in placement.positions.items()],
    )
    return moved + scan.new_rows, ended


def _rewrite_moved(
    store: VersionStore,
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
    by_id = {row_id: (key, record) for row_id, key, record, _ in ended}
    copies: list[NewRow] = []
    inserts = []
    for offset, (row_id, index, position) in enumerate(
        zip(moved_ids, placement.moved, placement.moved_positions, strict=True)
    ):
        key, record = by_id[row_id]
        copies.append((-1, key, next_id + offset, record, index))
        inserts.append((next_id + offset, position, version, row_id))
    store.conn.executemany(
        "INSERT INTO record_history (id, key, hash, record, position, first_version)"
        " SELECT ?, key, hash, record, ?, ? FROM record_history WHERE id = ?",
        inserts,
    )
    return copies
