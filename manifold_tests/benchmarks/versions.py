"""Benchmark of the version store: import, diff and read at each N records, against three
references, on each storage engine.

    python -m manifold_tests.benchmarks.versions --records 100000 1000000 \\
        --backend sqlite postgresql

Prints a block per N, one column per engine; asserts only that the references found the
changes our diff did. The references, measured in the same run: the floor is what any diffing
importer must do (parse the new JSON, hash every record canonically); the seed-literal design
stores each version as one whole JSON array in `data_versions.data` (on the run's engine) and
diffs by loading both; datacompy compares the two versions as pandas frames, building them
included, and stores nothing. PostgreSQL is a throwaway server with its default durability
(fsync on, on disk) unless --database-url names one.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import psutil

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.benchmarks.measure import Cost, ServerCpu, figure_names, measured, spread
from manifold_tests.benchmarks.references import (
    SEED_LITERAL,
    datacompy_compare,
    floor,
    seed_literal,
)
from manifold_tests.postgres_server import PostgresServer, unique_database_name

FLOOR = "floor"
SEED = "seed-literal v2 import+diff"
DATACOMPY = "datacompy frames+compare"
LEGEND = f"""\
  {FLOOR}: parse v2's JSON and hash every record canonically
  {SEED_LITERAL}: in data_versions.data, diffed by loading both
  datacompy: build both versions' pandas frames, datacompy.PandasCompare on id, read counts"""
CITIES = ["Lisbon", "Oslo", "Lagos", "Quito", "Hanoi", "Perth", "Cusco", "Turku"]
CATEGORIES = ["books", "tools", "games", "food", "garden", "music"]


def make_record(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"Customer {i}",
        "email": f"customer{i}@example.com",
        "city": rng.choice(CITIES),
        "category": rng.choice(CATEGORIES),
        "amount": round(rng.uniform(1, 10_000), 2),
        "quantity": rng.randint(1, 500),
        "active": rng.random() < 0.8,
        "created_at": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T10:00:00Z",
        "note": None if rng.random() < 0.05 else f"note {rng.randint(0, 10**6)}",
    }


def derive_v2(rng: random.Random, v1: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """1% modified, 0.5% removed, 0.5% added."""
    n = len(v1)
    removed = set(rng.sample(range(n), n // 200))
    modified = set(rng.sample([i for i in range(n) if i not in removed][:n], n // 100))
    v2 = []
    for index, record in enumerate(v1):
        if index in removed:
            continue
        if index in modified:
            record = {**record, "amount": round(record["amount"] + 1.5, 2), "active": False}
        v2.append(record)
    v2.extend(make_record(rng, n + 1 + i) for i in range(n // 200))
    return v2


def run(records: int, seed: int, database_url: str | None = None) -> dict[str, Any]:
    """One run on SQLite, or on the PostgreSQL database at `database_url`."""
    rng = random.Random(seed)
    v1 = [make_record(rng, i) for i in range(1, records + 1)]
    v2 = derive_v2(rng, v1)
    v2_json = orjson.dumps(v2)
    server = ServerCpu(database_url) if database_url else None
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        manager = SeparatedDatabaseManager(folder / "home", database_url=database_url)
        manager.create_project(name="Bench", id="bench")
        manager.create_data_source(
            "bench",
            name="Bench",
            type="json",
            id="data",
            config={"path": "unused.json"},
        )
        v1_cost, first = measured(lambda: manager.import_data("bench", "data", v1), server)
        del first
        size_v1 = manager.data_size("bench", "data")
        v2_cost, second = measured(lambda: manager.import_data("bench", "data", v2), server)
        assert second.diff is not None
        summary = second.diff.summary()
        del second
        diff_cost, _ = measured(lambda: manager.get_data_diff("bench", "data", 1, 2), server)
        read_cost, latest = measured(lambda: manager.get_latest_data("bench", "data"), server)
        assert latest.record_count == len(v2)
        del latest
        first_cost, first = measured(lambda: manager.get_data_version("bench", "data", 1), server)
        assert first.record_count == len(v1)
        del first
        size_v2 = manager.data_size("bench", "data")
        manager.close()
        floor_cost, _ = measured(lambda: floor(v2_json))
        literal = seed_literal(folder, v1, v2, database_url, server)
    compare_cost, compared = datacompy_compare(v1, v2)
    # The references must find the changes ours did, or their figures compare other work.
    assert compared == summary, f"datacompy counted {compared}, our diff {summary}"
    assert literal.changes == summary["totalChanges"], f"seed-literal counted {literal.changes}"
    costs = {
        "v1 import": v1_cost,
        "v2 import (incl. diff)": v2_cost,
        "diff details": diff_cost,
        "read latest": read_cost,
        "read version 1": first_cost,
        FLOOR: floor_cost,
        SEED: literal.cost,
        DATACOMPY: compare_cost,
    }
    for label, cost in costs.items():
        figures.update(cost.figures(label))
    figures["v2 diff"] = summary
    figures["datacompy's counts"] = compared
    for label, reference in (
        ("v1 import", FLOOR),
        ("v2 import (incl. diff)", FLOOR),
        ("read latest", FLOOR),
        ("read version 1", FLOOR),
        ("v2 import (incl. diff)", SEED),
        ("v2 import (incl. diff)", DATACOMPY),
        ("diff details", DATACOMPY),
    ):
        figures.update(ratios(label, costs[label], reference, costs[reference]))
    added = size_v2 - size_v1
    figures["file size after v1 bytes"] = size_v1
    figures["bytes added by v2"] = added
    figures["bytes added by v2 %"] = 100 * added / size_v1
    figures["seed-literal bytes added by v2"] = literal.bytes_added
    figures["bytes added by v2 / seed-literal's"] = added / literal.bytes_added
    figures["process peak RSS MB"] = psutil.Process().memory_info().rss / 2**20
    return figures


def ratios(label: str, cost: Cost, reference: str, reference_cost: Cost) -> dict[str, float]:
    """A step's wall time over a reference's; its CPU time over the reference's (what the
    processes computed, the server's too, free of waiting for a busy machine's cores); and
    its user time over the reference's, free of what page faults cost at that moment."""
    short = reference.split()[0]
    return {
        f"{label} / {short}": cost.wall / reference_cost.wall,
        f"{label} / {short}, CPU time": cost.cpu / reference_cost.cpu,
        f"{label} / {short}, user time": cost.user / reference_cost.user
        if reference_cost.user
        else math.nan,  # a step too short for the kernel's accounting
    }


@contextlib.contextmanager
def databases(backend: str, url: str | None) -> Iterator[Callable[[], str | None]]:
    """Where each run stores: None for SQLite (a folder of its own); for PostgreSQL a new
    database per run on a throwaway durable server, or the database `url` names."""
    if backend == "sqlite":
        yield lambda: None
    elif url is not None:
        yield lambda: url
    else:
        with PostgresServer(durable=True) as server:
            yield lambda: server.create_database(unique_database_name("bench"))


def main() -> None:
    bench_main(__doc__ or "", run, LEGEND)


Run = Callable[[int, int, "str | None"], dict[str, Any]]


def bench_main(doc: str, run: Run, legend: str = "") -> None:
    """Parse a benchmark's arguments, run it at each N on each engine asked for, and print
    a block of columns per N (under `legend`) as soon as it is measured."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians are printed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--backend", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"]
    )
    parser.add_argument("--database-url", help="an existing PostgreSQL database to use")
    args = parser.parse_args()
    if args.database_url and (args.repeat > 1 or len(args.records) > 1):
        parser.error("several runs need a database each: leave out --database-url")
    for records in args.records:
        columns: dict[str, list[dict[str, Any]]] = {}
        for backend in args.backend:
            with databases(backend, args.database_url) as new_database:
                columns[backend] = [
                    run(records, args.seed + i, new_database()) for i in range(args.repeat)
                ]
        print_columns(records, args.repeat, columns, legend)


def print_columns(
    records: int, repeat: int, columns: dict[str, list[dict[str, Any]]], legend: str = ""
) -> None:
    """Each figure on a line, one column per engine: the median of the runs and their range,
    or the first run's value for a figure that is a dict (a diff summary)."""
    names = figure_names([run for runs in columns.values() for run in runs])
    summaries: dict[str, list[str]] = {}
    rows: dict[str, list[str]] = {}
    for name in names:
        firsts = [runs[0].get(name) for runs in columns.values()]
        if any(isinstance(value, dict) for value in firsts):
            summaries[name] = [str(value) for value in firsts]
            continue
        # a figure some runs lack (major page faults are shown when there were some) is the
        # spread of the runs that have it
        values = [[run[name] for run in runs if name in run] for runs in columns.values()]
        rows[name] = [spread(found) if found else "-" for found in values]
    label = max(len(name) for name in rows) + 2
    cell = max(len(text) for cells in rows.values() for text in cells) + 2
    print(f"\nrecords: {records:,}  runs: {repeat} (medians [min-max])")
    if legend:
        print(legend)
    print(f"{'figure':<{label}}" + "".join(f"{backend:>{cell}}" for backend in columns))
    for name in names:
        if name in summaries:
            print(f"{name}: " + " | ".join(summaries[name]))
        else:
            print(f"{name:<{label}}" + "".join(f"{text:>{cell}}" for text in rows[name]))


if __name__ == "__main__":
    main()
