"""The schema of a data file, as numbered migrations.

The four tables `data_versions`, `schema_versions`, `import_logs` and `quality_metrics` keep
their published names and columns, so anyone can read a file with plain SQL. Records are not
in `data_versions.data` (always NULL): each distinct state of a record is one row of
`record_history`, valid from `first_version` to `last_version` (NULL while it is still
current), so an import writes only what changed. The `latest_records` view and the README
show how to read a version in SQL.

Format 2 changed what two columns mean (a migration's SQL is never edited once released, so
the comments in format 1's CREATE TABLE describe format 1): `key` holds numbers canonically
(1.0 is 1) and, when keyless, the hash of the record's JSON with sorted keys; and a version's
rows sorted by `position` are in the order that version was imported.
"""

from __future__ import annotations

from typing import Any

import orjson

from manifold_pipelines.db.database import Database
from manifold_pipelines.db.migrations import FileFormat, Migration
from manifold_pipelines.versions.key_index import (
    FIRST_VERSION_STATEMENTS,
    create_split_key_indexes,
    split_statements,
)
from manifold_pipelines.versions.records import KeySpec, canonical_hash, key_of_value

DATA_APPLICATION_ID = 0x4D464453  # "MFDS"

_INITIAL = Migration(
    version=1,
    name="row-history data file",
    statements=(
        """CREATE TABLE data_versions (
            id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL UNIQUE,
            -- Always NULL: a version's records are the record_history rows with
            -- first_version <= version AND (last_version IS NULL OR last_version >= version).
            data TEXT,
            schema TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}',
            record_count INTEGER NOT NULL,
            previous_version INTEGER,
            diff_summary TEXT,
            status TEXT NOT NULL CHECK (status IN ('published', 'held')),
            diff_key TEXT NOT NULL,
            field_stats TEXT NOT NULL,
            schema_version INTEGER NOT NULL,
            import_log_id INTEGER,
            created_at TEXT NOT NULL,
            published_at TEXT
        )""",
        "CREATE INDEX data_versions_created_at ON data_versions(created_at)",
        "CREATE INDEX data_versions_status ON data_versions(status, version)",
        """CREATE TABLE record_history (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL,       -- JSON of the diff key value(s), or the content hash
            hash BLOB NOT NULL,      -- xxh3-128 of record
            record TEXT NOT NULL,    -- the record as JSON, fields in import order
            position INTEGER NOT NULL,  -- order in which the key was first imported
            first_version INTEGER NOT NULL,
            last_version INTEGER     -- NULL while the row is part of the newest version
        )""",
        "CREATE INDEX record_history_first_version ON record_history(first_version)",
        # Partial: rows of the newest version (NULL) stay out, so a first import of a million
        # records pays for one index, not two.
        """CREATE INDEX record_history_last_version ON record_history(last_version)
            WHERE last_version IS NOT NULL""",
        """CREATE VIEW latest_records AS
            SELECT record_history.key, record_history.record FROM record_history,
                (SELECT max(version) AS v FROM data_versions WHERE status = 'published') AS latest
            WHERE record_history.first_version <= latest.v
              AND (record_history.last_version IS NULL OR record_history.last_version >= latest.v)
            ORDER BY record_history.position""",
        """CREATE TABLE schema_versions (
            id INTEGER PRIMARY KEY,
            schema_version INTEGER NOT NULL UNIQUE,
            data_version INTEGER NOT NULL,
            schema TEXT NOT NULL,
            schema_hash TEXT NOT NULL,
            changes TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX schema_versions_data_version ON schema_versions(data_version)",
        """CREATE TABLE import_logs (
            id INTEGER PRIMARY KEY,
            version INTEGER,
            status TEXT NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            duration_ms INTEGER,
            records_processed INTEGER,
            error TEXT,
            log TEXT
        )""",
        "CREATE INDEX import_logs_started_at ON import_logs(started_at)",
        "CREATE INDEX import_logs_version ON import_logs(version)",
        """CREATE TABLE quality_metrics (
            id INTEGER PRIMARY KEY,
            version INTEGER NOT NULL REFERENCES data_versions(version) ON DELETE CASCADE,
            metric TEXT NOT NULL,
            field TEXT,
            value REAL,
            direction TEXT NOT NULL CHECK (direction IN ('min', 'max')),
            warn_threshold REAL,
            fail_threshold REAL,
            status TEXT NOT NULL CHECK (status IN ('pass', 'warning', 'fail')),
            blocking INTEGER NOT NULL,
            description TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX quality_metrics_version ON quality_metrics(version)",
        "CREATE INDEX quality_metrics_created_at ON quality_metrics(created_at)",
    ),
)

_ROW_SPECS = (
    "SELECT r.id, r.key, r.{column}, r.first_version, r.last_version FROM record_history r"
    " JOIN data_versions v ON v.version"
    " = max(r.first_version, (SELECT min(version) FROM data_versions))"
    " WHERE (v.diff_key = ?) = ?"
)
"""Rows with the key spec they were written under: a row never outlives its spec (a new diff
key rewrites every row), so its first kept version tells."""


def _canonical_keys(conn: Database) -> None:
    """Keyless keys become canonical content hashes; keys holding a number written as a
    float (1.0) become canonical, except where an old version held both 1 and 1.0."""
    keyless = KeySpec(None).to_json()
    conn.executemany(
        "UPDATE record_history SET key = ? WHERE id = ?",
        [
            (canonical_hash(orjson.loads(record)).hex(), row_id)
            for row_id, _, record, _, _ in conn.execute(
                _ROW_SPECS.format(column="record"), (keyless, True)
            )
        ],
    )
    rewrites: list[tuple[Any, ...]] = []
    for row_id, key, _, first, last in conn.execute(
        _ROW_SPECS.format(column="key") + " AND r.key GLOB '*[.eE]*'", (keyless, False)
    ):
        canonical = key_of_value(orjson.loads(key))
        if canonical is not None and canonical != key:
            rewrites.append((canonical, row_id, first, last))
    if not rewrites:
        return
    spans: dict[str, list[tuple[int, float]]] = {}
    for key, first, last in conn.execute(
        "SELECT key, first_version, last_version FROM record_history"
        " WHERE key IN (SELECT value FROM json_each(?))",
        (orjson.dumps([canonical for canonical, *_ in rewrites]).decode(),),
    ):
        spans.setdefault(key, []).append((first, float("inf") if last is None else last))
    for canonical, row_id, first, last in rewrites:
        end = float("inf") if last is None else last
        taken = spans.setdefault(canonical, [])
        if all(end < start or stop < first for start, stop in taken):
            taken.append((first, end))
            conn.execute("UPDATE record_history SET key = ? WHERE id = ?", (canonical, row_id))


_CANONICAL = Migration(
    version=2,
    name="canonical keys and spaced positions",
    # Room between rows for the new ones an import places among them: POSITION_GAP, as it
    # was when this format was written (a migration never changes once released).
    statements=("UPDATE record_history SET position = position * 65536",),
    upgrade=_canonical_keys,
)

_UNUSED_INDEXES = Migration(
    version=3,
    name="drop two indexes no query uses",
    statements=(
        # Logs are read by id and metrics by version; nothing filters on these timestamps,
        # and every import paid to keep them.
        "DROP INDEX IF EXISTS import_logs_started_at",
        "DROP INDEX IF EXISTS quality_metrics_created_at",
    ),
)

INCREMENTAL_STATEMENTS = (
    """ALTER TABLE data_versions ADD COLUMN mode TEXT NOT NULL DEFAULT 'snapshot'
        CHECK (mode IN ('snapshot', 'incremental'))""",
    # Records an incremental import upserted, and the rows its deletions ended.
    "ALTER TABLE data_versions ADD COLUMN upserts BIGINT",
    "ALTER TABLE data_versions ADD COLUMN deletions BIGINT",
    # The state committed with this version (NULL: the import left it as it was).
    "ALTER TABLE data_versions ADD COLUMN state TEXT",
    # The greatest position of the version's rows, where an incremental import appends new
    # keys without scanning; NULL on versions written before every import kept it (then
    # found once by a scan).
    "ALTER TABLE data_versions ADD COLUMN top_position BIGINT",
    """CREATE TABLE source_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        state TEXT NOT NULL,
        version INTEGER,
        updated_at TEXT NOT NULL
    )""",
    """CREATE INDEX record_history_live_key ON record_history(key)
        WHERE last_version IS NULL""",
)
"""Shared with the PostgreSQL schema's format 2: the statements mean the same in both."""

_INCREMENTAL = Migration(version=4, name="incremental imports", statements=INCREMENTAL_STATEMENTS)


def row_ends_statements(id_type: str) -> tuple[str, ...]:
    """Format 5 (data file) and 3 (PostgreSQL schema): where a row ends moves out of its row.

    Ending a row used to rewrite the wide page that holds its record: 11,000 rows ended at
    random in a source of a million touched 9,000 of its 31,000 pages, 96 MB through the
    write-ahead log for a 1% change. The end is now a row of its own in the narrow
    `record_ends` (18 MB for the same change). `record_history` stays, as a view with the
    same columns, so the published SQL reads as before; the rows are in `record_rows`.
    """
    return (
        f"CREATE TABLE record_ends (id {id_type} PRIMARY KEY, last_version INTEGER NOT NULL)",
        "INSERT INTO record_ends (id, last_version)"
        " SELECT id, last_version FROM record_history WHERE last_version IS NOT NULL",
        "DROP VIEW latest_records",
        "DROP INDEX record_history_last_version",
        "DROP INDEX record_history_live_key",
        "ALTER TABLE record_history DROP COLUMN last_version",
        "ALTER TABLE record_history RENAME TO record_rows",
        # Every state of a key, newest last: an incremental import looks up a key's newest
        # row (the only one that can be live), and a record's history reads them all.
        "CREATE INDEX record_rows_key ON record_rows(key, id)",
        "CREATE INDEX record_ends_last_version ON record_ends(last_version)",
        """CREATE VIEW record_history AS
            SELECT r.id, r.key, r.hash, r.record, r.position, r.first_version, e.last_version
            FROM record_rows r LEFT JOIN record_ends e ON e.id = r.id""",
        """CREATE VIEW latest_records AS
            SELECT record_history.key, record_history.record FROM record_history,
                (SELECT max(version) AS v FROM data_versions WHERE status = 'published') AS latest
            WHERE record_history.first_version <= latest.v
              AND (record_history.last_version IS NULL OR record_history.last_version >= latest.v)
            ORDER BY record_history.position""",
    )


_ROW_ENDS = Migration(
    version=5, name="row ends in their own table", statements=row_ends_statements("INTEGER")
)

_KEY_INDEX_SPLIT = Migration(
    version=6,
    name="the key index split at a row id (versions/key_index.py)",
    statements=split_statements("INTEGER"),
    upgrade=create_split_key_indexes,
)

_FIRST_VERSION_PARTIAL = Migration(
    version=7,
    name="the first version's rows out of the first_version index (versions/key_index.py)",
    statements=FIRST_VERSION_STATEMENTS,
)

DATA_FORMAT = FileFormat(
    application_id=DATA_APPLICATION_ID,
    label="data file",
    migrations=(
        _INITIAL,
        _CANONICAL,
        _UNUSED_INDEXES,
        _INCREMENTAL,
        _ROW_ENDS,
        _KEY_INDEX_SPLIT,
        _FIRST_VERSION_PARTIAL,
    ),
)
