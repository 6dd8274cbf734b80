"""The sandbox benchmark is how the sandbox's speed is measured; a tiny run keeps it from
rotting and checks that its floor and its paging case measure what they say."""

from __future__ import annotations

from manifold_tests.benchmarks import sandbox, sandbox_paging


def test_the_sandbox_benchmark_reports_its_floor_and_ratios() -> None:
    figures = sandbox.run(3000)
    assert figures["floor: QuickJS builds the records s"] > 0 and figures["floor s"] > 0
    assert figures["ratio sandbox / floor (cpu)"] > 0
    assert figures["ratio run_data_source / (sandbox + import) (wall)"] > 0


def test_the_paging_case_takes_every_record_from_the_fetched_bodies() -> None:
    figures = sandbox_paging.run(pages=3, per_page=200)
    assert figures["records the host took from fetched bodies"] == 600
    assert figures["ratio run / direct import (wall)"] > 0
