"""The SQL an import, retention and a record's history run against a source's store.

Written once for both engines (see db/database.py): the scan, key matching, placement and
the writer above decide what to write; these statements only carry it out. Every write here
runs inside the caller's `writing()` transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from manifold_pipelines.db.database import Rows
from manifold_pipelines.errors import without_nul
from manifold_pipelines.quality.models import QualityMetric
from manifold_pipelines.timestamps import now_text
from manifold_pipelines.versions.key_index import key_conditions
from manifold_pipelines.versions.key_index_upkeep import KeyIndexUpkeep

LIVE_SLICE_IDS = 1 << 22
"""Row ids read per aggregate query of the live rows: 4 million rows' hashes are 64 MB."""
ROW_COLUMNS = ("id", "key", "hash", "record", "position", "first_version")
"""A record row as the scan writes it: (id, key, hash, record JSON, position, first version)."""


class VersionWrites(KeyIndexUpkeep):
    label: str

    @property
    def _not_ended(self) -> str:
        """A row `r` of `record_rows` that no version ended: part of the newest version."""
        return self.db.not_an_id_of("r.id", "record_ends")

    # Record rows

    def insert_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows in ROW_COLUMNS order, in one bulk statement."""
        if rows:
            self.db.insert_rows("record_rows", ROW_COLUMNS, rows)

    def insert_row_columns(self, values: Sequence[Sequence[Any]]) -> None:
        """Rows given a column at a time, in ROW_COLUMNS order (see Database.insert_columns)."""
        if values[0]:
            self.db.insert_columns("record_rows", ROW_COLUMNS, values)

    def delete_rows(self, row_ids: Sequence[int]) -> None:
        """Rows the import wrote itself and a later record of the same key superseded."""
        if row_ids:
            self.db.execute(
                f"DELETE FROM record_rows WHERE {self.db.in_list('id', 'int')}",  # noqa: S608 (the engine's own list condition)
                (self.db.list_param(row_ids),),
            )

    def holds_no_rows(self) -> bool:
        return self.db.execute("SELECT 1 FROM record_rows LIMIT 1").fetchone() is None

    def live_rows(self) -> Rows:
        """(hash, id, position) of every row of the newest version."""
        live = f"SELECT hash, id, position FROM record_rows r WHERE {self._not_ended}"  # noqa: S608 (the engine's own clause)
        return self.db.execute(live)

    def live_rows_concatenated(self, *, with_ended: bool = True) -> tuple[bytes, str, str, str]:
        """The rows of the newest version, with ended rows among them when `with_ended`: their
        hashes end to end, then their ids and positions as comma-separated text (see
        live_index.py), and last the ids of the ended rows read, which LiveRows leaves out.
        Testing each row against `record_ends` cost SQLite 0.1 s a million rows, and leaving
        the few ended ones out of arrays a tenth of that; where ended rows are over half the
        ids (a long history of changes), reading them costs more than the test, and the query
        leaves them out. One aggregate row for each LIVE_SLICE_IDS ids: both engines cap a
        value at 1 GB, which the hashes of 67 million rows would reach."""
        hashes, ids, positions = self.db.concatenated("hash", ("id", "position"))
        low, high = self._row_id_range()
        half = (high - low + 1) // 2
        ended = self.db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM record_ends LIMIT ?) AS e", (half + 1,)
        ).fetchone()[0]
        live = "" if with_ended and ended <= half else f" AND {self._not_ended}"
        parts: list[tuple[Any, ...]] = []
        for start in range(low, high + 1, LIVE_SLICE_IDS):
            within = (start, start + LIVE_SLICE_IDS)
            rows = self.db.execute(
                f"SELECT {hashes}, {ids}, {positions} FROM record_rows r"  # noqa: S608 (the engine's own clauses)
                f" WHERE r.id >= ? AND r.id < ?{live}",
                within,
            ).fetchone()
            if rows[0] is not None:
                not_live = (
                    ""
                    if live
                    else self.db.execute(
                        f"SELECT {ids} FROM record_ends r WHERE r.id >= ? AND r.id < ?",  # noqa: S608 (the engine's own clause)
                        within,
                    ).fetchone()[0]
                )
                parts.append((*rows, not_live or ""))
        return (
            b"".join(bytes(part[0]) for part in parts),
            ",".join(part[1] for part in parts),
            ",".join(part[2] for part in parts),
            ",".join(part[3] for part in parts if part[3]),
        )

    def load_rows(self, row_ids: Sequence[int]) -> list[tuple[Any, ...]]:
        """(id, key, hash, record JSON, position) of the given rows, in position order."""
        if not row_ids:
            return []
        rows = self.db.execute(
            "SELECT id, key, hash, record, position FROM record_rows"  # noqa: S608 (the engine's own list condition)
            f" WHERE {self.db.in_list('id', 'int')} ORDER BY position",
            (self.db.list_param(row_ids),),
        )
        return [tuple(row) for row in rows]

    def live_ids_before(self, version: int) -> list[int]:
        """Rows of the newest version written before `version`: all of them, when the diff
        key changed and nothing was matched against them."""
        rows = self.db.execute(
            f"SELECT id FROM record_rows r WHERE {self._not_ended} AND first_version < ?",  # noqa: S608 (the engine's own clause)
            (version,),
        )
        return [row[0] for row in rows]

    def live_keys_before(self, keys: Sequence[str], first_new_id: int) -> set[str]:
        """Which of `keys` a live row written before the import's first row holds."""
        return {key for key, *_ in self._live_rows_before(keys, first_new_id)}

    def live_rows_by_key(
        self, keys: Sequence[str], first_new_id: int
    ) -> dict[str, tuple[int, bytes, int, str]]:
        """key -> (id, hash, position, record JSON) of the live rows written before the
        import's first row (id `first_new_id`) holding one of `keys`. The record comes with
        the lookup, which has the row's page in hand: read again once the row is ended, it
        cost a second random page read per changed record."""
        return {
            key: (row_id, bytes(digest), position, record)
            for key, row_id, digest, position, record in self._live_rows_before(keys, first_new_id)
        }

    def _live_rows_before(self, keys: Sequence[str], first_new_id: int) -> list[tuple[Any, ...]]:
        """(key, id, hash, position, record) of the live rows holding `keys` with an id below
        `first_new_id`: one index descent per key. Of those rows a key has at most one, and
        it is the newest (a row for a key is only written once the one before it ended), so
        only that row is looked at, however many states the key went through.

        The import's own rows have the greatest ids, so a bound on the id keeps the descent
        in the (key, id) index, where a condition on first_version would read each row. The
        caller knows that bound: asking the database for the first id with this version's
        first_version took one engine or the other down the primary key, through every row
        (60 ms on SQLite, 230 ms on PostgreSQL at a million rows)."""
        if not keys:
            return []
        bound = self.key_bound()
        recent, base = key_conditions(bound)
        parts = [f"{base} AND id < :below"]
        if bound < first_new_id:  # else none of the rows before the import is in the recent part
            parts.insert(0, f"{recent} AND id < :below")
        newest = self.db.newest_per_value("text", "record_rows", "key", parts)
        rows = self.db.execute(
            f"SELECT r.key, r.id, r.hash, r.position, r.record FROM {newest}"  # noqa: S608 (the engine's own clauses)
            f" WHERE {self._not_ended}",
            {"values": self.db.list_param(keys), "below": first_new_id},
        )
        return [tuple(row) for row in rows]

    def top_position(self) -> int:
        """The greatest position of the newest version's rows (0 when it has none), or more:
        kept on each version; a version written before it was kept is scanned once."""
        row = self.db.execute(
            "SELECT top_position FROM data_versions ORDER BY version DESC LIMIT 1"
        ).fetchone()
        if row is not None and row[0] is not None:
            return int(row[0])
        top = f"SELECT max(position) FROM record_rows r WHERE {self._not_ended}"  # noqa: S608 (the engine's own clause)
        row = self.db.execute(top).fetchone()
        return int(row[0]) if row[0] is not None else 0

    def end_rows(self, row_ids: Sequence[int], last_version: int) -> None:
        """The rows' last version is `last_version`: appended to the narrow `record_ends`,
        in id order, so the pages of the records themselves are not rewritten."""
        if row_ids:
            self.db.insert_rows(
                "record_ends",
                ("id", "last_version"),
                [(row_id, last_version) for row_id in sorted(row_ids)],
            )

    def set_positions(self, pairs: Sequence[tuple[int, int]]) -> None:
        """(position, id) of new rows, once the whole import's order is known."""
        if pairs:
            self.db.update_by_id("record_rows", "position", pairs)

    # Versions

    def prior_version_row(self, *, published_only: bool) -> tuple[Any, ...] | None:
        """(version, record count, diff key, field stats, schema version, schema) of the
        newest version, or the newest published one."""
        row = self.db.execute(
            "SELECT v.version, v.record_count, v.diff_key, v.field_stats, v.schema_version,"
            " s.schema FROM data_versions v"
            " JOIN schema_versions s ON s.schema_version = v.schema_version"
            " WHERE ? = 0 OR v.status = 'published' ORDER BY v.version DESC LIMIT 1",
            (int(published_only),),
        ).fetchone()
        return None if row is None else tuple(row)

    def schema_hash(self, schema_version: int) -> str | None:
        row = self.db.execute(
            "SELECT schema_hash FROM schema_versions WHERE schema_version = ?", (schema_version,)
        ).fetchone()
        return None if row is None else str(row[0])

    def insert_schema(
        self, data_version: int, schema: dict[str, Any], schema_hash: str, changes: dict[str, Any]
    ) -> int:
        """A new schema version, numbered after the last; returns its number."""
        row = self.db.execute("SELECT coalesce(max(schema_version), 0) + 1 FROM schema_versions")
        schema_version = int(row.fetchone()[0])
        self.db.execute(
            "INSERT INTO schema_versions (schema_version, data_version, schema, schema_hash,"
            " changes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                schema_version,
                data_version,
                orjson.dumps(schema).decode(),
                schema_hash,
                orjson.dumps(changes).decode(),
                now_text(),
            ),
        )
        return schema_version

    def insert_version(self, row: dict[str, Any]) -> None:
        """A held version row; `settle_version` decides its publication once checked."""
        self.db.execute(
            "INSERT INTO data_versions (version, schema, metadata, record_count,"
            " previous_version, status, diff_key, field_stats, schema_version, import_log_id,"
            " created_at, mode, upserts, deletions, state, top_position) VALUES (:version,"
            " :schema, :metadata, :record_count, :previous_version, 'held', :diff_key,"
            " :field_stats, :schema_version, :import_log_id, :created_at, :mode, :upserts,"
            " :deletions, :state, :top_position)",
            row,
        )

    def settle_version(
        self, version: int, status: str, published_at: str | None, diff_summary: str | None
    ) -> None:
        self.db.execute(
            "UPDATE data_versions SET status = ?, published_at = ?, diff_summary = ?"
            " WHERE version = ?",
            (status, published_at, diff_summary, version),
        )

    def insert_metrics(self, version: int, metrics: list[QualityMetric], now: str) -> None:
        self.db.executemany(
            "INSERT INTO quality_metrics (version, metric, field, value, direction,"
            " warn_threshold, fail_threshold, status, blocking, description, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    version,
                    m.metric,
                    m.field and without_nul(m.field),  # a field name may hold one
                    m.value,
                    m.direction,
                    m.warn_threshold,
                    m.fail_threshold,
                    m.status,
                    int(m.blocking),
                    without_nul(m.description),
                    now,
                )
                for m in metrics
            ],
        )

    # State

    def committed_state(self) -> dict[str, Any]:
        """The source's state as its last import (or a reset) committed it; {} at first."""
        row = self.db.execute("SELECT state FROM source_state").fetchone()
        state: dict[str, Any] = {} if row is None else orjson.loads(row[0])
        return state

    def save_state(self, state: dict[str, Any], version: int | None) -> None:
        """Inside the caller's transaction: with the version it came with, or alone (a reset)."""
        self.db.execute(
            "INSERT INTO source_state (id, state, version, updated_at) VALUES (1, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET state = excluded.state, version = excluded.version,"
            " updated_at = excluded.updated_at",
            (orjson.dumps(state).decode(), version, now_text()),
        )

    # Import logs

    def start_log(self) -> int:
        row = self.db.execute(
            "INSERT INTO import_logs (status, started_at) VALUES ('pending', ?) RETURNING id",
            (now_text(),),
        ).fetchone()
        return int(row[0])

    def fail_log(self, log_id: int, error: str, duration_ms: int, log: str | None) -> None:
        self.db.execute(
            "UPDATE import_logs SET status = 'failed', finished_at = ?, duration_ms = ?,"
            " error = ?, log = ? WHERE id = ?",
            (now_text(), duration_ms, error, log and without_nul(log), log_id),
        )

    def complete_log(
        self, log_id: int, version: int, at: str, duration_ms: int, records: int, log: str | None
    ) -> None:
        self.db.execute(
            "UPDATE import_logs SET status = 'completed', version = ?, finished_at = ?,"
            " duration_ms = ?, records_processed = ?, log = ? WHERE id = ?",
            (version, at, duration_ms, records, log and without_nul(log), log_id),
        )

    # Retention and history

    def version_numbers(self) -> list[int]:
        return [row[0] for row in self.db.execute("SELECT version FROM data_versions ORDER BY 1")]

    def first_version_since(self, cutoff: str) -> int | None:
        row = self.db.execute(
            "SELECT min(version) FROM data_versions WHERE created_at >= ?", (cutoff,)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def delete_before(self, keep_from: int) -> int:
        """Drop every version older than `keep_from` with the rows only they used, and the
        schemas superseded before it (the one in force at `keep_from` stays); returns the
        number of rows deleted."""
        deleted = self.db.execute(
            "DELETE FROM record_rows WHERE id IN"
            " (SELECT id FROM record_ends WHERE last_version < ?)",
            (keep_from,),
        ).rowcount
        self.db.execute("DELETE FROM record_ends WHERE last_version < ?", (keep_from,))
        self.db.execute("DELETE FROM data_versions WHERE version < ?", (keep_from,))
        self.db.execute(
            "DELETE FROM schema_versions WHERE schema_version < (SELECT max(schema_version)"
            " FROM schema_versions WHERE data_version <= ?)",
            (keep_from,),
        )
        return int(deleted)

    def key_rows(self, key: str) -> list[tuple[int, int | None, str]]:
        """(first version, last version, record JSON) of every state of one key."""
        states = (
            "SELECT r.first_version, e.last_version, r.record FROM record_rows r"
            " LEFT JOIN record_ends e ON e.id = r.id WHERE r.key = ? AND r."
        )
        recent, base = key_conditions(self.key_bound())
        rows = self.db.execute(
            f"{states}{base} UNION ALL {states}{recent} ORDER BY 1",
            (key, key),
        )
        return [tuple(row) for row in rows]

    def version_times(self) -> dict[int, str]:
        return {
            version: created
            for version, created in self.db.execute("SELECT version, created_at FROM data_versions")
        }
