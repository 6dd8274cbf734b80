"""The key index of `record_rows`, in two parts split at a row id, the bound.

An import looks each key up by its newest row, so the key index has an entry per row. With
one index over every row, the rows an import writes land in its leaf pages at random: 10,000
changed records in a source of a million touch every one of its 2,300 leaf pages (and split
most of them, since CREATE INDEX packs them full), so a 1% change wrote the whole index
through the write-ahead log again (2,900 frames of 8 KB; 410 when split), and committing and
checkpointing that was most of what the import cost beyond its own work: 0.27 s -> 0.19 s
on SQLite, 0.33 s -> 0.29 s on PostgreSQL (benchmarks/incremental.py).

So the rows below the bound have the base index and the rows from the bound on a recent
one. Imports write only into the recent index, which stays small; the base is rebuilt only
when the recent part has grown to a quarter of it (`fold_due`), at the end of the import that
got it there, and then the bound moves to the next row id and the recent index starts empty
again. A lookup descends the recent index first, and the base when the key has no newer row.
Both engines have partial indexes; the bound is a literal in each index's and each query's
condition, so that each engine's planner can tell the index applies, and it is kept in
`key_index_bound`.
"""

from __future__ import annotations

from manifold_pipelines.db.database import Database

FOLD_SHARE = 4
"""The base is rebuilt when the recent part holds more rows than a FOLD_SHARE-th of it: the
recent part stays under a fifth of the index, and a rebuild (0.5-0.6 s a million rows) comes
once every 25 imports that change 1% of a source. Folding more often or less often costs
about the same over a cycle (the imports grow dearer as the recent part grows)."""

BASE_KEY_INDEX = "record_rows_key"
RECENT_KEY_INDEX = "record_rows_recent_key"
FIRST_VERSION_INDEX = "record_history_first_version"


def key_conditions(bound: int) -> tuple[str, str]:
    """The conditions on a row's `id` (column `id`) that select the recent index, then the
    base, exactly as the indexes state them."""
    return f"id >= {int(bound)}", f"id < {int(bound)}"


def key_index_definitions(bound: int) -> dict[str, str]:
    """Index name -> what it indexes, for the rows split at `bound`."""
    recent, base = key_conditions(bound)
    return {
        BASE_KEY_INDEX: f"record_rows(key, id) WHERE {base}",
        RECENT_KEY_INDEX: f"record_rows(key, id) WHERE {recent}",
    }


FIRST_VERSION_TARGET = "record_rows(first_version) WHERE first_version > 1"
"""The rows a version added, which a diff reads: never the first version's, since a diff's
older side is at least version 1. Leaving them out, a first import leaves the index empty
instead of sorting a million entries into it (0.19 s of SQLite's CPU), and keeps it as it is
(building it empty afterwards still read every row: 0.09 s)."""


FIRST_VERSION_STATEMENTS = (
    f"DROP INDEX {FIRST_VERSION_INDEX}",
    f"CREATE INDEX {FIRST_VERSION_INDEX} ON {FIRST_VERSION_TARGET}",
)
"""Data file format 7 and PostgreSQL schema format 5: the index of rows by first version
leaves the first version's out."""


def fold_due(base_rows: int, recent_rows: int) -> bool:
    return recent_rows * FOLD_SHARE > base_rows


def split_statements(id_type: str) -> tuple[str, ...]:
    """Data file format 6 and PostgreSQL schema format 4: the one key index becomes the base,
    every row below it; `create_split_key_indexes` builds the two parts."""
    return (
        f"CREATE TABLE key_index_bound (bound {id_type} NOT NULL)",
        "INSERT INTO key_index_bound (bound) SELECT coalesce(max(id), 0) + 1 FROM record_rows",
        f"DROP INDEX {BASE_KEY_INDEX}",
    )


def create_split_key_indexes(db: Database) -> None:
    """The migration's second half: its bound is a value only the data knows."""
    bound = int(db.execute("SELECT bound FROM key_index_bound").fetchone()[0])
    for name, target in key_index_definitions(bound).items():
        db.execute(f"CREATE INDEX {name} ON {target}")
