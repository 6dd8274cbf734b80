"""Matching an import's new rows against the previous version by key.

After the scan has written every record that is not already a live row, this decides which
of those rows replaced a row with the same key (and keeps its position) and which are new,
and finds keys that repeat. Only rows that changed are ever looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from manifold_pipelines.versions.records import KeySpec
from manifold_pipelines.versions.scan import ScanResult
from manifold_pipelines.versions.store import VersionStore


def live_rows(store: VersionStore, spec: KeySpec) -> dict[Any, int | None]:
    """The previous version's rows: hash -> id when keyed (a record whose hash is live is
    unchanged), key -> id when keyless (the key is the hash, numbered per copy)."""
    column = "key" if spec.keyless else "hash"
    return dict(
        store.conn.execute(
            f"SELECT {column}, id FROM record_history WHERE last_version IS NULL"  # noqa: S608
        )
    )


@dataclass
class Changes:
    """The new rows of an import, split by whether their key was in the previous version."""

    added: list[tuple[str, dict[str, Any]]]
    changed: list[tuple[str, dict[str, Any]]]


def load_rows(store: VersionStore, row_ids: list[int]) -> list[tuple[Any, ...]]:
    """(id, key, record, position) of the given rows, in position order."""
    if not row_ids:
        return []
    loads = orjson.loads
    return [
        (row_id, key, loads(record), position)
        for row_id, key, record, position in store.conn.execute(
            "SELECT id, key, record, position FROM record_history"
            " WHERE id IN (SELECT value FROM json_each(?)) ORDER BY position",
            (orjson.dumps(row_ids).decode(),),
        )
    ]


def match_keys(
    store: VersionStore,
    scan: ScanResult,
    ended: list[tuple[Any, ...]],
    same_keys: bool,
    version: int,
    keyless: bool,
) -> Changes:
    """Decide for each new row whether it replaced an ended row with the same key (keeping
    that row's position) or is added; record keys that repeat among the new rows or clash
    with a row the import left unchanged. Only the rows that changed are looked at."""
    old_by_key = {key: position for _, key, _, position in ended} if same_keys else {}
    seen: set[str] = set()
    added: list[tuple[int, str, dict[str, Any]]] = []
    changed: list[tuple[str, dict[str, Any]]] = []
    positions: list[tuple[int, int]] = []
    for row, key, row_id, record in scan.new_rows:
        if key in seen:
            scan.duplicate_keys.append(row)
            continue
        seen.add(key)
        position = old_by_key.get(key)
        if position is None:
            added.append((row, key, record))
        else:
            changed.append((key, record))
            positions.append((position, row_id))
    store.conn.executemany("UPDATE record_history SET position = ? WHERE id = ?", positions)
    if added and same_keys and not keyless:
        clashes = {
            key
            for (key,) in store.conn.execute(
                "SELECT key FROM record_history WHERE last_version IS NULL AND first_version < ?"
                " AND key IN (SELECT value FROM json_each(?))",
                (version, orjson.dumps([key for _, key, _ in added]).decode()),
            )
        }
        scan.duplicate_keys.extend(row for row, key, _ in added if key in clashes)
        scan.duplicate_keys.sort()
    return Changes(added=[(key, record) for _, key, record in added], changed=changed)
