"""Benchmark of how long the `manifold` command takes to answer, against a bare Python start.

    python -m manifold_tests.benchmarks.cli_startup --repeat 7

Runs `python -c pass`, `manifold --help`, `manifold project list` and `manifold versions` on a
small home, each as a fresh process, and prints the median and spread of each, and each
command's figure above the bare start. Start-up is dominated by imports: the target is
within 0.3 s of a bare Python start for every command but `diff --format report`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from manifold_pipelines import SeparatedDatabaseManager

MANIFOLD = [sys.executable, "-m", "manifold_pipelines.cli"]


def timed(command: list[str], repeat: int) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        with SeparatedDatabaseManager(home) as manager:
            manager.create_project(name="Demo", id="demo")
            manager.create_data_source(
                "demo", name="API", type="javascript", id="api", config={"script": "return [];"}
            )
            manager.import_data("demo", "api", [{"id": n} for n in range(100)])
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "manifold --help": [*MANIFOLD, "--help"],
            "manifold project list": [*MANIFOLD, "--home", str(home), "project", "list"],
            "manifold versions demo/api": [*MANIFOLD, "--home", str(home), "versions", "demo/api"],
        }
        results = {name: timed(command, args.repeat) for name, command in commands.items()}
    bare = statistics.median(results["python -c pass"])
    print(f"{'command':32} {'median':>8} {'min':>8} {'max':>8} {'above bare':>11}")
    for name, seconds in results.items():
        median = statistics.median(seconds)
        print(
            f"{name:32} {median:8.3f} {min(seconds):8.3f} {max(seconds):8.3f} {median - bare:11.3f}"
        )


if __name__ == "__main__":
    main()
