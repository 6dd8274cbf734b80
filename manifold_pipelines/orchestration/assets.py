"""One Dagster asset per enabled data source: materializing it runs the source and imports
a version, then reports the version's figures as metadata and its quality as checks."""

import contextlib
import hashlib
import os
import re
import socket
from collections.abc import Iterator
from typing import Any

import dagster as dg

from manifold_pipelines.core.source_config import SourceConfig
from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.manager import SeparatedDatabaseManager
from manifold_pipelines.orchestration.changes import changes_preview
from manifold_pipelines.orchestration.checks import build_check_specs, check_results
from manifold_pipelines.orchestration.config_summary import config_markdown
from manifold_pipelines.orchestration.markdown import code_block, json_text
from manifold_pipelines.orchestration.redaction import Secrets, secrets_of
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot, PinnedSource
from manifold_pipelines.versions.models import ImportResult

DAGSTER_USER = "dagster"
LOG_EXCERPT_LINES = 40
STATE_LINES = 40


def dagster_name(*parts: str) -> str:
    """Op and group names allow [A-Za-z0-9_] only; ids also allow '-'. A short hash keeps two
    ids that differ only in '-' versus '_' apart."""
    raw = "__".join(parts)
    name = re.sub(r"[^A-Za-z0-9_]", "_", raw)
    return name if name == raw else f"{name}_{hashlib.sha1(raw.encode()).hexdigest()[:6]}"


def asset_key(project_id: str, source_id: str) -> dg.AssetKey:
    return dg.AssetKey([project_id, source_id])


def build_source_asset(
    source: PinnedSource, upstream: list[tuple[str, str]], home: str
) -> dg.AssetsDefinition:
    key = asset_key(*source.key)
    config = source.parsed_config()
    qualified = f"{source.project_id}/{source.id}"
    spec = dg.AssetSpec(
        key,
        deps=[asset_key(*up) for up in upstream],
        description=config.description or f"{source.name} ({source.type} source)",
        group_name=dagster_name(source.project_id),
        owners=config.owners,
        tags=config.tags,
        kinds={"sqlite", source.type},
        metadata={
            "manifold/source": qualified,
            "manifold/type": source.type,
            "manifold/sync_interval_minutes": source.sync_interval,
            "manifold/diff_key": "content hash" if config.keyless_diff else config.diff_key,
            "manifold/config": dg.MetadataValue.md(config_markdown(config, qualified)),
        },
    )

    @dg.multi_asset(
        name=dagster_name(*source.key),
        specs=[spec],
        check_specs=build_check_specs(key, config),
    )
    def _materialize(context: dg.AssetExecutionContext) -> Iterator[Any]:
        secrets = secrets_of(config)
        with SeparatedDatabaseManager(home, user=DAGSTER_USER) as manager:
            try:
                result = manager.run_data_source(*source.key, config=source.config)
            except ManifoldError as exc:
                # Not chained: Dagster would store the cause's message, secrets and all.
                raise _failure(context, manager, source, secrets.hide(str(exc)), secrets) from None
            log_text = _relay_log(context, manager, source, secrets)
            schema = manager.get_schema_history(*source.key)[-1].schema
            status = manager.get_data_source(*source.key).status
        preview = changes_preview(result.diff, qualified, _key_fields(config))
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                **_metadata(result, schema, log_text, preview),
                **_incremental_metadata(result, secrets),
                "source_status": status,
                **_worker_metadata(),
            },
        )
        yield from check_results(key, result.quality, result.version)

    return _materialize


def build_source_assets(snapshot: CatalogSnapshot) -> list[dg.AssetsDefinition]:
    upstream: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for up, down in snapshot.relationships:
        upstream.setdefault(down, []).append(up)
    return [
        build_source_asset(source, upstream.get(source.key, []), snapshot.home)
        for source in snapshot.sources
    ]


def _key_fields(config: SourceConfig) -> tuple[str, ...]:
    """What names a record in the changes preview; nothing when records are matched by content."""
    return () if config.keyless_diff else config.diff_key_fields


def _failure(
    context: dg.AssetExecutionContext,
    manager: SeparatedDatabaseManager,
    source: PinnedSource,
    error: str,
    secrets: Secrets,
) -> dg.Failure:
    """The error and the source's status after the run (`failed` once the run got as far as
    importing) on the failure event: a failed run has no materialization to carry them."""
    metadata: dict[str, Any] = {"error": error, **_worker_metadata()}
    with contextlib.suppress(ManifoldError):  # e.g. the source is gone entirely
        _relay_log(context, manager, source, secrets)
        metadata["source_status"] = manager.get_data_source(*source.key).status
    return dg.Failure(description=error, metadata=metadata)


def _worker_metadata() -> dict[str, Any]:
    """The machine and process that ran the step: any worker may take it under Celery, and
    this is how a run shows which one did."""
    return {"worker_host": socket.gethostname(), "worker_pid": os.getpid()}


def _relay_log(
    context: dg.AssetExecutionContext,
    manager: SeparatedDatabaseManager,
    source: PinnedSource,
    secrets: Secrets,
) -> str:
    """The run's console output and runner lines, secrets hidden, into the Dagster run log."""
    logs = manager.get_import_logs(*source.key, limit=1)
    text = secrets.hide((logs[0].log or "") if logs else "")
    for line in text.splitlines():
        if line.startswith("[error]"):
            context.log.error(line)
        elif line.startswith("[warn]"):
            context.log.warning(line)
        else:
            context.log.info(line)
    return text


def _incremental_metadata(result: ImportResult, secrets: Secrets) -> dict[str, Any]:
    """The import's mode; for an incremental one what it applied and the state it committed
    (secrets hidden: a script may keep a token there)."""
    if result.mode != "incremental":
        return {"mode": result.mode}
    state = secrets.hide(json_text(result.state or {}, indent=2))
    return {
        "mode": result.mode,
        "upserts": result.upserts,
        "deletions": result.deletions,
        "state": dg.MetadataValue.md(code_block(state, "json", max_lines=STATE_LINES)),
    }


def _metadata(
    result: ImportResult, schema: dict[str, Any], log_text: str, preview: str
) -> dict[str, Any]:
    diff = result.diff
    columns = [
        dg.TableColumn(
            name,
            type="|".join(spec["types"]) or "null",
            constraints=dg.TableColumnConstraints(nullable=spec["nullable"]),
        )
        for name, spec in schema.get("fields", {}).items()
    ]
    excerpt = "\n".join(log_text.splitlines()[-LOG_EXCERPT_LINES:])
    return {
        "version": result.version,
        "status": result.status,
        "dagster/row_count": result.record_count,
        "added": diff.added if diff else None,
        "removed": diff.removed if diff else None,
        "modified": diff.modified if diff else None,
        "duration_ms": result.duration_ms,
        "file_size_bytes": result.file_size_bytes,
        "schema": dg.MetadataValue.table_schema(dg.TableSchema(columns=columns)),
        "changes": dg.MetadataValue.md(preview),
        "import_log": dg.MetadataValue.md(
            code_block(excerpt, max_lines=LOG_EXCERPT_LINES) if excerpt else "(empty)"
        ),
    }
