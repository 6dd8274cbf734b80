"""Reading a whole version back: its records, exactly as imported, in the order imported.

What a read cannot avoid is making the records' Python objects (orjson, ~0.7 s and most of
the page faults at a million records); everything else is kept to a few C-level calls: the
engine hands back all positions and parsed records at once (`Database.numbered_json`), and
one sort of row indices by position puts them in order.
"""

from __future__ import annotations

from typing import Any

from manifold_pipelines.db.database import Database

_ROWS_OF_VERSION = (
    "SELECT r.id, r.position, r.record FROM record_rows r LEFT JOIN record_ends e ON e.id = r.id"
    " WHERE r.first_version <= :v AND (e.last_version IS NULL OR e.last_version >= :v)"
)


def read_records(db: Database, version: int) -> list[Any]:
    """The records of `version`, inside the caller's read snapshot."""
    positions, records = db.numbered_json(_ROWS_OF_VERSION, {"v": version})
    # Rows come in id order, which is nearly position order (only rows a later import wrote
    # in between are out of place), so this sort is close to linear.
    order = sorted(range(len(positions)), key=positions.__getitem__)
    return [records[index] for index in order]
