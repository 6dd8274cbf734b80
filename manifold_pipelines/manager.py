"""SeparatedDatabaseManager: the public Python API over core.db and the per-source files.

It is built in layers, each a module: the catalogue of projects and sources (catalog.py),
relationships between sources (source_graph.py), users, settings and the audit log
(administration.py), imports (imports.py), looking after
versions (maintenance.py), and here reading versions, diffs, logs and metrics. The CLI and
the Dagster code location call only this class.
"""

from __future__ import annotations

from typing import NoReturn

from manifold_pipelines.access import requires
from manifold_pipelines.core.models import DataSource, ImportHistoryEntry, source_label
from manifold_pipelines.core.permissions import projects_with
from manifold_pipelines.errors import NotFoundError
from manifold_pipelines.maintenance import VersionMaintenance
from manifold_pipelines.quality.models import QualityMetric
from manifold_pipelines.versions.diff import check_limit, limit_details, no_limit_as_sql
from manifold_pipelines.versions.models import (
    DataDiff,
    DataVersion,
    ImportLog,
    ImportResult,
    SchemaVersion,
    VersionInfo,
)


class SeparatedDatabaseManager(VersionMaintenance):
    """Projects and data sources in core.db; each source's versions in its own SQLite file.

    `home` defaults to `MANIFOLD_HOME` (or `./manifold_home`). `user` is who the audit log
    names as acting; it defaults to `MANIFOLD_USER`, else the implied local admin.
    """

    def __enter__(self) -> SeparatedDatabaseManager:
        return self

    @requires("viewer", "read data")
    def get_latest_data(self, project_id: str, source_id: str) -> DataVersion:
        """The newest published version; held-back versions are skipped."""
        source = self._read_source(project_id, source_id, "latest")
        with self._open(source) as store:
            version = store.latest_version()
            if version is None:
                raise_no_versions(source)
            return store.read_version(version)

    @requires("viewer", "read data")
    def get_data_version(self, project_id: str, source_id: str, version: int) -> DataVersion:
        source = self._read_source(project_id, source_id, "version", version=version)
        with self._open(source) as store:
            return store.read_version(version)

    @requires("viewer", "read data")
    def get_data_diff(
        self,
        project_id: str,
        source_id: str,
        from_version: int,
        to_version: int,
        *,
        limit: int | None = None,
    ) -> DataDiff:
        """Diff any two versions with the source's current diff key, ignore-list and
        tolerances. `limit` caps each details list; the counts stay complete."""
        check_limit(limit, source_label(project_id, source_id))
        source = self._read_source(
            project_id, source_id, "diff", versions=[from_version, to_version]
        )
        options = self._import_options(source, True, None)
        with self._open(source) as store:
            diff = store.diff(from_version, to_version, options.key_spec, options.diff_settings)
        return limit_details(diff, limit)

    @requires("viewer", "read data")
    def list_versions(self, project_id: str, source_id: str) -> list[VersionInfo]:
        with self._open(self._read_source(project_id, source_id, "versions")) as store:
            return store.list_versions()

    @requires("editor", "publish versions")
    def publish_version(self, project_id: str, source_id: str, version: int) -> VersionInfo:
        source = self._source(project_id, source_id)
        with self._open(source) as store:
            store.publish(version)
            info = next(v for v in store.list_versions() if v.version == version)
        with self.core.writing():
            self.core.audit(
                "publish", "data_source", source.qualified_id, details={"version": version}
            )
        return info

    @requires("editor", "roll back")
    def rollback(self, project_id: str, source_id: str, version: int) -> ImportResult:
        """Make `version`'s records current again, as a new version: history is never
        rewritten, and the next import diffs against what was rolled back to."""
        old = self.get_data_version(project_id, source_id, version)
        return self.import_data(
            project_id,
            source_id,
            old.data,
            schema=old.schema,
            metadata={**old.metadata, "rollbackOf": version},
            mode="snapshot",  # the whole old version, also for an incremental source
        )

    @requires("viewer", "read data")
    def get_schema_history(self, project_id: str, source_id: str) -> list[SchemaVersion]:
        with self._open(self._read_source(project_id, source_id, "schema_history")) as store:
            return store.schema_history()

    @requires("viewer", "read data")
    def get_import_logs(
        self, project_id: str, source_id: str, limit: int | None = 100
    ) -> list[ImportLog]:
        """Newest first; `limit` None for all of them."""
        check_limit(limit, source_label(project_id, source_id), "import logs")
        with self._open(self._read_source(project_id, source_id, "import_logs")) as store:
            return store.import_logs(no_limit_as_sql(limit))

    @requires("viewer", "read data")
    def get_quality_metrics(
        self, project_id: str, source_id: str, version: int | None = None
    ) -> list[QualityMetric]:
        """A version's metrics, the latest version's (held or not) by default."""
        source = self._read_source(project_id, source_id, "quality_metrics")
        with self._open(source) as store:
            chosen = version if version is not None else store.latest_version(published_only=False)
            if chosen is None:
                raise_no_versions(source)
            return store.quality_metrics(chosen)

    @requires("viewer", "read import history", shows="those of projects it has a role in")
    def import_history(
        self, project_id: str | None = None, source_id: str | None = None, limit: int | None = 100
    ) -> list[ImportHistoryEntry]:
        """Finished imports, newest first, from core.db alone; without a project, those of
        the projects the caller may read. `limit` None for all of them."""
        check_limit(limit, "Import history", "entries")
        limit = no_limit_as_sql(limit)
        readable = None if project_id else projects_with(self.core.users, self.user, "viewer")
        return self.core.history.recent(project_id, source_id, limit, readable)


def raise_no_versions(source: DataSource) -> NoReturn:
    raise NotFoundError(
        f"{source_label(source.project_id, source.id)} has no published version yet. Import data"
        " first, or publish a held version."
    )
