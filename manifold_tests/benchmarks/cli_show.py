"""Benchmark of `manifold show P/S --format jsonl > file` against its floor, on each storage
engine: the CLI should cost what reading the latest version and writing its lines costs.

    python -m manifold_tests.benchmarks.cli_show --records 1000000 --backend sqlite postgresql

Imports one version of N records, then times the real command in a child process writing to
a file, and in this process the floor: `get_latest_data` plus writing the same JSON Lines with
orjson. The two files must be byte for byte the same. The child's CPU time and peak memory
are its own (from wait4; its peak is its whole, interpreter included); its start-up is printed
apart, as `manifold --help`. Prints a block per N, one column per engine; asserts only that
the files agree.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.benchmarks.measure import ServerCpu, measured, measured_command
from manifold_tests.benchmarks.versions import bench_main, make_record

MANIFOLD = [sys.executable, "-m", "manifold_pipelines.cli"]
FLOOR = "floor: read latest + write jsonl"


def run(records: int, seed: int, database_url: str | None = None) -> dict[str, Any]:
    rng = random.Random(seed)
    server = ServerCpu(database_url) if database_url else None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = folder / "home"
        with SeparatedDatabaseManager(home, database_url=database_url) as manager:
            manager.create_project(name="Bench", id="bench")
            manager.create_data_source(
                "bench", name="Bench", type="json", id="data", config={"path": "unused.json"}
            )
            manager.import_data("bench", "data", [make_record(rng, i) for i in range(records)])
            floor_cost, _ = measured(lambda: write_latest(manager, folder / "floor.jsonl"), server)
        env = {**os.environ, "MANIFOLD_HOME": str(home)}
        env.pop("MANIFOLD_DATABASE_URL", None)
        if database_url is not None:
            env["MANIFOLD_DATABASE_URL"] = database_url
        shown = folder / "shown.jsonl"
        show_cost = measured_command(
            [*MANIFOLD, "show", "bench/data", "--format", "jsonl"], env, shown, server
        )
        start_cost = measured_command([*MANIFOLD, "--help"], env, folder / "help.txt", None)
        size = shown.stat().st_size
        same = shown.read_bytes() == (folder / "floor.jsonl").read_bytes()
        assert same, "`manifold show --format jsonl` wrote other bytes than the floor"
    figures: dict[str, Any] = {}
    figures.update(show_cost.figures("manifold show --format jsonl > file"))
    figures.update(floor_cost.figures(FLOOR))
    figures["manifold --help (start-up) s"] = start_cost.wall
    figures["show / floor"] = show_cost.wall / floor_cost.wall
    figures["show / floor, CPU time"] = show_cost.cpu / floor_cost.cpu
    figures["(show - start-up) / floor"] = (show_cost.wall - start_cost.wall) / floor_cost.wall
    figures["file MB"] = size / 2**20
    return figures


def write_latest(manager: SeparatedDatabaseManager, path: Path) -> None:
    """The floor: the latest version read as the API reads it, each record one orjson line."""
    records = manager.get_latest_data("bench", "data").data
    with path.open("wb") as handle:
        handle.writelines(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)


def main() -> None:
    bench_main(__doc__ or "", run)


if __name__ == "__main__":
    main()
