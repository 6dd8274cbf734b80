"""Copying the catalogue (projects, sources, relationships, users, roles, settings, the audit
log, import history, alerts) into the destination's, ids kept, inside one transaction of the
destination's that the caller holds: a kill leaves the destination as it was, or whole.

A rerun makes the destination's catalogue equal to this one again, row by row by key: rows
added, changed or removed since are added, changed or removed, nothing else is written. That
is safe only when the destination holds an earlier copy of this Manifold that nobody has used
since, and the audit log tells: every change and every read is in it, it is only appended to,
and a copy keeps its ids, so the destination's log must be the start of this one's. Anything
else (another Manifold, or a copy used on its own) is refused before anything is written.

Projects lose their `data_path`: the destination keeps every source's data in its own default
layout (on PostgreSQL a project has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from manifold_pipelines.db.database import Database
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.transfer.report import TableCopy
from manifold_pipelines.transfer.rows import Row, id_batches, rows_between, same_columns

LEDGER = "audit_log"


@dataclass(frozen=True)
class CatalogueTable:
    name: str
    key: tuple[str, ...]
    numbered: bool = False
    """Keyed by an integer id and as long as the history it keeps: compared in batches."""


TABLES = (
    CatalogueTable("projects", ("id",)),
    CatalogueTable("data_sources", ("project_id", "id")),
    CatalogueTable(
        "source_relationships",
        (
            "upstream_project_id",
            "upstream_source_id",
            "downstream_project_id",
            "downstream_source_id",
        ),
    ),
    CatalogueTable("users", ("id",)),
    CatalogueTable("project_roles", ("user_id", "project_id")),
    CatalogueTable("user_settings", ("user_id", "key")),
    CatalogueTable("settings", ("key",)),
    CatalogueTable("import_history", ("id",), numbered=True),
    CatalogueTable("alerts", ("id",), numbered=True),
)
"""Parents before children: rows are added in this order and removed in the reverse one. The
audit log is not here: it is checked and copied first, on its own terms."""

CLEARED = {"projects": "data_path"}
"""Columns written as NULL in the destination."""

SourceKey = tuple[str, str]


@dataclass
class KeyedRows:
    """Rows of a table on both sides (a whole table keyed by name, or a batch of one keyed by
    number), by key: ours as the destination must hold them, and theirs."""

    table: CatalogueTable
    columns: tuple[str, ...]
    ours: dict[Row, Row] = field(default_factory=dict)
    theirs: dict[Row, Row] = field(default_factory=dict)

    def removed(self) -> list[Row]:
        return [key for key in self.theirs if key not in self.ours]

    def changed(self) -> list[Row]:
        return [key for key, row in self.ours.items() if self.theirs.get(key, row) != row]

    def added(self) -> list[Row]:
        return [row for key, row in self.ours.items() if key not in self.theirs]


class CatalogueCopy:
    """One copy of `origin`'s catalogue into `there`'s, read and written inside the caller's
    transactions (a read snapshot of the origin, a write of the destination). `destination`
    names the destination in errors."""

    def __init__(self, origin: Database, there: Database, destination: str) -> None:
        self.origin = origin
        self.there = there
        self.destination = destination
        self.stale_sources: list[SourceKey] = []
        """Sources of the destination whose data is no longer this Manifold's: removed since,
        or made again under the same id. Their data must go before the copy commits."""

    def run(self) -> dict[str, TableCopy]:
        report = {LEDGER: self._copy_ledger()}
        keyed = {t.name: self._keyed_rows(t) for t in TABLES if not t.numbered}
        for table in reversed(TABLES):
            if not table.numbered:
                self._delete(table, keyed[table.name].removed())
        for table in TABLES:
            if table.numbered:
                report[table.name] = self._sync_numbered(table)
            else:
                report[table.name] = self._write(keyed[table.name])
        self.stale_sources = _stale_sources(keyed["data_sources"])
        return report

    # The audit log

    def _copy_ledger(self) -> TableCopy:
        columns = same_columns(self.origin, self.there, LEDGER)
        at = columns.index("id")
        last_entry = self.there.execute(f"SELECT max(id) FROM {LEDGER}").fetchone()[0]  # noqa: S608 (our own table)
        if last_entry is None and self.there.execute("SELECT 1 FROM projects").fetchone():
            raise self._refusal("a catalogue with projects but no audit log")
        counts = TableCopy()
        after = 0
        for rows in id_batches(self.origin, LEDGER, columns):
            ours = {row[at]: row for row in rows}
            theirs = rows_between(self.there, LEDGER, columns, after, rows[-1][at])
            for entry_id, row in theirs.items():
                if ours.get(entry_id) != row:
                    raise self._refusal(f"its audit entry {_describe_entry(columns, row)}")
            added = [row for entry_id, row in ours.items() if entry_id not in theirs]
            self._insert(LEDGER, columns, added)
            counts.added += len(added)
            counts.unchanged += len(theirs)
            after = rows[-1][at]
        beyond = rows_between(self.there, LEDGER, columns, after, last_entry or 0)
        if beyond:
            raise self._refusal(f"its audit entry {_describe_entry(columns, beyond[min(beyond)])}")
        self.there.after_bulk_ids(LEDGER)
        return counts

    def _refusal(self, evidence: str) -> ConfigError:
        return ConfigError(
            f"{self.destination} holds a different Manifold, or a copy of this one used on its"
            f" own since it was made: {evidence} is not this Manifold's. Nothing was written."
            " Transfer into an empty folder or database, or move what is there aside first."
        )

    # Tables keyed by name: small, compared whole

    def _keyed_rows(self, table: CatalogueTable) -> KeyedRows:
        columns = same_columns(self.origin, self.there, table.name)
        keyed = KeyedRows(table, columns)
        at = [columns.index(name) for name in table.key]
        cleared = columns.index(CLEARED[table.name]) if table.name in CLEARED else None
        for db, rows in ((self.origin, keyed.ours), (self.there, keyed.theirs)):
            for row in db.execute(f"SELECT {', '.join(columns)} FROM {table.name}"):  # noqa: S608 (our own table and columns)
                values = list(row)
                if cleared is not None and db is self.origin:
                    values[cleared] = None
                rows[tuple(values[i] for i in at)] = tuple(values)
        return keyed

    def _write(self, keyed: KeyedRows) -> TableCopy:
        table, columns = keyed.table, keyed.columns
        changed = keyed.changed()
        if changed:
            others = [name for name in columns if name not in table.key]
            self.there.executemany(
                f"UPDATE {table.name} SET {', '.join(f'{name} = ?' for name in others)}"  # noqa: S608 (our own table and columns)
                f" WHERE {_key_condition(table.key)}",
                [
                    (*(keyed.ours[key][columns.index(name)] for name in others), *key)
                    for key in changed
                ],
            )
        added = keyed.added()
        self._insert(table.name, columns, added)
        return TableCopy(
            added=len(added),
            changed=len(changed),
            removed=len(keyed.removed()),
            unchanged=len(keyed.ours) - len(added) - len(changed),
        )

    def _delete(self, table: CatalogueTable, keys: Sequence[Row]) -> None:
        if keys:
            self.there.executemany(
                f"DELETE FROM {table.name} WHERE {_key_condition(table.key)}",  # noqa: S608 (our own table and columns)
                keys,
            )

    # Tables keyed by number: histories, compared a batch at a time

    def _sync_numbered(self, table: CatalogueTable) -> TableCopy:
        columns = same_columns(self.origin, self.there, table.name)
        at = columns.index("id")
        ids = f"SELECT id FROM {table.name}"  # noqa: S608 (our own table)
        gone = {row[0] for row in self.there.execute(ids)} - {
            row[0] for row in self.origin.execute(ids)
        }
        self._delete(table, [(row_id,) for row_id in sorted(gone)])
        counts = TableCopy(removed=len(gone))
        after = 0
        for rows in id_batches(self.origin, table.name, columns):
            theirs = rows_between(self.there, table.name, columns, after, rows[-1][at])
            keyed = KeyedRows(table, columns, {(row[at],): row for row in rows})
            keyed.theirs = {(row_id,): row for row_id, row in theirs.items()}
            written = self._write(keyed)
            counts.added += written.added
            counts.changed += written.changed
            counts.unchanged += written.unchanged
            after = rows[-1][at]
        self.there.after_bulk_ids(table.name)
        return counts

    def _insert(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if rows:
            self.there.insert_rows(table, columns, rows)


def _key_condition(key: Sequence[str]) -> str:
    return " AND ".join(f"{name} = ?" for name in key)


def _stale_sources(sources: KeyedRows) -> list[SourceKey]:
    """Sources of the destination removed here since, or made again (another created_at)."""
    created = sources.columns.index("created_at")
    return [
        (key[0], key[1])
        for key, row in sources.theirs.items()
        if key not in sources.ours or sources.ours[key][created] != row[created]
    ]


def _describe_entry(columns: Sequence[str], row: Row) -> str:
    value = dict(zip(columns, row, strict=True))
    return (
        f"{value['id']} ({value['action']} {value['object_type']} {value['object_id']!r} by"
        f" {value['actor']} at {value['at']})"
    )
