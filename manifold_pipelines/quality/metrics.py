"""Computing the quality metrics of a new version from figures the import already has.

Nothing here reads records: completeness comes from the per-field type counts that the
version store keeps incrementally, rates from the diff counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from manifold_pipelines.core.source_config import QualityConfig, Threshold
from manifold_pipelines.quality.models import MetricStatus, QualityMetric


@dataclass(frozen=True)
class ImportFigures:
    """What an import knows once its records are compared with the version they would replace
    as "latest": the last published one (`baseline_version`), not a held one, so that
    importing a held version's data again cannot publish it without a check."""

    record_count: int
    previous_count: int | None
    added: int
    removed: int
    modified: int
    unique_records: int
    non_null_counts: dict[str, int]
    schema_changes: int
    baseline_version: int | None = None


def _status(value: float | None, direction: str, threshold: Threshold) -> MetricStatus:
    if value is None:
        return "pass"

    def crosses(bound: float | None) -> bool:
        if bound is None:
            return False
        return value < bound if direction == "min" else value > bound

    if crosses(threshold.fail):
        return "fail"
    return "warning" if crosses(threshold.warn) else "pass"


def _metric(
    name: str,
    field: str | None,
    value: float | None,
    direction: str,
    threshold: Threshold,
    config: QualityConfig,
    description: str,
) -> QualityMetric:
    return QualityMetric(
        metric=name,
        field=field,
        value=value,
        direction=direction,  # type: ignore[arg-type]
        warn_threshold=threshold.warn,
        fail_threshold=threshold.fail,
        status=_status(value, direction, threshold),
        blocking=name in config.blocking,
        description=description,
    )


def compute_metrics(figures: ImportFigures, config: QualityConfig) -> list[QualityMetric]:
    """Every metric of one import, in a stable order: totals first, then each field."""
    count = figures.record_count
    previous = figures.previous_count
    rate_base = previous if previous else None
    changes = figures.added + figures.removed + figures.modified
    baseline = (
        f"{previous} previous records"
        if figures.baseline_version is None
        else f"the {previous} records of published version {figures.baseline_version}"
    )
    metrics = [
        _metric(
            "record_count",
            None,
            float(count),
            "min",
            config.record_count,
            config,
            f"{count} records",
        ),
        _metric(
            "key_uniqueness",
            None,
            figures.unique_records / count if count else 1.0,
            "min",
            config.key_uniqueness,
            config,
            f"{figures.unique_records} distinct of {count} records",
        ),
        _metric(
            "change_rate",
            None,
            changes / rate_base if rate_base else None,
            "max",
            config.change_rate,
            config,
            f"{changes} changes against {baseline}"
            if rate_base
            else "no previous records to compare with",
        ),
        _metric(
            "removed_rate",
            None,
            figures.removed / rate_base if rate_base else None,
            "max",
            config.removed_rate,
            config,
            f"{figures.removed} removed of {baseline}"
            if rate_base
            else "no previous records to compare with",
        ),
        _metric(
            "schema_changes",
            None,
            float(figures.schema_changes),
            "max",
            config.schema_changes,
            config,
            f"{figures.schema_changes} fields added, removed or retyped",
        ),
    ]
    for field in sorted(figures.non_null_counts):
        present = figures.non_null_counts[field]
        threshold = config.completeness_fields.get(field, config.completeness)
        metrics.append(
            _metric(
                "completeness",
                field,
                present / count if count else 1.0,
                "min",
                threshold,
                config,
                f"{present} of {count} records have a non-null {field!r}",
            )
        )
    return metrics


def blocks_publication(metrics: list[QualityMetric]) -> bool:
    return any(metric.blocking and metric.status == "fail" for metric in metrics)
