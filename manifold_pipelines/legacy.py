"""Migrating the older single-file layout (one SQLite file for everything): `projects`,
`data_sources` and a `snapshots` table whose rows (id, data_source_id, data JSON array,
schema, metadata, created_at) each become a version of their source, in time order, keeping
schema, metadata and time.

Each snapshot is imported in its own transaction and remembered by its id in the version's
metadata, so a second run imports nothing twice and a killed run resumes where it stopped.
Only a verified migration (counts and content, version by version) may drop the old table.
Whatever today's model cannot take (an invalid or unknown config, an unknown type, a missing
script) is changed as little as possible, and every change is kept in the audit log with the
legacy config as it was; the report lists them all from there, whichever run made them (a
run stopped by a config today's model refuses leaves its sources made, and the run that
finishes the migration reports them too).

The ledger is a global setting, so a migration needs an instance admin, like set_setting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, Field

from manifold_pipelines.access import Access
from manifold_pipelines.core.source_config import SOURCE_CONFIG_TYPES
from manifold_pipelines.errors import ManifoldError, NotFoundError, StorageError

if TYPE_CHECKING:
    from manifold_pipelines.manager import SeparatedDatabaseManager

LEGACY_KEY = "legacySnapshotId"
MIGRATE = Access(
    "admin", "instance", "run a legacy migration, which writes a global setting (its ledger)"
)


class SourceMigration(BaseModel):
    source: str
    snapshots: int
    imported: int
    already_present: int
    verified: bool
    changes: list[str] = Field(
        default=[], description="How the source's legacy config was changed to be created now."
    )


class MigrationReport(BaseModel):
    sources: list[SourceMigration]
    orphan_snapshots: int = 0
    dropped_legacy: bool

    @property
    def verified(self) -> bool:
        return self.orphan_snapshots == 0 and all(s.verified for s in self.sources)


def _open(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise NotFoundError(f"Legacy database {str(path)!r} does not exist.")
    conn = sqlite3.connect(path)
    try:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")
        }
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StorageError(f"{str(path)!r} is not a SQLite database ({exc}).") from exc
    missing = {"projects", "data_sources", "snapshots"} - tables
    if missing:
        conn.close()
        raise StorageError(
            f"{str(path)!r} is not a legacy Manifold database: it has no table"
            f" {', '.join(sorted(missing))}. Point migrate at the old single-file database."
        )
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _config(source_type: str, raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The legacy config as far as today's model accepts it, and every change made to it."""
    changes = []
    config = raw or {}
    if isinstance(raw, (str, bytes)) and raw:
        try:
            config = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            changes.append(f"config is not valid JSON ({exc}); migrated with an empty config")
            config = {}
    if not isinstance(config, dict):
        changes.append(
            f"config is a {type(config).__name__}, not an object; migrated with an empty config"
        )
        config = {}
    model = SOURCE_CONFIG_TYPES[source_type]
    # populate_by_name: a key may be written as its alias (diffKey) or its name (diff_key).
    known = {key for name, f in model.model_fields.items() for key in (name, f.alias) if key}
    unknown = sorted(key for key in config if key not in known)
    if unknown:
        left_out = ", ".join(f"{key}={_shortened(config[key])}" for key in unknown)
        changes.append(f"config keys unknown today were left out: {left_out}")
        config = {key: value for key, value in config.items() if key in known}
    if source_type == "javascript" and "script" not in config:
        config["script"] = "return [];  // migrated: the legacy source had no script"
        changes.append(
            "no script: migrated with 'return [];', which imports nothing until you give it one"
        )
    return config, changes


def _shortened(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else f"{text[:57]}..."


def _ensure_catalog(
    manager: SeparatedDatabaseManager, conn: sqlite3.Connection, legacy_path: Path
) -> dict[str, tuple[str, str]]:
    """Create the legacy projects and sources that do not exist yet, each change made to a
    config audited; returns legacy source id -> key."""
    existing_projects = {p.id for p in manager.list_projects()}
    described = "description" in _columns(conn, "projects")
    for row in conn.execute(f"SELECT id, name{', description' if described else ''} FROM projects"):  # noqa: S608
        project_id = str(row[0])
        if project_id not in existing_projects:
            manager.create_project(
                name=row[1] or project_id, id=project_id, description=row[2] if described else None
            )
    config_column = "config" if "config" in _columns(conn, "data_sources") else "NULL"
    keys = {}
    existing = {s.key for s in manager.list_data_sources()}
    for raw_id, raw_project, name, legacy_type, raw in conn.execute(
        f"SELECT id, project_id, name, type, {config_column} FROM data_sources"  # noqa: S608
    ):
        source_id, project_id = str(raw_id), str(raw_project)
        keys[source_id] = (project_id, source_id)
        if (project_id, source_id) in existing:
            continue
        source_type = legacy_type if legacy_type in SOURCE_CONFIG_TYPES else "javascript"
        config, changes = _config(source_type, raw)
        if source_type != legacy_type:
            changes.insert(0, f"type {legacy_type!r} is unknown today: migrated as javascript")
        manager.create_data_source(
            project_id, name=name or source_id, type=source_type, id=source_id, config=config
        )
        if changes:
            _audit_changes(manager, (project_id, source_id), changes, legacy_path, legacy_type, raw)
    return keys


def _audit_changes(
    manager: SeparatedDatabaseManager,
    key: tuple[str, str],
    changes: list[str],
    legacy_path: Path,
    legacy_type: Any,
    raw: Any,
) -> None:
    """The audit log keeps the legacy config as it was, so nothing left out is lost, and
    the changes for every later report."""
    with manager.core.writing():
        manager.core.audit(
            "migrate",
            "data_source",
            "/".join(key),
            details={
                "legacyDatabase": str(legacy_path),
                "changes": changes,
                "legacyType": legacy_type,
                "legacyConfig": raw.decode(errors="replace") if isinstance(raw, bytes) else raw,
            },
        )


def _recorded_changes(
    manager: SeparatedDatabaseManager, key: tuple[str, str], legacy_path: Path
) -> list[str]:
    """Every change this legacy database's migration made to the source's config, oldest
    first, whichever run made it."""
    entries = manager.core.audit_entries(object_id="/".join(key), action="migrate")
    return [
        change
        for entry in reversed(entries)
        if isinstance(entry.details, dict)
        and entry.details.get("legacyDatabase") == str(legacy_path)
        for change in entry.details.get("changes", [])
    ]


def _canonical(records: list[dict[str, Any]]) -> list[bytes]:
    return sorted(orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records)


def _payload(snapshot: tuple[Any, ...]) -> tuple[Any, Any, dict[str, Any], datetime | None]:
    """A snapshot's records, schema, metadata and time; what cannot be read names the row."""
    snapshot_id, data, schema, metadata, created_at = snapshot
    where = f"Legacy snapshot {snapshot_id}"
    try:
        records = orjson.loads(data)
        declared = orjson.loads(schema) if schema else None
        meta = orjson.loads(metadata) if metadata else None
    except (orjson.JSONDecodeError, TypeError) as exc:
        raise ManifoldError(f"{where} holds invalid JSON ({exc}). Fix or delete that row.") from exc
    if not isinstance(meta, dict):
        meta = {} if meta is None else {"legacyMetadata": meta}
    if not isinstance(declared, dict):
        declared = None if declared is None else {"legacySchema": declared}
    when = None
    if isinstance(created_at, (int, float)):
        when = datetime.fromtimestamp(created_at, UTC)
    elif created_at:
        try:
            when = datetime.fromisoformat(str(created_at))
        except ValueError as exc:
            raise ManifoldError(
                f"{where}: created_at {created_at!r} is neither ISO 8601 nor a Unix time."
            ) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return records, declared, {**meta, LEGACY_KEY: snapshot_id}, when


def migrate_legacy(
    manager: SeparatedDatabaseManager,
    legacy_path: Path,
    *,
    drop_legacy: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> MigrationReport:
    """Import every legacy snapshot not imported yet; `legacy_path` is read, never written
    but for dropping the snapshots table once verified."""
    manager._check_access(MIGRATE, None)
    legacy_path = legacy_path.resolve()
    conn = _open(legacy_path)
    ledger_key = f"legacyMigration:{legacy_path}"
    try:
        keys = _ensure_catalog(manager, conn, legacy_path)
        ledger: dict[str, list[Any]] = manager.get_settings().get(ledger_key, {})
        reports = []
        for legacy_id, key in keys.items():
            snapshots = conn.execute(
                "SELECT id, data, schema, metadata, created_at FROM snapshots"
                " WHERE CAST(data_source_id AS TEXT) = ? ORDER BY created_at, id",
                (legacy_id,),
            ).fetchall()
            name = "/".join(key)
            # Versions carry their snapshot id (a kill between import and ledger is caught);
            # the ledger remembers snapshots whose versions retention has pruned since.
            done = set(ledger.get(name, [])) | set(_imported_snapshots(manager, key))
            imported = 0
            for snapshot in snapshots:
                if snapshot[0] in done:
                    continue
                records, declared, metadata, when = _payload(snapshot)
                manager.import_data(
                    *key, records, schema=declared, metadata=metadata, created_at=when
                )
                done.add(snapshot[0])
                ledger[name] = sorted(done, key=str)
                with manager.core.writing():
                    manager.core.users.put_global_setting(ledger_key, ledger)
                    manager.core.audit(
                        "set_setting",
                        "settings",
                        ledger_key,
                        details={"source": name, "snapshot": snapshot[0]},
                    )
                imported += 1
                progress(f"{name}: snapshot {snapshot[0]}")
            reports.append(
                SourceMigration(
                    source=name,
                    snapshots=len(snapshots),
                    imported=imported,
                    already_present=len(snapshots) - imported,
                    verified=_verify(manager, key, snapshots, done),
                    changes=_recorded_changes(manager, key, legacy_path),
                )
            )
        orphans = conn.execute(
            "SELECT count(*) FROM snapshots WHERE CAST(data_source_id AS TEXT) NOT IN"
            " (SELECT CAST(id AS TEXT) FROM data_sources)"
        ).fetchone()[0]
        report = MigrationReport(sources=reports, orphan_snapshots=orphans, dropped_legacy=False)
        if drop_legacy:
            if not report.verified:
                bad = [s.source for s in reports if not s.verified]
                if orphans:
                    bad.append(f"{orphans} snapshot(s) of sources missing from data_sources")
                raise ManifoldError(
                    f"Verification failed ({'; '.join(bad)}); the legacy snapshots table was"
                    " kept. Run migrate again without --drop-legacy to see the details."
                )
            conn.execute("DROP TABLE snapshots")
            conn.commit()
            report.dropped_legacy = True
        return report
    finally:
        conn.close()


def _imported_snapshots(manager: SeparatedDatabaseManager, key: tuple[str, str]) -> dict[Any, int]:
    """Legacy snapshot id -> version, for the versions this migration made and still kept."""
    return {
        info.metadata[LEGACY_KEY]: info.version
        for info in manager.list_versions(*key)
        if LEGACY_KEY in info.metadata
    }


def _verify(
    manager: SeparatedDatabaseManager,
    key: tuple[str, str],
    snapshots: list[tuple[Any, ...]],
    done: set[Any],
) -> bool:
    """Every snapshot was imported, and each version still kept holds the same records (as a
    multiset) as its snapshot."""
    if {snapshot[0] for snapshot in snapshots} - done:
        return False
    present = _imported_snapshots(manager, key)
    for snapshot in snapshots:
        if snapshot[0] in present:
            version = manager.get_data_version(*key, present[snapshot[0]])
            if _canonical(version.data) != _canonical(_payload(snapshot)[0]):
                return False
    return True
