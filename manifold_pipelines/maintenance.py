"""Looking after versions once they exist: retention, archives, and one record's history.

A layer of SeparatedDatabaseManager over imports: restoring an archived version is an import.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from manifold_pipelines.access import requires
from manifold_pipelines.core.models import source_label
from manifold_pipelines.core.permissions import PermissionDeniedError, is_instance_admin
from manifold_pipelines.errors import ConfigError, NotFoundError
from manifold_pipelines.files import archive_target
from manifold_pipelines.imports import Imports
from manifold_pipelines.timestamps import from_text, to_text, utc_now
from manifold_pipelines.versions.archive import (
    ArchivedVersion,
    ArchivedVersionInfo,
    archive_versions,
    iter_archive,
)
from manifold_pipelines.versions.models import CleanupResult, ImportResult, RecordChange
from manifold_pipelines.versions.record_history import key_history
from manifold_pipelines.versions.records import key_of_value
from manifold_pipelines.versions.retention import prune_versions


class VersionMaintenance(Imports):
    """Retention, archiving and record history over the manager's stores."""

    @requires("editor", "prune versions")
    def cleanup(
        self,
        project_id: str,
        source_id: str,
        keep_versions: int | None = None,
        keep_days: float | None = None,
    ) -> CleanupResult:
        """Prune old versions; with neither limit given, the source's retention config."""
        source = self._source(project_id, source_id)
        if keep_versions is None and keep_days is None:
            keep_versions = source.config.retention.keep_versions
            keep_days = source.config.retention.keep_days
        with self._open(source) as store:
            result = prune_versions(store, keep_versions=keep_versions, keep_days=keep_days)
        with self.core.writing():
            self.core.audit(
                "cleanup",
                "data_source",
                source.qualified_id,
                details={"pruned": result.pruned_versions},
            )
        return result

    @requires("editor", "archive versions")
    def archive_versions(
        self, project_id: str, source_id: str, before: int
    ) -> tuple[Path, CleanupResult]:
        """Write versions older than `before` to MANIFOLD_HOME/archive as gzip'd JSON Lines,
        then remove them from the live file."""
        source = self._source(project_id, source_id)
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        target = archive_target(
            self.settings, project_id, f"{source_id}-before-v{before}-{stamp}.jsonl.gz"
        )
        with self._open(source) as store:
            result = archive_versions(store, before, target, to_text(source.created_at))
        with self.core.writing():
            self.core.audit(
                "archive",
                "data_source",
                source.qualified_id,
                details={"archived": result.pruned_versions, "file": str(target)},
            )
        return target, result

    @requires("editor", "restore versions")
    def restore_archived(
        self, project_id: str, source_id: str, archive: Path, version: int
    ) -> ImportResult:
        """Make an archived version current again, as a new version (like rollback)."""
        for entry in self._archived(project_id, source_id, archive):
            if entry.version == version:
                return self.import_data(
                    project_id,
                    source_id,
                    entry.records,
                    schema=entry.declared_schema,
                    metadata={
                        **entry.metadata,
                        "restoredFrom": archive.name,
                        "restoredVersion": version,
                    },
                    mode="snapshot",  # the whole archived version, whatever the source's mode
                )
        raise NotFoundError(f"{archive.name} holds no version {version}.")

    @requires("viewer", "read data")
    def list_archived(
        self, project_id: str, source_id: str, archive: Path
    ) -> list[ArchivedVersionInfo]:
        """The versions an archive of this source holds; reading it is reading the source's
        data, so it needs the viewer role on the source and is audited."""
        self._read_source(project_id, source_id, "archive", file=archive.name)
        return [entry.info() for entry in self._archived(project_id, source_id, archive)]

    def _archived(
        self, project_id: str, source_id: str, archive: Path
    ) -> Iterator[ArchivedVersion]:
        """The archive's versions, each checked to be of this source: an archive is
        untrusted, and one of another source must not restore here."""
        label = source_label(project_id, source_id)
        born = self._source(project_id, source_id).created_at
        for entry in iter_archive(archive):
            if entry.source != label:
                raise ConfigError(
                    f"{archive.name} archives {entry.source}, not {label}. Restore it into"
                    " the source it came from."
                )
            # Older archives carry no creation mark: a version made before this source
            # existed belongs to an earlier source of the same id.
            earlier = (
                entry.source_created_at != to_text(born)
                if entry.source_created_at is not None
                else from_text(entry.created_at) < born
            )
            if earlier and not is_instance_admin(self.core.users, self.user):
                raise PermissionDeniedError(
                    f"{archive.name} holds versions of an earlier {label}, deleted since;"
                    " this source only shares its id. Only an instance admin may read it."
                )
            yield entry

    @requires("viewer", "read data")
    def record_history(self, project_id: str, source_id: str, key: Any) -> list[RecordChange]:
        """Every change of one record across the versions still kept, field by field. `key`
        is the diff key's value (a list for a composite key)."""
        source = self._read_source(project_id, source_id, "record_history", key=key)
        options = self._import_options(source, True, None)
        if options.key_spec.keyless:
            raise ConfigError(
                f"{source_label(*source.key)} is diffed without a key, so records have no"
                " history of their own. Set diffKey to follow records across versions."
            )
        fields = options.key_spec.fields or ()
        with self._open(source) as store:
            return key_history(store, key_of_value(key) or "", fields)
