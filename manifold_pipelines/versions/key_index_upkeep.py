"""Row ids and the key index's two parts (see key_index.py) as an import writes rows: where
the next row id is, where the bound between the parts is, and when to drop, build or fold
them. Written once for both engines, inside the caller's `writing()` transaction."""

from __future__ import annotations

from manifold_pipelines.db.database import Database
from manifold_pipelines.versions.key_index import (
    RECENT_KEY_INDEX,
    fold_due,
    key_index_definitions,
)

ROW_ID_RANGE = "SELECT (SELECT min(id) FROM record_rows), (SELECT max(id) FROM record_rows)"
"""The lowest and highest row ids, in two subqueries: SQLite answers min() or max() from the
primary key only when it is the query's one aggregate, and `SELECT min(id), max(id)` read every
row (0.1 s at a million rows, a twentieth of a v2 import)."""


class KeyIndexUpkeep:
    db: Database

    def next_row_id(self) -> int:
        return int(
            self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM record_rows").fetchone()[0]
        )

    def drop_row_indexes(self, rows: int | None) -> int | None:
        """Inside a first import's transaction: sorting a million rows into an index once they
        are all in costs a quarter less CPU than keeping it in order row by row (2.7 s -> 2.0 s
        of SQLite's time). The import's rollback brings them back.

        When the import knows how many `rows` it writes (a list of records), the recent index
        is made now, at the bound the import ends at, where it stays empty: made afterwards it
        read every row (0.07 s a million). Returns that bound, for build_row_indexes."""
        for name in key_index_definitions(self.key_bound()):
            self.db.execute(f"DROP INDEX {name}")
        if rows is None:
            return None
        bound = self.next_row_id() + rows
        recent = key_index_definitions(bound)[RECENT_KEY_INDEX]
        self.db.execute(f"CREATE INDEX {RECENT_KEY_INDEX} ON {recent}")
        return bound

    def build_row_indexes(self, made_at: int | None) -> None:
        """Every row in the base key index (see key_index.py); the recent index too, unless
        drop_row_indexes made it `made_at` the bound the import ended at."""
        bound = self._move_key_bound()
        if made_at is not None and made_at != bound:
            self.db.execute(f"DROP INDEX {RECENT_KEY_INDEX}")
        for name, target in key_index_definitions(bound).items():
            if name != RECENT_KEY_INDEX or made_at != bound:
                self.db.execute(f"CREATE INDEX {name} ON {target}")

    def fold_recent_keys(self) -> None:
        """Rebuild the base key index over every row once the recent part has grown enough,
        at the end of the import's transaction (see key_index.py)."""
        bound = self.key_bound()
        low, high = self._row_id_range()
        if high < bound or not fold_due(bound - low, high + 1 - bound):
            return
        self.db.rebuild_indexes(key_index_definitions(self._move_key_bound()))

    def _row_id_range(self) -> tuple[int, int]:
        """The lowest and highest row ids (see ROW_ID_RANGE); (0, -1) when there is no row."""
        low, high = self.db.execute(ROW_ID_RANGE).fetchone()
        return (0, -1) if high is None else (int(low), int(high))

    def key_bound(self) -> int:
        """The first row id of the recent key index."""
        return int(self.db.execute("SELECT bound FROM key_index_bound").fetchone()[0])

    def _move_key_bound(self) -> int:
        bound = self.next_row_id()
        self.db.execute("UPDATE key_index_bound SET bound = ?", (bound,))
        return bound
