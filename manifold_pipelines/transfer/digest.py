"""What a source's stored versions are, as digests: enough to tell whether two stores hold the
same versions, and which version differs first.

Every row of the source's tables goes in, read in id order from either engine: each
version's row and its quality metrics, the record rows each version started and where rows
end (a version's records are the rows started at or before it and not ended before it, so
equal rows give equal versions, order and content), the schema history and the import logs.
A version's record count is counted from the rows, not read from its row, so a record lost on
the way shows as a count that differs.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import xxhash

from manifold_pipelines.db.database import Database
from manifold_pipelines.transfer.rows import Row, id_batches, row_bytes

SOURCE_TABLES = (
    "data_versions",
    "record_rows",
    "record_ends",
    "schema_versions",
    "import_logs",
    "quality_metrics",
    "source_state",
)
"""A source's tables, each keyed by an integer id; versions before the metrics that name them."""

_WHOLE_TABLES = {
    "record_ends": "the versions where record rows end",
    "schema_versions": "the schema history",
    "import_logs": "the import logs",
    "source_state": "the committed state (an incremental source's cursor)",
}


@dataclass(frozen=True)
class VersionCheck:
    record_count: int
    row: str
    records: str
    metrics: str


@dataclass(frozen=True)
class SourceSummary:
    versions: dict[int, VersionCheck]
    tables: dict[str, str]
    record_rows: int

    def first_difference(self, found: SourceSummary) -> str | None:
        """What `found` (the destination) has otherwise than this (the origin), the oldest
        version first, in words; None when they hold the same."""
        for version in sorted(self.versions.keys() | found.versions.keys()):
            ours, theirs = self.versions.get(version), found.versions.get(version)
            if theirs is None:
                return f"version {version} is missing"
            if ours is None:
                return f"version {version} is there but not in the origin"
            if theirs.record_count != ours.record_count:
                return (
                    f"version {version} has {theirs.record_count:,} records instead of"
                    f" {ours.record_count:,}"
                )
            if theirs.records != ours.records:
                return f"the records of version {version} differ"
            if theirs.row != ours.row:
                return f"the row of version {version} in data_versions differs"
            if theirs.metrics != ours.metrics:
                return f"the quality metrics of version {version} differ"
        for table, label in _WHOLE_TABLES.items():
            if found.tables.get(table) != self.tables.get(table):
                return f"{label} differ"
        return None


class SourceDigest:
    """Digests of a source's rows, fed a batch at a time in id order, table by table."""

    def __init__(self) -> None:
        self._rows: dict[int, str] = {}
        self._metrics: dict[int, xxhash.xxh3_128] = {}
        self._records: dict[int, xxhash.xxh3_128] = {}
        self._started: Counter[int] = Counter()
        self._ended: Counter[int] = Counter()
        self._tables = {table: xxhash.xxh3_128() for table in _WHOLE_TABLES}

    def add(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if table == "record_rows":
            first = columns.index("first_version")
            for row in rows:
                self._records.setdefault(row[first], xxhash.xxh3_128()).update(row_bytes(row))
                self._started[row[first]] += 1
        elif table == "record_ends":
            last = columns.index("last_version")
            self._ended.update(row[last] for row in rows)
            self._tables[table].update(b"".join(row_bytes(row) for row in rows))
        elif table == "data_versions":
            at = columns.index("version")
            self._rows.update((row[at], xxhash.xxh3_128_hexdigest(row_bytes(row))) for row in rows)
        elif table == "quality_metrics":
            at = columns.index("version")
            for row in rows:
                self._metrics.setdefault(row[at], xxhash.xxh3_128()).update(row_bytes(row))
        else:
            for row in rows:
                self._tables[table].update(row_bytes(row))

    def summary(self) -> SourceSummary:
        versions = sorted(self._rows)
        records = self._records_by_version(versions)
        counts = self._record_counts(versions)
        checks = {
            version: VersionCheck(
                record_count=counts.get(version, 0),
                row=self._rows.get(version, ""),
                records=records[version].hexdigest() if version in records else "",
                metrics=self._metrics[version].hexdigest() if version in self._metrics else "",
            )
            for version in (*versions, *records.keys() - set(versions))
        }
        return SourceSummary(
            versions=checks,
            tables={table: digest.hexdigest() for table, digest in self._tables.items()},
            record_rows=sum(self._started.values()),
        )

    def _records_by_version(self, versions: list[int]) -> dict[int, xxhash.xxh3_128]:
        """Rows by the oldest kept version they belong to: retention drops old versions but
        keeps the rows they started that later versions still hold."""
        combined: dict[int, xxhash.xxh3_128] = {}
        for started in sorted(self._records):
            at = bisect.bisect_left(versions, started)
            version = versions[at] if at < len(versions) else started
            digest = combined.setdefault(version, xxhash.xxh3_128())
            digest.update(f"{started}:{self._records[started].hexdigest()};".encode())
        return combined

    def _record_counts(self, versions: list[int]) -> dict[int, int]:
        """Rows started at or before each version, less those ended before it."""
        counts, alive = {}, 0
        started, ended = deque(sorted(self._started.items())), deque(sorted(self._ended.items()))
        for version in versions:
            while started and started[0][0] <= version:
                alive += started.popleft()[1]
            while ended and ended[0][0] < version:
                alive -= ended.popleft()[1]
            counts[version] = alive
        return counts


def read_summary(db: Database, columns: Mapping[str, Sequence[str]]) -> SourceSummary:
    """The summary of everything a store holds, read inside the caller's transaction (a read
    snapshot, or the write that copied it). `columns` gives each table's columns in the order
    the other side was read with, so that equal rows hash equal."""
    digest = SourceDigest()
    for table in SOURCE_TABLES:
        for rows in id_batches(db, table, columns[table]):
            digest.add(table, columns[table], rows)
    return digest.summary()
