"""Quality metrics as asset checks: one check per metric, named as a predicate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg

from manifold_pipelines.core.metric_definitions import METRICS
from manifold_pipelines.core.source_config import SourceConfig
from manifold_pipelines.quality.models import QualityMetric

_RANK = {"pass": 0, "warning": 1, "fail": 2}


def build_check_specs(key: dg.AssetKey, config: SourceConfig) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            metric.check_name,
            asset=key,
            blocking=metric.name in config.quality.blocking,
            description=f"Manifold quality metric '{metric.name}' ({metric.measures}) against"
            " the source's thresholds.",
        )
        for metric in METRICS
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
    """pass -> passed; warning -> failed with WARN; fail -> failed with ERROR. A per-field
    metric (completeness) becomes one check with the worst field's status."""
    by_metric: dict[str, list[QualityMetric]] = {}
    for metric in metrics:
        by_metric.setdefault(metric.metric, []).append(metric)
    for definition in METRICS:
        group = by_metric.get(definition.name, [])
        worst = max(group, key=lambda m: _RANK[m.status], default=None)
        status = worst.status if worst else "pass"
        metadata: dict[str, Any] = {"version": version}
        if definition.per_field:
            metadata["fields"] = dg.MetadataValue.md(_field_table(group))
        if worst is not None:
            metadata.update(_threshold_metadata(worst))
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=definition.check_name,
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
