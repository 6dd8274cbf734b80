"""Benchmark of the version store: import, diff and read at N records, against two references,
on each storage engine.

    python -m manifold_tests.benchmarks.versions --records 1000000 --backend sqlite postgresql

Prints figures, one column per engine; asserts nothing. The floor is what any diffing
importer must do (parse the new JSON, hash every record canonically); the whole-array design
stores each version as one JSON array and diffs by loading both. PostgreSQL is a throwaway
server with its default durability (fsync on, on disk) unless --database-url names one.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import psutil
import xxhash

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.benchmarks.measure import ServerCpu, measured, spread
from manifold_tests.postgres_server import PostgresServer, unique_database_name

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


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def floor(v2_json: bytes) -> None:
    """What any diffing importer must do with v2: parse it and hash every record."""
    for record in orjson.loads(v2_json):
        xxhash.xxh3_128_digest(orjson.dumps(record, option=orjson.OPT_SORT_KEYS))


def whole_array(folder: Path, v1: list[dict[str, Any]], v2: list[dict[str, Any]]) -> dict:
    """Each version one JSON array in `data_versions.data`; the diff loads both."""
    conn = sqlite3.connect(folder / "whole-array.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE data_versions (version INTEGER PRIMARY KEY, data TEXT)")

    def write(version: int, records: list[dict[str, Any]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO data_versions VALUES (?, ?)", (version, orjson.dumps(records)))
        conn.execute("COMMIT")

    def diff() -> int:
        rows = conn.execute("SELECT data FROM data_versions ORDER BY version").fetchall()
        old = {r["id"]: r for r in orjson.loads(rows[0][0])}
        new = {r["id"]: r for r in orjson.loads(rows[1][0])}
        changed = sum(1 for key, r in new.items() if key in old and old[key] != r)
        return changed + len(new.keys() - old.keys()) + len(old.keys() - new.keys())

    write(1, v1)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size_v1 = (folder / "whole-array.db").stat().st_size
    v2_write = timed(lambda: write(2, v2))[0]
    v2_diff = timed(diff)[0]
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    added = (folder / "whole-array.db").stat().st_size - size_v1
    conn.close()
    return {"v2 import+diff s": v2_write + v2_diff, "bytes added by v2": added}


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
        figures["v2 diff"] = second.diff.summary()
        del second
        diff_cost, _ = measured(lambda: manager.get_data_diff("bench", "data", 1, 2), server)
        read_cost, latest = measured(lambda: manager.get_latest_data("bench", "data"), server)
        assert latest.record_count == len(v2)
        del latest
        size_v2 = manager.data_size("bench", "data")
        manager.close()
        floor_cost, _ = measured(lambda: floor(v2_json))
        costs = {
            "v1 import": v1_cost,
            "v2 import (incl. diff)": v2_cost,
            "diff details": diff_cost,
            "read latest": read_cost,
            "floor (parse + hash v2)": floor_cost,
        }
        for label, cost in costs.items():
            figures.update(cost.figures(label))
        floor_cpu = floor_cost.user + floor_cost.system
        for label in ("v1 import", "v2 import (incl. diff)", "read latest"):
            cost = costs[label]
            figures[f"{label} / floor"] = cost.wall / floor_cost.wall
            # What the step's processes computed, free of waiting for a busy machine's cores.
            cpu = cost.user + cost.system + (cost.server_cpu or 0.0)
            figures[f"{label} / floor, CPU time"] = cpu / floor_cpu
        figures["file size after v1 bytes"] = size_v1
        figures["bytes added by v2"] = size_v2 - size_v1
        figures["bytes added by v2 %"] = 100 * (size_v2 - size_v1) / size_v1
        figures["whole-array"] = whole_array(folder, v1, v2)
    figures["process peak RSS MB"] = psutil.Process().memory_info().rss / 2**20
    return figures


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
    bench_main(__doc__ or "", run)


Run = Callable[[int, int, "str | None"], dict[str, Any]]


def bench_main(doc: str, run: Run) -> None:
    """Parse a benchmark's arguments, run it on each engine asked for, print the columns."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs; medians are printed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--backend", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"]
    )
    parser.add_argument("--database-url", help="an existing PostgreSQL database to use")
    args = parser.parse_args()
    if args.database_url and args.repeat > 1:
        parser.error("--repeat above 1 needs a database per run: leave out --database-url")
    columns: dict[str, list[dict[str, Any]]] = {}
    for backend in args.backend:
        with databases(backend, args.database_url) as new_database:
            columns[backend] = [
                run(args.records, args.seed + i, new_database()) for i in range(args.repeat)
            ]
    print_columns(args.records, args.repeat, columns)


def print_columns(records: int, repeat: int, columns: dict[str, list[dict[str, Any]]]) -> None:
    """Each figure on a line, one column per engine: the median of the runs and their range,
    or the first run's value for a figure that is a dict (a diff summary)."""
    print(f"records: {records:,}  runs: {repeat} (medians [min-max])")
    print(f"{'figure':<56}" + "".join(f"{backend:>30}" for backend in columns))
    names = list(dict.fromkeys(name for runs in columns.values() for name in runs[0]))
    for name in names:
        firsts = [runs[0].get(name) for runs in columns.values()]
        if any(isinstance(value, dict) for value in firsts):
            print(f"{name}: " + " | ".join(str(value) for value in firsts))
            continue
        cells = [
            spread([run[name] for run in runs]) if name in runs[0] else "-"
            for runs in columns.values()
        ]
        print(f"{name:<56}" + "".join(f"{cell:>30}" for cell in cells))


if __name__ == "__main__":
    main()
