"""The benchmark script is how speed is measured; a tiny run keeps it from rotting."""

from __future__ import annotations

import pytest

from manifold_tests.benchmarks import incremental, scale_out
from manifold_tests.benchmarks.versions import run


def test_benchmark_runs_and_reports_every_figure() -> None:
    figures = run(2000, seed=1)
    assert figures["v2 diff"] == {"added": 10, "removed": 10, "modified": 20, "totalChanges": 40}
    assert 0 < figures["bytes added by v2"] < figures["file size after v1 bytes"]
    assert figures["whole-array"]["bytes added by v2"] > figures["bytes added by v2"]


def test_the_incremental_benchmark_runs_and_its_two_imports_agree() -> None:
    figures = incremental.run(2000, seed=1)
    assert figures["incremental v2 diff"] == figures["snapshot v2 diff"]
    assert figures["incremental v2 diff"]["modified"] == 20
    assert figures["bytes added by the incremental v2"] > 0


@pytest.mark.slow
@pytest.mark.scale_out
def test_the_scale_out_benchmark_runs_on_celery_workers() -> None:
    (figures,) = scale_out.run(2, [1], durable=False).values()
    assert figures["run recorded by Dagster s"] <= figures["command wall s"]
    assert figures["sources per minute"] > 0
