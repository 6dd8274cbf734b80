"""One Dagster asset per enabled data source: materializing it runs the source and imports
a version, then reports the version's figures as metadata and its quality as checks."""

import contextlib
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import dagster as dg

from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.manager import SeparatedDatabaseManager
from manifold_pipelines.orchestration.checks import build_check_specs, check_results
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot, PinnedSource
from manifold_pipelines.versions.models import DataDiff, ImportResult

DAGSTER_USER = "dagster"
PREVIEW_CHANGES = 10
LOG_EXCERPT_LINES = 40


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
    spec = dg.AssetSpec(
        key,
        deps=[asset_key(*up) for up in upstream],
        description=config.description or f"{source.name} ({source.type} source)",
        group_name=dagster_name(source.project_id),
        owners=config.owners,
        tags=config.tags,
        kinds={"sqlite", source.type},
        metadata={
            "manifold/source": f"{source.project_id}/{source.id}",
            "manifold/type": source.type,
            "manifold/sync_interval_minutes": source.sync_interval,
            "manifold/diff_key": "content hash" if config.keyless_diff else config.diff_key,
            "manifold/config": dg.MetadataValue.json(_config_summary(source.config)),
        },
    )

    @dg.multi_asset(
        name=dagster_name(*source.key),
        specs=[spec],
        check_specs=build_check_specs(key, config),
    )
    def _materialize(context: dg.AssetExecutionContext) -> Iterator[Any]:
        with SeparatedDatabaseManager(home, user=DAGSTER_USER) as manager:
            try:
                result = manager.run_data_source(*source.key, config=source.config)
            except ManifoldError as exc:
                with contextlib.suppress(ManifoldError):  # e.g. the source is gone entirely
                    _relay_log(context, manager, source)
                raise dg.Failure(description=str(exc)) from exc
            assert isinstance(result, ImportResult)
            log_text = _relay_log(context, manager, source)
            schema = manager.get_schema_history(*source.key)[-1].schema
        yield dg.MaterializeResult(asset_key=key, metadata=_metadata(result, schema, log_text))
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


def _config_summary(config: dict[str, Any]) -> dict[str, Any]:
    """The config as shown in the UI: scripts shortened, mock bodies left out."""
    summary = dict(config)
    script = summary.get("script")
    if isinstance(script, str) and len(script) > 400:
        summary["script"] = script[:400] + "..."
    if "mockResponses" in summary:
        summary["mockResponses"] = sorted(summary["mockResponses"])
    return summary


def _relay_log(
    context: dg.AssetExecutionContext, manager: SeparatedDatabaseManager, source: PinnedSource
) -> str:
    """The run's console output and runner lines, into the Dagster run log."""
    logs = manager.get_import_logs(*source.key, limit=1)
    text = (logs[0].log or "") if logs else ""
    for line in text.splitlines():
        if line.startswith("[error]"):
            context.log.error(line)
        elif line.startswith("[warn]"):
            context.log.warning(line)
        else:
            context.log.info(line)
    return text


def _metadata(result: ImportResult, schema: dict[str, Any], log_text: str) -> dict[str, Any]:
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
        "changes": dg.MetadataValue.md(_preview(diff)),
        "import_log": dg.MetadataValue.md(f"```\n{excerpt}\n```" if excerpt else "(empty)"),
    }


def _preview(diff: DataDiff | None) -> str:
    """The first changes as a Markdown table: old -> new per field."""
    if diff is None:
        return "Diffing is off for this source."
    if diff.total_changes == 0:
        return "No changes since the previous version."
    lines = [
        f"**{diff.added} added, {diff.removed} removed, {diff.modified} modified**",
        "",
        "| change | record | field | old | new |",
        "|---|---|---|---|---|",
    ]
    rows: list[str] = []
    for item in diff.details.modified[:PREVIEW_CHANGES]:
        for name, change in item.changes.items():
            rows.append(
                f"| modified | {_short(item.new)} | {name} | {_short(change.old_value)}"
                f" | {_short(change.new_value)} |"
            )
    rows += [f"| added | {_short(r)} | | | |" for r in diff.details.added[:PREVIEW_CHANGES]]
    rows += [f"| removed | {_short(r)} | | | |" for r in diff.details.removed[:PREVIEW_CHANGES]]
    return "\n".join(lines + rows[: PREVIEW_CHANGES * 3])


def _short(value: Any) -> str:
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
