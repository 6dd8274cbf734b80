"""Benchmark of JavaScript sources: records streamed through the sandbox, and imported; and a
script paging an HTTP API.

    python -m manifold_tests.benchmarks.sandbox --records 100000 1000000

For each N, a script emits N records of 4 fields in batches of 10,000. Prints, each as the
median of `--repeat` runs with their range:
- the floor (sandbox_floor.py): QuickJS building the records and serialising them with no
  host calls, plus orjson parsing their JSON; and the building alone;
- the sandbox alone (child start, QuickJS, the host calls, the parent's parse), its
  records/s and its ratio to the floor;
- a direct v1 `import_data` of the same records, and the whole `run_data_source` (sandbox
  and v1 import) as a ratio to the sandbox alone plus the direct import;
each with wall and CPU time (this process and the sandbox child apart), page faults and
peak memory. Then the paging case (sandbox_paging.py): `--pages` pages of `--page-records`
records, to a first version, next to a direct import of the same records.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import RunContext
from manifold_pipelines.sources.registry import runner_for
from manifold_tests.benchmarks import sandbox_paging
from manifold_tests.benchmarks.child_cost import measured_with_children
from manifold_tests.benchmarks.measure import figure_names, measured, spread
from manifold_tests.benchmarks.sandbox_floor import quickjs_floor

SCRIPT = Path(__file__).parents[1] / "cases" / "scripts" / "good" / "streams_batches.js"
BATCH = 10_000


def streamed_record(i: int) -> dict[str, Any]:
    """The record streams_batches.js builds as its i-th."""
    return {"id": i, "name": f"record {i}", "bucket": i % 7, "even": i % 2 == 0}


def run(records: int) -> dict[str, Any]:
    script = SCRIPT.read_text()
    floor = quickjs_floor(script, records, BATCH, streamed_record)
    floor_wall = floor["build and serialise"].wall + floor["parse"].wall
    floor_cpu = sum(cost.user + cost.system for name, cost in floor.items() if name != "build")
    direct = [streamed_record(i) for i in range(records)]
    with tempfile.TemporaryDirectory() as tmp:
        manager = SeparatedDatabaseManager(Path(tmp) / "home")
        manager.create_project(name="Bench", id="bench")
        for source_id in ("stream", "direct"):
            manager.create_data_source(
                "bench",
                name=source_id,
                type="javascript",
                id=source_id,
                config={"script": script, "variables": {"total": records}, "timeoutSeconds": 600},
            )
        source = manager.get_data_source("bench", "stream")
        context = RunContext(settings=manager.settings)

        def through_sandbox() -> int:
            sandbox_run = runner_for("javascript").start(source, context)
            try:
                return sum(1 for _ in sandbox_run.records())
            finally:
                sandbox_run.close()

        sandbox, count = measured_with_children(through_sandbox)
        imported, _ = measured(lambda: manager.import_data("bench", "direct", direct))
        direct.clear()  # the run below imports with these freed
        whole, result = measured_with_children(lambda: manager.run_data_source("bench", "stream"))
        manager.close()
    assert count == result.record_count == records
    imported_cpu = imported.user + imported.system
    return {
        "floor: QuickJS builds the records s": floor["build"].wall,
        "floor: QuickJS builds and serialises them s": floor["build and serialise"].wall,
        "floor: orjson parses their JSON s": floor["parse"].wall,
        "floor s": floor_wall,
        "floor cpu s": floor_cpu,
        **sandbox.figures("sandbox alone"),
        "sandbox records/s": records / sandbox.own.wall,
        "ratio sandbox / floor (wall)": sandbox.own.wall / floor_wall,
        "ratio sandbox / floor (cpu)": sandbox.cpu / floor_cpu,
        **imported.figures("direct v1 import_data"),
        **whole.figures("run_data_source"),
        "ratio run_data_source / (sandbox + import) (wall)": whole.own.wall
        / (sandbox.own.wall + imported.wall),
        "ratio run_data_source / (sandbox + import) (cpu)": whole.cpu
        / (sandbox.cpu + imported_cpu),
    }


def print_runs(title: str, runs: list[dict[str, Any]]) -> None:
    print(f"{title}  runs: {len(runs)} (medians [min-max])")
    for name in figure_names(runs):  # a figure some runs lack: the spread of those that have it
        found = [figures[name] for figures in runs if name in figures]
        print(f"  {name:<62}{spread(found):>34}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs; medians are printed")
    parser.add_argument("--pages", type=int, default=50)
    parser.add_argument("--page-records", type=int, default=10_000)
    args = parser.parse_args()
    print("load average: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))
    for records in args.records:
        print_runs(f"records: {records:,}", [run(records) for _ in range(args.repeat)])
    paging = [sandbox_paging.run(args.pages, args.page_records) for _ in range(args.repeat)]
    total = args.pages * args.page_records
    print_runs(f"paging: {args.pages} pages of {args.page_records:,} ({total:,} records)", paging)
    print("load average: " + " ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
