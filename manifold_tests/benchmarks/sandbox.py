"""Benchmark of JavaScript sources: records streamed through the sandbox, and imported.

    python -m manifold_tests.benchmarks.sandbox --records 100000 1000000

For each N, a script emits N records of 4 fields in batches of 10,000. Prints the time
through the sandbox alone (child start, QuickJS, serialisation, parent parse), records/s,
the time of the full run_data_source (the import included) and peak RSS of parent and child.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import RunContext
from manifold_pipelines.sources.registry import runner_for
from manifold_tests.benchmarks.memory import PeakRss

SCRIPT = Path(__file__).parents[1] / "cases" / "scripts" / "good" / "streams_batches.js"


def run(records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        manager = SeparatedDatabaseManager(Path(tmp) / "home")
        manager.create_project(name="Bench", id="bench")
        source = manager.create_data_source(
            "bench",
            name="Stream",
            type="javascript",
            id="stream",
            config={
                "script": SCRIPT.read_text(),
                "variables": {"total": records},
                "timeoutSeconds": 600,
            },
        )
        context = RunContext(settings=manager.settings)
        sandbox_peaks = PeakRss()
        with sandbox_peaks.watch():
            started = time.perf_counter()
            sandbox_run = runner_for("javascript").start(source, context)
            count = sum(1 for _ in sandbox_run.records())
            through = time.perf_counter() - started
        assert count == records
        import_peaks = PeakRss()
        with import_peaks.watch():
            started = time.perf_counter()
            result = manager.run_data_source("bench", "stream")
            imported = time.perf_counter() - started
        manager.close()
    assert result.record_count == records
    return {
        "sandbox only s": through,
        "sandbox records/s": records / through,
        "sandbox peak RSS parent MB": sandbox_peaks.peak_mb,
        "sandbox peak RSS child MB": sandbox_peaks.child_peak_mb,
        "run_data_source (with import) s": imported,
        "run_data_source records/s": records / imported,
        "run_data_source peak RSS parent MB": import_peaks.peak_mb,
        "run_data_source peak RSS child MB": import_peaks.child_peak_mb,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000])
    args = parser.parse_args()
    for records in args.records:
        print(f"records: {records:,}")
        for name, value in run(records).items():
            print(f"  {name}: {value:,.2f}")


if __name__ == "__main__":
    main()
