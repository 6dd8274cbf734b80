"""The schema of core.db, as numbered migrations.

core.db holds configuration only; records live in the per-source data files. Import history
is mirrored here so that the UI, sensors and `manifold stats` never open every data file.
"""

from __future__ import annotations

from manifold_pipelines.db.migrations import FileFormat, Migration

CORE_APPLICATION_ID = 0x4D46434F  # "MFCO"

_INITIAL = Migration(
    version=1,
    name="initial core schema",
    statements=(
        """CREATE TABLE projects (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT,
            data_path TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE data_sources (
            id TEXT NOT NULL,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            config TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active',
            enabled INTEGER NOT NULL DEFAULT 1,
            sync_interval INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_sync_at TEXT,
            PRIMARY KEY (project_id, id)
        )""",
        """CREATE TABLE source_relationships (
            upstream_project_id TEXT NOT NULL,
            upstream_source_id TEXT NOT NULL,
            downstream_project_id TEXT NOT NULL,
            downstream_source_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (upstream_project_id, upstream_source_id,
                         downstream_project_id, downstream_source_id),
            FOREIGN KEY (upstream_project_id, upstream_source_id)
                REFERENCES data_sources(project_id, id) ON DELETE CASCADE,
            FOREIGN KEY (downstream_project_id, downstream_source_id)
                REFERENCES data_sources(project_id, id) ON DELETE CASCADE,
            CHECK (upstream_project_id != downstream_project_id
                   OR upstream_source_id != downstream_source_id)
        )""",
        """CREATE INDEX source_relationships_downstream
            ON source_relationships(downstream_project_id, downstream_source_id)""",
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            name TEXT,
            email TEXT,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE project_roles (
            user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
            PRIMARY KEY (user_id, project_id)
        )""",
        """CREATE TABLE user_settings (
            user_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (user_id, key)
        )""",
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            object_type TEXT NOT NULL,
            object_id TEXT NOT NULL,
            before TEXT,
            after TEXT,
            details TEXT
        )""",
        "CREATE INDEX audit_log_object ON audit_log(object_type, object_id, at)",
        "CREATE INDEX audit_log_actor ON audit_log(actor, at)",
        """CREATE TABLE import_history (
            id INTEGER PRIMARY KEY,
            project_id TEXT NOT NULL,
            source_id TEXT NOT NULL,
            import_log_id INTEGER NOT NULL,
            version INTEGER,
            status TEXT NOT NULL CHECK (status IN ('completed', 'failed')),
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            duration_ms INTEGER NOT NULL,
            records_processed INTEGER,
            error TEXT,
            UNIQUE (project_id, source_id, import_log_id),
            FOREIGN KEY (project_id, source_id)
                REFERENCES data_sources(project_id, id) ON DELETE CASCADE
        )""",
        "CREATE INDEX import_history_source ON import_history(project_id, source_id, id)",
    ),
)

_ALERTS = Migration(
    version=2,
    name="global settings, alerts, quality and publication status in import history",
    statements=(
        """CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # Worst quality status and publication status of the imported version: the alert
        # sensors read them here instead of opening every data file. NULL before format 2.
        "ALTER TABLE import_history ADD COLUMN quality_status TEXT",
        "ALTER TABLE import_history ADD COLUMN version_status TEXT",
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            project_id TEXT NOT NULL,
            source_id TEXT NOT NULL,
            dedup_key TEXT NOT NULL UNIQUE,
            raised_at TEXT NOT NULL,
            details TEXT NOT NULL,
            delivered_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
        "CREATE INDEX alerts_undelivered ON alerts(delivered_at, id)",
        "CREATE INDEX alerts_source ON alerts(project_id, source_id, raised_at)",
    ),
)

_ACCESS = Migration(
    version=3,
    name="instance-wide admins, and the project of each audit entry",
    statements=(
        # 'admin' makes a user admin of every project and of the global settings.
        "ALTER TABLE users ADD COLUMN instance_role TEXT CHECK (instance_role IN ('admin'))",
        # Reading the audit log needs admin on the entry's project: keep the project with
        # the entry (NULL for Manifold-wide entries: users and settings).
        "ALTER TABLE audit_log ADD COLUMN project_id TEXT",
        """UPDATE audit_log SET project_id = CASE
            WHEN object_type = 'project' THEN object_id
            WHEN object_type IN ('data_source', 'relationship')
                THEN substr(object_id, 1, instr(object_id, '/') - 1)
            END""",
        "CREATE INDEX audit_log_project ON audit_log(project_id, id)",
    ),
)

_SOURCE_STATUS = Migration(
    version=4,
    name="a data source's status says what it is doing",
    statements=(
        # 'active' was written by every format before and never changed; the status now
        # follows each run (idle, running, failed) and the enabled flag (disabled).
        """UPDATE data_sources SET status = CASE
            WHEN enabled = 0 THEN 'disabled'
            WHEN (SELECT h.status FROM import_history h
                  WHERE h.project_id = data_sources.project_id
                    AND h.source_id = data_sources.id ORDER BY h.id DESC LIMIT 1) = 'failed'
                THEN 'failed'
            ELSE 'idle' END""",
        # The column's old DEFAULT 'active' cannot be changed in place (rebuilding the table
        # would cascade into every table that references it); these keep it to four values.
        """CREATE TRIGGER data_sources_status_on_insert BEFORE INSERT ON data_sources
            WHEN NEW.status NOT IN ('idle', 'running', 'failed', 'disabled')
            BEGIN SELECT RAISE(ABORT, 'status must be idle, running, failed or disabled'); END""",
        """CREATE TRIGGER data_sources_status_on_update BEFORE UPDATE OF status ON data_sources
            WHEN NEW.status NOT IN ('idle', 'running', 'failed', 'disabled')
            BEGIN SELECT RAISE(ABORT, 'status must be idle, running, failed or disabled'); END""",
    ),
)

_LINK_MAKERS = Migration(
    version=5,
    name="who made each relationship",
    statements=(
        # A scheduled run reads another project's source only while whoever linked it still
        # may; links made before are credited from the audit log when it names them.
        "ALTER TABLE source_relationships ADD COLUMN created_by TEXT",
        """UPDATE source_relationships SET created_by = (
            SELECT actor FROM audit_log
            WHERE action = 'create' AND object_type = 'relationship'
              AND object_id = downstream_project_id || '/' || downstream_source_id
              AND json_extract(after, '$.upstream')
                  = upstream_project_id || '/' || upstream_source_id
            ORDER BY id DESC LIMIT 1)""",
    ),
)

CORE_FORMAT = FileFormat(
    application_id=CORE_APPLICATION_ID,
    label="core.db",
    migrations=(_INITIAL, _ALERTS, _ACCESS, _SOURCE_STATUS, _LINK_MAKERS),
)
