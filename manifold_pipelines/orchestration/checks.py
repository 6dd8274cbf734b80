"""Quality metrics as asset checks: one check per metric, named as a predicate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from manifold_pipelines.core.source_config import SourceConfig
from manifold_pipelines.quality.models import QualityMetric

CHECK_NAMES = {
    "record_count": "has_enough_records",
    "completeness": "fields_are_complete",
    "key_uniqueness": "keys_are_unique",
    "change_rate": "change_rate_within_threshold",
    "removed_rate": "removed_rate_within_threshold",
    "schema_changes": "schema_is_stable",
}
_RANK = {"pass": 0, "warning": 1, "fail": 2}


def build_check_specs(key: dg.AssetKey, config: SourceConfig) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name,
            asset=key,
            blocking=metric in config.quality.blocking,
            description=f"Manifold quality metric '{metric}' against the source's thresholds.",
        )
        for metric, name in CHECK_NAMES.items()
    ]


def _threshold_metadata(metric: QualityMetric) -> dict[str, Any]:
    return {
        "value": metric.value,
        "status": metric.status,
        "direction": metric.direction,
        "warn_threshold": metric.warn_threshold,
        "fail_threshold": metric.fail_threshold,
    }


def check_results(
    key: dg.AssetKey, metrics: list[QualityMetric], version: int
) -> Iterator[dg.AssetCheckResult]:
    """pass -> passed; warning -> failed with WARN; fail -> failed with ERROR. Completeness,
    one metric per field, becomes one check with the worst field's status."""
    by_metric: dict[str, list[QualityMetric]] = {}
    for metric in metrics:
        by_metric.setdefault(metric.metric, []).append(metric)
    for metric_name, check_name in CHECK_NAMES.items():
        group = by_metric.get(metric_name, [])
        worst = max(group, key=lambda m: _RANK[m.status], default=None)
        status = worst.status if worst else "pass"
        metadata: dict[str, Any] = {"version": version}
        if metric_name == "completeness":
            metadata["fields"] = dg.MetadataValue.md(_field_table(group))
        if worst is not None:
            metadata.update(_threshold_metadata(worst))
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=check_name,
            passed=status == "pass",
            severity=dg.AssetCheckSeverity.WARN
            if status == "warning"
            else dg.AssetCheckSeverity.ERROR,
            metadata=metadata,
            description=worst.description if worst else "no fields to measure",
        )


def _field_table(group: list[QualityMetric]) -> str:
    lines = [
        "| field | non-null share | warn below | fail below | status |",
        "|---|---|---|---|---|",
    ]
    for m in group:
        lines.append(
            f"| {m.field} | {m.value} | {m.warn_threshold} | {m.fail_threshold} | {m.status} |"
        )
    return "\n".join(lines)
