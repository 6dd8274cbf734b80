"""VersionStore: the versions of one data source, on either engine, through one connection.

The interface every layer above uses to store and read versions; its SQL is written once for
both engines (the engine's Database says what differs). Reads run in a read snapshot, so a
version and its rows come from one state even while another process imports. The write-side
statements are in `store_writes.py`; deciding what to write is `writer.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from manifold_pipelines.db.database import Database
from manifold_pipelines.db.migrations import FileFormat, migrate
from manifold_pipelines.errors import (
    DatabaseError,
    DiffKeyError,
    NotFoundError,
    StorageError,
    VersionStatusError,
)
from manifold_pipelines.quality.models import QualityMetric
from manifold_pipelines.timestamps import from_text, now_text
from manifold_pipelines.versions.diff import DiffSettings, diff_sides
from manifold_pipelines.versions.gc_pause import gc_paused
from manifold_pipelines.versions.models import (
    DataDiff,
    DataVersion,
    ImportLog,
    SchemaVersion,
    VersionInfo,
)
from manifold_pipelines.versions.reading import read_records
from manifold_pipelines.versions.records import KeySpec, key_records, number_copies
from manifold_pipelines.versions.store_writes import VersionWrites

# Rows valid at `lo` but not at `hi` (lo < hi), and the reverse: exactly what changed between.
# Versions are numbered from 1, so `first_version > 1` adds nothing to the condition but lets
# each planner use the partial index that leaves the first version's rows out (key_index.py).
_ROWS_ONLY_AT_LOW = (
    "SELECT r.key, r.record FROM record_ends e JOIN record_rows r ON r.id = e.id"
    " WHERE e.last_version >= :lo AND e.last_version < :hi AND r.first_version <= :lo"
    " ORDER BY r.position"
)
_ROWS_ONLY_AT_HIGH = (
    "SELECT r.key, r.record FROM record_rows r LEFT JOIN record_ends e ON e.id = r.id"
    " WHERE r.first_version > :lo AND r.first_version <= :hi AND r.first_version > 1"
    " AND (e.last_version IS NULL OR e.last_version >= :hi) ORDER BY r.position"
)


class VersionStore(VersionWrites):
    """The versions of one data source. `label` names it in errors: "Data source 'demo/api'";
    `data_format` is the engine's migrations of the store's tables."""

    def __init__(self, db: Database, label: str, data_format: FileFormat) -> None:
        self.db = db
        self.label = label
        self.what = db.what
        try:
            migrate(db, data_format)
        except DatabaseError as exc:
            db.close()
            raise StorageError(
                f"The {self.what} is damaged ({exc}). Restore it from a backup or move it"
                " aside; other sources are not affected."
            ) from exc
        except BaseException:
            db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> VersionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def writing(self, *, commit: bool = True) -> Iterator[Database]:
        with self.db.writing(commit=commit) as db:
            yield db

    @contextmanager
    def reading(self) -> Iterator[Database]:
        with self.db.reading() as db:
            yield db

    def file_size(self) -> int:
        """Bytes the source's data takes (its file, or its schema's tables)."""
        return self.db.size()

    # Versions

    def latest_version(self, *, published_only: bool = True) -> int | None:
        row = self.db.execute(
            "SELECT max(version) FROM data_versions WHERE ? = 0 OR status = 'published'",
            (int(published_only),),
        ).fetchone()
        latest: int | None = row[0]
        return latest

    def _version_row(self, version: int) -> tuple[Any, ...]:
        if type(version) is not int or version < 1:
            raise NotFoundError(
                f"{self.label}: {version!r} is not a version number; versions are whole numbers"
                " from 1. List the versions to pick one."
            )
        row = self.db.execute(
            "SELECT version, status, schema, metadata, record_count, previous_version,"
            " created_at, diff_key FROM data_versions WHERE version = ?",
            (version,),
        ).fetchone()
        if row is None:
            known = self.db.execute(
                "SELECT min(version), max(version) FROM data_versions"
            ).fetchone()
            span = "it has no versions yet" if known[0] is None else f"it has {known[0]}-{known[1]}"
            raise NotFoundError(
                f"{self.label} has no version {version} ({span}, older ones may have been"
                " pruned by retention). List its versions to pick one."
            )
        return tuple(row)

    def _records(self, version: int) -> list[dict[str, Any]]:
        return read_records(self.db, version)

    def read_version(self, version: int) -> DataVersion:
        with self.reading(), gc_paused():
            row = self._version_row(version)
            data = self._records(version)
        return DataVersion.model_construct(
            version=row[0],
            status=row[1],
            data=data,
            schema=orjson.loads(row[2]),
            metadata=orjson.loads(row[3]),
            record_count=row[4],
            previous_version=row[5],
            created_at=from_text(row[6]),
        )

    def list_versions(self) -> list[VersionInfo]:
        rows = self.db.execute(
            "SELECT version, status, record_count, previous_version, diff_summary,"
            " schema_version, created_at, published_at, metadata, mode, upserts, deletions,"
            " state FROM data_versions ORDER BY version"
        ).fetchall()
        return [
            VersionInfo(
                version=row[0],
                status=row[1],
                record_count=row[2],
                previous_version=row[3],
                diff=orjson.loads(row[4]) if row[4] else None,
                schema_version=row[5],
                created_at=from_text(row[6]),
                published_at=from_text(row[7]) if row[7] else None,
                metadata=orjson.loads(row[8]),
                mode=row[9],
                upserts=row[10],
                deletions=row[11],
                state=orjson.loads(row[12]) if row[12] is not None else None,
            )
            for row in rows
        ]

    def publish(self, version: int) -> None:
        """Make a held version published; the newest published version is "latest"."""
        with self.writing():
            status = self._version_row(version)[1]
            if status == "published":
                raise VersionStatusError(
                    f"{self.label} version {version} is already published; nothing to do."
                )
            self.db.execute(
                "UPDATE data_versions SET status = 'published', published_at = ? WHERE version = ?",
                (now_text(), version),
            )

    # Diffs

    def diff(
        self, from_version: int, to_version: int, spec: KeySpec, settings: DiffSettings
    ) -> DataDiff:
        """Diff any two versions, in a read snapshot."""
        with self.reading(), gc_paused():
            self._version_row(from_version)
            self._version_row(to_version)
            return self.diff_in_snapshot(from_version, to_version, spec, settings)

    def diff_in_snapshot(
        self,
        from_version: int,
        to_version: int,
        spec: KeySpec,
        settings: DiffSettings,
        *,
        ended: list[tuple[str, dict[str, Any]]] | None = None,
    ) -> DataDiff:
        """Diff two versions inside the caller's transaction (an import diffs the version it
        is writing this way). With one diff key across the range only the rows that changed
        between them are read; otherwise both versions are read whole and re-keyed. An
        import that ended rows of the version before, in position order, passes them as
        `ended`: they are the rows only at `from_version`, and reading them again cost as much
        as loading them had (0.05 s at 15,000 rows of a million, a page copied for each)."""
        low, high = sorted((from_version, to_version))
        specs = self.db.execute(
            "SELECT DISTINCT diff_key FROM data_versions WHERE version BETWEEN ? AND ?",
            (low, high),
        ).fetchall()
        if [row[0] for row in specs] == [spec.to_json()]:
            loads = orjson.loads
            at_low = ended
            if at_low is None or from_version != to_version - 1:
                at_low = [
                    (key, loads(record))
                    for key, record in self.db.execute(_ROWS_ONLY_AT_LOW, {"lo": low, "hi": high})
                ]
            at_high = [
                (key, loads(record))
                for key, record in self.db.execute(_ROWS_ONLY_AT_HIGH, {"lo": low, "hi": high})
            ]
            old, new = (at_low, at_high) if from_version <= to_version else (at_high, at_low)
            if spec.keyless:
                old, new = number_copies(old), number_copies(new)
        else:
            old, new, spec = self._rekeyed(from_version, to_version, spec)
        return diff_sides(
            old,
            new,
            settings,
            from_version=from_version,
            to_version=to_version,
            key_fields=spec.fields or (),
        )

    def _rekeyed(
        self, from_version: int, to_version: int, spec: KeySpec
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]], KeySpec]:
        """Both versions whole, keyed by `spec`; when they cannot be, by the key the newer
        version was stored with (a source whose diff key changed since)."""
        stored = KeySpec.from_json(self._version_row(max(from_version, to_version))[7])
        old_records, new_records = self._records(from_version), self._records(to_version)
        consequence = "The diff cannot be computed with this key."
        try:
            return (
                key_records(old_records, spec, f"{self.label} v{from_version}", consequence),
                key_records(new_records, spec, f"{self.label} v{to_version}", consequence),
                spec,
            )
        except DiffKeyError as first:
            if stored == spec:
                raise
            try:
                return (
                    key_records(old_records, stored, f"{self.label} v{from_version}", consequence),
                    key_records(new_records, stored, f"{self.label} v{to_version}", consequence),
                    stored,
                )
            except DiffKeyError:
                raise first from None

    # History of schemas, imports and quality

    def schema_history(self) -> list[SchemaVersion]:
        rows = self.db.execute(
            "SELECT schema_version, data_version, schema, changes, created_at"
            " FROM schema_versions ORDER BY schema_version"
        ).fetchall()
        return [
            SchemaVersion(
                schema_version=row[0],
                data_version=row[1],
                schema=orjson.loads(row[2]),
                changes=orjson.loads(row[3]),
                created_at=from_text(row[4]),
            )
            for row in rows
        ]

    def import_logs(
        self, limit: int = 100, *, after_id: int = 0, with_text: bool = True
    ) -> list[ImportLog]:
        """Newest first; `after_id` keeps only logs written after that one, and without
        `with_text` the captured console text (up to 256 KiB each) is left unread."""
        rows = self.db.execute(
            "SELECT id, version, status, started_at, finished_at, duration_ms,"
            " records_processed, error, CASE WHEN ? THEN log END FROM import_logs WHERE id > ?"
            " ORDER BY id DESC LIMIT ?",
            (with_text, after_id, limit),
        ).fetchall()
        return [
            ImportLog(
                id=row[0],
                version=row[1],
                status=row[2],
                started_at=from_text(row[3]),
                finished_at=from_text(row[4]) if row[4] else None,
                duration_ms=row[5],
                records_processed=row[6],
                error=row[7],
                log=row[8],
            )
            for row in rows
        ]

    def quality_metrics(self, version: int) -> list[QualityMetric]:
        self._version_row(version)
        rows = self.db.execute(
            "SELECT metric, field, value, direction, warn_threshold, fail_threshold, status,"
            " blocking, description FROM quality_metrics WHERE version = ? ORDER BY id",
            (version,),
        ).fetchall()
        return [
            QualityMetric(
                metric=row[0],
                field=row[1],
                value=row[2],
                direction=row[3],
                warn_threshold=row[4],
                fail_threshold=row[5],
                status=row[6],
                blocking=bool(row[7]),
                description=row[8],
            )
            for row in rows
        ]

    def version_statuses(self, versions: list[int]) -> dict[int, tuple[str, str | None]]:
        """Version -> (publication status, worst quality status), for the history mirror."""
        rows = self.db.execute(
            "SELECT v.version, v.status, (SELECT CASE"  # noqa: S608 (the engine's own list condition)
            " WHEN count(CASE WHEN q.status = 'fail' THEN 1 END) > 0 THEN 'fail'"
            " WHEN count(CASE WHEN q.status = 'warning' THEN 1 END) > 0 THEN 'warning'"
            " WHEN count(*) > 0 THEN 'pass' END"
            " FROM quality_metrics q WHERE q.version = v.version) FROM data_versions v"
            f" WHERE {self.db.in_list('v.version', 'int')}",
            (self.db.list_param(versions),),
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def integrity_check(self) -> str:
        return self.db.integrity_check()
