"""Thresholds decide pass, warning or fail and whether a version is held: the boundaries
must be exact, since a blocking metric holds real data back."""

from __future__ import annotations

import pytest

from manifold_pipelines.core.source_config import QualityConfig
from manifold_pipelines.quality.metrics import ImportFigures, blocks_publication, compute_metrics


def figures(**overrides: object) -> ImportFigures:
    values: dict = {
        "record_count": 100,
        "previous_count": 100,
        "added": 0,
        "removed": 0,
        "modified": 0,
        "unique_records": 100,
        "non_null_counts": {"id": 100, "email": 80},
        "schema_changes": 0,
    }
    values.update(overrides)
    return ImportFigures(**values)


@pytest.mark.parametrize(
    ("removed", "status"), [(10, "pass"), (11, "warning"), (50, "warning"), (51, "fail")]
)
def test_max_thresholds_are_exclusive_bounds(removed: int, status: str) -> None:
    metrics = compute_metrics(figures(removed=removed), QualityConfig())
    assert next(m for m in metrics if m.metric == "removed_rate").status == status


@pytest.mark.parametrize(("present", "status"), [(50, "pass"), (49, "warning")])
def test_min_thresholds_are_exclusive_bounds(present: int, status: str) -> None:
    metrics = compute_metrics(figures(non_null_counts={"email": present}), QualityConfig())
    assert next(m for m in metrics if m.field == "email").status == status


def test_only_blocking_failures_hold_a_version() -> None:
    config = QualityConfig.model_validate({"removedRate": {"fail": 0.05}})
    failing = compute_metrics(figures(removed=20), config)
    assert not blocks_publication(failing)
    blocking = QualityConfig.model_validate(
        {"removedRate": {"fail": 0.05}, "blocking": ["removed_rate"]}
    )
    assert blocks_publication(compute_metrics(figures(removed=20), blocking))
    assert not blocks_publication(compute_metrics(figures(removed=1), blocking))


def test_every_metric_says_what_it_measured() -> None:
    metrics = compute_metrics(figures(added=5, modified=5), QualityConfig())
    names = [(m.metric, m.field) for m in metrics]
    assert names == [
        ("record_count", None),
        ("key_uniqueness", None),
        ("change_rate", None),
        ("removed_rate", None),
        ("schema_changes", None),
        ("completeness", "email"),
        ("completeness", "id"),
    ]
    change = metrics[2]
    assert change.value == 0.1 and change.description == "10 changes against 100 previous records"
