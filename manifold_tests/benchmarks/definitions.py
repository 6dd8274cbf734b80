"""Benchmark of the Dagster code location's load time by number of sources.

    python -m manifold_tests.benchmarks.definitions --sources 10 100 1000

For each N, builds a core.db with N JavaScript sources (mixed sync intervals, a chain of
relationships), then prints the time to build `defs` in-process and the wall time of
`dagster definitions validate -m manifold_pipelines.definitions` in a subprocess.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog

INTERVALS = [15, 30, 60, 90, 100, 1440, None]


def populate(home: Path, sources: int) -> None:
    with SeparatedDatabaseManager(home) as manager:
        for project in range(max(1, sources // 100)):
            manager.create_project(name=f"Project {project}", id=f"p{project}")
        for number in range(sources):
            project = f"p{number % max(1, sources // 100)}"
            manager.create_data_source(
                project,
                name=f"Source {number}",
                type="javascript",
                id=f"s{number}",
                config={"script": "return [{id: 1}];", "quality": {"blocking": ["removed_rate"]}},
                sync_interval=INTERVALS[number % len(INTERVALS)],
            )
            if number % 10:
                previous = number - 1
                manager.add_relationship(
                    f"p{previous % max(1, sources // 100)}/s{previous}", f"{project}/s{number}"
                )


def measure(sources: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        populate(home, sources)
        started = time.perf_counter()
        with SeparatedDatabaseManager(home) as manager:
            defs = build_definitions(read_catalog(manager))
        defs.resolve_asset_graph()
        built = time.perf_counter() - started
        dagster_home = Path(tmp) / "dagster_home"
        dagster_home.mkdir()
        env = {**os.environ, "MANIFOLD_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).with_name("dagster")),
                "definitions",
                "validate",
                "-m",
                "manifold_pipelines.definitions",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        validated = time.perf_counter() - started
    return {"build defs in-process s": built, "dagster definitions validate s": validated}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, nargs="+", default=[10, 100])
    args = parser.parse_args()
    for sources in args.sources:
        figures = measure(sources)
        print(f"sources: {sources:,}")
        for name, value in figures.items():
            print(f"  {name}: {value:.2f}")


if __name__ == "__main__":
    main()
