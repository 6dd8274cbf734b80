"""Imports: running a source and writing what it gives as the next version.

The import half of the Python API. It holds no storage logic of its own: it looks the
source up in core.db, opens the source's VersionStore, writes the version in one
transaction there, and mirrors what happened back into core.db (import history, last sync
time, audit log).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from manifold_pipelines.access import Access, enforce, requires
from manifold_pipelines.administration import Administration
from manifold_pipelines.core.models import DataSource, SourceStatus, source_label
from manifold_pipelines.core.source_config import dump_source_config, parse_source_config
from manifold_pipelines.errors import (
    ConfigError,
    DatabaseError,
    ManifoldError,
    RecordsError,
    StorageError,
)
from manifold_pipelines.import_inputs import check_state, diff_settings, keeping_first
from manifold_pipelines.sources.base import RunContext, SourceRun
from manifold_pipelines.sources.registry import runner_for
from manifold_pipelines.timestamps import now_text, to_text
from manifold_pipelines.versions.gc_pause import gc_paused
from manifold_pipelines.versions.models import (
    DryRunResult,
    ImportMode,
    ImportResult,
)
from manifold_pipelines.versions.records import (
    KeySpec,
    require_json,
    require_record_list,
)
from manifold_pipelines.versions.store import VersionStore
from manifold_pipelines.versions.writer import (
    ImportOptions,
    LogText,
    StateText,
    fail_import,
    preview_version,
    start_import,
    write_version,
)


class Imports(Administration):
    """Import records, or run a source and import what it returns."""

    def _open(self, source: DataSource) -> VersionStore:
        return self.backend.versions(self.core.get_project(source.project_id), source.id)

    @requires("editor", "import data")
    def import_data(
        self,
        project_id: str,
        source_id: str,
        records: Iterable[Any],
        schema: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        enable_diff: bool | None = None,
        diff_key: str | list[str] | None = None,
        *,
        log: str | None = None,
        created_at: datetime | None = None,
        mode: ImportMode | None = None,
        deleted: Iterable[Any] | None = None,
        state: dict[str, Any] | None = None,
    ) -> ImportResult:
        """Import `records` as the next version. On any error nothing is written but the
        failed import's log entry, and the latest good version stays as it was.
        `created_at` dates the version otherwise than now (migrations keep their times).
        `mode` (the source's by default): "incremental" takes `records` as upserts by the diff
        key and `deleted` as the keys to remove (key values, or objects holding the key
        fields); `state` (a JSON object) commits with the version, in either mode."""
        source = self._source(project_id, source_id)
        options = self._import_options(source, enable_diff, diff_key, mode)
        if state is not None:
            check_state(state, source_label(*source.key))
        if deleted is not None and (
            isinstance(deleted, (dict, str, bytes)) or not isinstance(deleted, Iterable)
        ):
            raise RecordsError(
                f"{source_label(*source.key)}: deleted must be a list of keys, got"
                f" {type(deleted).__name__}. Wrap a single key in a list: [key]. Nothing was"
                " imported."
            )
        return self._import(
            source,
            records,
            options,
            schema,
            metadata,
            lambda: log,
            created_at=to_text(created_at) if created_at else None,
            deleted=deleted or (),
            state=lambda: state,
        )

    @requires("viewer", "read data")
    def get_source_state(self, project_id: str, source_id: str) -> dict[str, Any]:
        """The state the source's last import committed ({} before any): an incremental
        source's cursor. A held version's state counts: its data arrived."""
        source = self._read_source(project_id, source_id, "state")
        with self._open(source) as store:
            return store.committed_state()

    @requires("editor", "change source state")
    def set_source_state(
        self, project_id: str, source_id: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace the committed state, to reset or rewind a cursor for a backfill; the next
        run starts from it. Audited with the state before and after."""
        source = self._source(project_id, source_id)
        check_state(state, source_label(*source.key))
        with self._open(source) as store, store.writing():
            before = store.committed_state()
            store.save_state(state, None)
        with self.core.writing():
            self.core.audit(
                "set_state", "data_source", source.qualified_id, before=before, after=state
            )
        return state

    @requires("editor", "run data sources")
    def run_data_source(
        self, project_id: str, source_id: str, *, config: dict[str, Any] | None = None
    ) -> ImportResult:
        """Run the source and import what it returns as the next version; its console output
        and any error go into the import log. `config` runs with that config instead of the
        saved one (Dagster pins the config it loaded). A run refused before it starts (a
        config that does not validate, an env name off the allow-list, an upstream it may not
        read) is logged as a failed import too, so status, history and alerts see it."""
        saved = self._source(project_id, source_id)
        try:
            source, run, started_from = self._start_run(project_id, source_id, config)
        except ManifoldError as exc:
            self._fail_before_run(saved, str(exc))
            raise
        try:
            options = self._import_options(source, None, None)
            return self._import(
                source,
                run.records(),
                options,
                None,
                None,
                run.log.text,
                deleted=run.deleted,
                state=run.final_state,
                state_base=started_from,
            )
        finally:
            run.close()

    @requires("editor", "preview data sources")
    def preview_data_source(
        self, project_id: str, source_id: str, *, config: dict[str, Any] | None = None
    ) -> DryRunResult:
        """Run the source (or a draft `config` of it) and write nothing: the result holds the
        diff against the latest version, the record count and the first records, so an edited
        script can be checked before it is saved. It runs the script for real, so it needs the
        editor role."""
        source, run, _ = self._start_run(project_id, source_id, config)
        try:
            first: list[Any] = []
            records = keeping_first(run.records(), first)
            with self._open(source) as store, gc_paused():
                preview = preview_version(
                    store,
                    records,
                    self._import_options(source, None, None),
                    run.deleted,
                    run.final_state,
                )
            return DryRunResult(preview=preview, records=first, log=run.log.text())
        finally:
            run.close()

    def _start_run(
        self, project_id: str, source_id: str, config: dict[str, Any] | None
    ) -> tuple[DataSource, SourceRun, dict[str, Any]]:
        """The source (with a draft config), its run started, and the committed state the run
        starts from."""
        source = self._source(project_id, source_id)
        label = source_label(*source.key)
        if config is not None:
            draft = parse_source_config(source.type, config, where=label)
            source = source.model_copy(update={"config": draft})
        self._check_env(source.config, label)
        with self._open(source) as store:
            committed = store.committed_state()
        context = RunContext(
            settings=self.settings,
            inputs=self._upstream_inputs(source),
            data_folders=tuple(self._data_folders().values()),
            state=committed,
        )
        return source, runner_for(source.type).start(source, context), committed

    def _upstream_inputs(self, source: DataSource) -> dict[str, list[dict[str, Any]]]:
        """Latest published data of each upstream source, by source id, for `inputs.<id>`.
        The run reads them for the acting user: it needs the viewer role on each upstream's
        project, and each is audited as a read. A link into another project also needs whoever
        made it to still have that role: scheduled runs act as `dagster`, and a link must not
        keep feeding a project's data to someone whose access has been taken away."""
        inputs = {}
        for link in self.core.relationships.list(source.key):
            project_id, source_id = link.upstream
            upstream_name = f"{project_id}/{source_id}"
            self._check_access(
                Access("viewer", "project", f"read upstream '{upstream_name}'"), project_id
            )
            if project_id != source.project_id and link.created_by is not None:
                enforce(
                    self.core,
                    link.created_by,
                    Access(
                        "viewer",
                        "project",
                        f"keep feeding '{upstream_name}' into '{source.qualified_id}', a link"
                        " it made (an admin of the upstream's project can link it again)",
                    ),
                    project_id,
                )
            upstream = self._read_source(project_id, source_id, "input", of=source.qualified_id)
            with self._open(upstream) as store:
                version = store.latest_version()
                inputs[source_id] = [] if version is None else store.read_version(version).data
        return inputs

    def _import(
        self,
        source: DataSource,
        records: Iterable[Any],
        options: ImportOptions,
        schema: dict[str, Any] | None,
        metadata: dict[str, Any] | None,
        log: LogText,
        created_at: str | None = None,
        deleted: Iterable[Any] = (),
        state: StateText = lambda: None,
        state_base: dict[str, Any] | None = None,
    ) -> ImportResult:
        started = time.perf_counter()
        with self._open(source) as store:
            self._mirror_history(store, source)
            log_id = start_import(store)
            self._set_status(source, "running")
            try:
                require_record_list(records, store.label)
                require_json(metadata or {}, "metadata", store.label)
                require_json(schema or {}, "the declared schema", store.label)
                with gc_paused():
                    result = write_version(
                        store,
                        records,
                        options,
                        log_id=log_id,
                        started=started,
                        declared_schema=schema,
                        metadata=metadata,
                        log=log,
                        created_at=created_at,
                        deleted=deleted,
                        state=state,
                        state_base=state_base,
                    )
            except DatabaseError as exc:
                fail_import(store, log_id, f"storage error: {exc}", started, log)
                self._mirror_history(store, source)
                self._set_status(source, "failed")
                raise StorageError(
                    f"{store.label}: the import could not be written ({exc}). Nothing was"
                    " imported; check free disk space and that the storage is writable."
                ) from exc
            except BaseException as exc:
                # Whatever stopped the import (a user's error, a generator that raised, an
                # interrupt) is logged as its failure before it propagates.
                fail_import(store, log_id, str(exc) or type(exc).__name__, started, log)
                self._mirror_history(store, source)
                self._set_status(source, "failed")
                raise
            self._mirror_history(store, source)
        with self.core.writing():
            self.core.set_status(source.project_id, source.id, "idle")
            self.core.audit(
                "import",
                "data_source",
                source.qualified_id,
                details={
                    "version": result.version,
                    "records": result.record_count,
                    "status": result.status,
                },
            )
        return result

    def _fail_before_run(self, source: DataSource, error: str) -> None:
        started = time.perf_counter()
        with self._open(source) as store:
            fail_import(store, start_import(store), error, started, lambda: None)
            self._mirror_history(store, source)
        self._set_status(source, "failed")

    def _set_status(self, source: DataSource, status: SourceStatus) -> None:
        with self.core.writing():
            self.core.set_status(source.project_id, source.id, status)

    def _import_options(
        self,
        source: DataSource,
        enable_diff: bool | None,
        diff_key: str | list[str] | None,
        mode: ImportMode | None = None,
    ) -> ImportOptions:
        config = source.config
        mode = config.mode if mode is None else mode
        if mode not in ("snapshot", "incremental"):
            raise ConfigError(
                f"{source_label(*source.key)}: mode {mode!r} is not an import mode; use"
                " 'snapshot' or 'incremental'."
            )
        report_diff = config.enable_diff if enable_diff is None else enable_diff
        if diff_key is not None:
            config = parse_source_config(
                source.type,
                {**dump_source_config(source.config), "diffKey": diff_key},
                where=source_label(source.project_id, source.id),
            )
        # An incremental import matches records by key even when no diff is reported.
        keyless = config.keyless_diff or (not report_diff and mode == "snapshot")
        return ImportOptions(
            key_spec=KeySpec(None if keyless else config.diff_key_fields),
            report_diff=report_diff,
            diff_settings=diff_settings(source),
            quality=config.quality,
            mode=mode,
        )

    def _mirror_history(self, store: VersionStore, source: DataSource) -> None:
        """Copy finished import logs that core.db has not seen yet. The data file commits
        first, so a crash between the two commits is healed on the next call."""
        # Concurrent imports finish out of log-id order, so look for gaps, not past a maximum.
        window = 500
        mirrored = self.core.history.mirrored_log_ids(source.project_id, source.id, window)
        floor = min(mirrored) if len(mirrored) == window else 0
        logs = [
            log
            for log in store.import_logs(limit=1_000_000, after_id=floor, with_text=False)
            if log.status != "pending" and log.id not in mirrored
        ]
        if not logs:
            return
        statuses = store.version_statuses([log.version for log in logs if log.version])
        with self.core.writing():
            for log in sorted(logs, key=lambda entry: entry.id):
                version_status, quality_status = statuses.get(log.version or 0, (None, None))
                self.core.history.record(
                    {
                        "project_id": source.project_id,
                        "source_id": source.id,
                        "import_log_id": log.id,
                        "version": log.version,
                        "status": log.status,
                        "started_at": log.started_at.isoformat(),
                        "finished_at": (log.finished_at or log.started_at).isoformat(),
                        "duration_ms": log.duration_ms or 0,
                        "records_processed": log.records_processed,
                        "error": log.error,
                        "quality_status": quality_status,
                        "version_status": version_status,
                    },
                )
            self.core.mark_synced(source.project_id, source.id, now_text())

    def _read_source(
        self, project_id: str, source_id: str, what: str, **details: Any
    ) -> DataSource:
        """A source whose data is about to be read, with the read in the audit log; the
        caller's access was checked by its `@requires`."""
        source = self._source(project_id, source_id)
        with self.core.writing():
            self.core.audit("read", "data_source", source.qualified_id, details={what: details})
        return source
