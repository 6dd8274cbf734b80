"""Migrating the older single-file layout (read by legacy_layout.py, which refuses a
snapshot it cannot place in exactly one source): each legacy snapshot becomes a version of
its source, in time order, keeping schema, metadata and time.

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

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, Field

from manifold_pipelines.access import Access
from manifold_pipelines.core.source_config import SOURCE_CONFIG_TYPES
from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.legacy_layout import (
    LegacyDatabase,
    LegacySource,
    Snapshot,
    snapshot_payload,
    snapshot_time,
)

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
    manager: SeparatedDatabaseManager, legacy: LegacyDatabase
) -> list[LegacySource]:
    """Create the legacy projects and sources that do not exist yet, each change made to a
    config audited; returns every legacy source."""
    sources = legacy.sources()  # refuses what it cannot place before anything is created
    existing_projects = {p.id for p in manager.list_projects()}
    for project_id, name, description in legacy.projects():
        if project_id not in existing_projects:
            manager.create_project(name=name or project_id, id=project_id, description=description)
    existing = {s.key for s in manager.list_data_sources()}
    for source in sources:
        if source.key in existing:
            continue
        legacy_type = source.type
        source_type = legacy_type if legacy_type in SOURCE_CONFIG_TYPES else "javascript"
        config, changes = _config(source_type, source.config)
        if source_type != legacy_type:
            changes.insert(0, f"type {legacy_type!r} is unknown today: migrated as javascript")
        manager.create_data_source(
            source.project_id,
            name=source.name or source.source_id,
            type=source_type,
            id=source.source_id,
            config=config,
        )
        if changes:
            _audit_changes(manager, source, changes, legacy.path)
    return sources


def _audit_changes(
    manager: SeparatedDatabaseManager, source: LegacySource, changes: list[str], legacy_path: Path
) -> None:
    """The audit log keeps the legacy config as it was, so nothing left out is lost, and
    the changes for every later report."""
    raw = source.config
    with manager.core.writing():
        manager.core.audit(
            "migrate",
            "data_source",
            "/".join(source.key),
            details={
                "legacyDatabase": str(legacy_path),
                "changes": changes,
                "legacyType": source.type,
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
    legacy = LegacyDatabase(legacy_path.resolve())
    try:
        sources = _ensure_catalog(manager, legacy)
        ledger = _Ledger(manager, legacy.path)
        reports = [_migrate_source(manager, legacy, s, ledger, progress) for s in sources]
        orphans = legacy.orphan_count()
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
            legacy.drop_snapshots()
            report.dropped_legacy = True
        return report
    finally:
        legacy.close()


class _Ledger:
    """The legacy snapshots imported so far, per source: a global setting, each write
    audited. It remembers snapshots whose versions retention has pruned since."""

    def __init__(self, manager: SeparatedDatabaseManager, legacy_path: Path) -> None:
        self.manager = manager
        self.key = f"legacyMigration:{legacy_path}"
        self.done: dict[str, list[Any]] = manager.get_settings().get(self.key, {})

    def record(self, name: str, done: set[Any], snapshot_id: Any) -> None:
        self.done[name] = sorted(done, key=str)
        with self.manager.core.writing():
            self.manager.core.users.put_global_setting(self.key, self.done)
            self.manager.core.audit(
                "set_setting",
                "settings",
                self.key,
                details={"source": name, "snapshot": snapshot_id},
            )


def _migrate_source(
    manager: SeparatedDatabaseManager,
    legacy: LegacyDatabase,
    source: LegacySource,
    ledger: _Ledger,
    progress: Callable[[str], None],
) -> SourceMigration:
    """Import the source's snapshots not imported yet, each in its own transaction."""
    snapshots = legacy.snapshots(source)
    name = "/".join(source.key)
    # Versions carry their snapshot id, so a kill between import and ledger is caught.
    done = set(ledger.done.get(name, [])) | set(_imported_snapshots(manager, source.key))
    # Every time is read before the first import: a row no calendar holds stops the source
    # before any of it is imported, not half way through.
    pending = [(s, snapshot_time(s)) for s in snapshots if s[0] not in done]
    for snapshot, when in pending:
        records, declared, metadata = snapshot_payload(snapshot)
        manager.import_data(
            *source.key,
            records,
            schema=declared,
            metadata={**metadata, LEGACY_KEY: snapshot[0]},
            created_at=when,
        )
        done.add(snapshot[0])
        ledger.record(name, done, snapshot[0])
        progress(f"{name}: snapshot {snapshot[0]}")
    return SourceMigration(
        source=name,
        snapshots=len(snapshots),
        imported=len(pending),
        already_present=len(snapshots) - len(pending),
        verified=_verify(manager, source.key, snapshots, done),
        changes=_recorded_changes(manager, source.key, legacy.path),
    )


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
    snapshots: list[Snapshot],
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
            if _canonical(version.data) != _canonical(snapshot_payload(snapshot)[0]):
                return False
    return True
