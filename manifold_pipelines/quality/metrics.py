"""Computing the quality metrics of a new version from figures the import already has.

Nothing here reads records: completeness comes from the per-field type counts that the
version store keeps incrementally, rates from the diff counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from manifold_pipelines.core.metric_definitions import METRICS, METRICS_BY_NAME
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


Measured = list[tuple[str | None, float | None, str]]
"""(field or None, value or None when there is nothing to measure, description)."""


def _record_count(f: ImportFigures) -> Measured:
    return [(None, float(f.record_count), f"{f.record_count} records")]


def _completeness(f: ImportFigures) -> Measured:
    count = f.record_count
    return [
        (
            field,
            f.non_null_counts[field] / count if count else 1.0,
            f"{f.non_null_counts[field]} of {count} records have a non-null {field!r}",
        )
        for field in sorted(f.non_null_counts)
    ]


def _key_uniqueness(f: ImportFigures) -> Measured:
    count = f.record_count
    value = f.unique_records / count if count else 1.0
    return [(None, value, f"{f.unique_records} distinct of {count} records")]


def _change_rate(f: ImportFigures) -> Measured:
    changes = f.added + f.removed + f.modified
    return [_rate(f, changes, f"{changes} changes against")]


def _removed_rate(f: ImportFigures) -> Measured:
    return [_rate(f, f.removed, f"{f.removed} removed of")]


def _rate(f: ImportFigures, numerator: int, words: str) -> tuple[None, float | None, str]:
    previous = f.previous_count
    if not previous:
        return None, None, "no previous records to compare with"
    baseline = (
        f"{previous} previous records"
        if f.baseline_version is None
        else f"the {previous} records of published version {f.baseline_version}"
    )
    return None, numerator / previous, f"{words} {baseline}"


def _schema_changes(f: ImportFigures) -> Measured:
    changes = f.schema_changes
    return [(None, float(changes), f"{changes} fields added, removed or retyped")]


COMPUTE: dict[str, Callable[[ImportFigures], Measured]] = {
    "record_count": _record_count,
    "completeness": _completeness,
    "key_uniqueness": _key_uniqueness,
    "change_rate": _change_rate,
    "removed_rate": _removed_rate,
    "schema_changes": _schema_changes,
}
if set(COMPUTE) != set(METRICS_BY_NAME):
    # A metric registered without a computation (or the reverse) must not load quietly.
    raise RuntimeError(
        f"quality metrics without a computation: {sorted(set(METRICS_BY_NAME) - set(COMPUTE))};"
        f" computations of no registered metric: {sorted(set(COMPUTE) - set(METRICS_BY_NAME))}"
    )


def compute_metrics(figures: ImportFigures, config: QualityConfig) -> list[QualityMetric]:
    """Every metric of one import, in the registry's order, fields sorted within a metric."""
    return [
        QualityMetric(
            metric=definition.name,
            field=field,
            value=value,
            direction=definition.direction,
            warn_threshold=(threshold := config.threshold(definition.name, field)).warn,
            fail_threshold=threshold.fail,
            status=_status(value, definition.direction, threshold),
            blocking=definition.name in config.blocking,
            description=description,
        )
        for definition in METRICS
        for field, value, description in COMPUTE[definition.name](figures)
    ]


def blocks_publication(metrics: list[QualityMetric]) -> bool:
    return any(metric.blocking and metric.status == "fail" for metric in metrics)
