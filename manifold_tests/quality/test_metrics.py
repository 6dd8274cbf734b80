"""Thresholds decide pass, warning or fail and whether a version is held: the boundaries
must be exact, since a blocking metric holds real data back."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pytest
from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from manifold_pipelines.core.metric_definitions import METRICS
from manifold_pipelines.core.source_config import JavascriptConfig, QualityConfig
from manifold_pipelines.orchestration.checks import build_check_specs, check_results
from manifold_pipelines.quality.metrics import (
    COMPUTE,
    ImportFigures,
    blocks_publication,
    compute_metrics,
)


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


def test_every_registered_metric_is_computed_configurable_checked_and_documented() -> None:
    """The registry is the one list: a metric missing from the computation, the config
    model, the Dagster checks or the README would otherwise be silently dropped."""
    names = [m.name for m in METRICS]
    computed = {m.metric for m in compute_metrics(figures(), QualityConfig())}
    assert computed == set(names) and set(COMPUTE) == set(names)
    config = QualityConfig.model_validate({to_camel(n): {"warn": 0.25} for n in names})
    assert all(config.threshold(name).warn == 0.25 for name in names)
    key = dg.AssetKey(["p", "s"])
    specs = build_check_specs(key, JavascriptConfig(script="x"))
    assert [spec.name for spec in specs] == [m.check_name for m in METRICS]
    results = check_results(key, compute_metrics(figures(), QualityConfig()), 1)
    assert [r.check_name for r in results] == [m.check_name for m in METRICS]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    rows = re.findall(
        r"^\| `(\w+)` \| ([^|]+) \| (min|max) \| `(\w+)` \| ([^|]+) \|$", readme, re.M
    )
    assert rows == [
        (m.name, m.measures, m.direction, m.check_name, m.describe_defaults()) for m in METRICS
    ]


def test_a_blocking_entry_that_is_not_a_metric_is_refused() -> None:
    with pytest.raises(ValidationError, match="'recordcount' is not a metric"):
        QualityConfig.model_validate({"blocking": ["recordcount"]})
