"""The benchmark script is how speed is measured; a tiny run keeps it from rotting."""

from __future__ import annotations

from manifold_tests.benchmarks.versions import run


def test_benchmark_runs_and_reports_every_figure() -> None:
    figures = run(2000, seed=1)
    assert figures["v2 diff"] == {"added": 10, "removed": 10, "modified": 20, "totalChanges": 40}
    assert 0 < figures["bytes added by v2"] < figures["file size after v1 bytes"]
    assert figures["whole-array"]["bytes added by v2"] > figures["bytes added by v2"]
