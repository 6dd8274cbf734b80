"""Benchmark of incremental imports: what an import costs when it changes 1% of a source.

    python -m manifold_tests.benchmarks.incremental --records 1000000 --backend sqlite postgresql

A source of N records, then 1% upserts (records changed) and 0.1% deletions, imported
incrementally; against a snapshot import of the same final data into a source of the same
N records, and against the floor of the rows alone: ending as many random rows and writing
as many new ones, in one committed transaction of the same store, with nothing else done.
Prints figures, one column per engine; asserts nothing.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.benchmarks.measure import Cost, ServerCpu, measured
from manifold_tests.benchmarks.versions import bench_main, make_record


def first_version(records: int, seed: int) -> Iterator[dict[str, Any]]:
    """The same N records on every call, made as they are read: each source's first version
    is imported from this stream, so only the final data (the snapshot's input) is ever held
    whole, and 10,000,000 records fit in memory."""
    rng = random.Random(seed)
    return (make_record(rng, i) for i in range(1, records + 1))


def run(records: int, seed: int, database_url: str | None = None) -> dict[str, Any]:
    rng = random.Random(seed + 1)
    changed = set(rng.sample(range(1, records + 1), records // 100))
    spare = (i for i in rng.sample(range(1, records + 1), 2 * (records // 1000) + 2))
    deleted = [i for i in spare if i not in changed][: records // 1000]
    upserts = [
        {**record, "amount": record["amount"] + 1.5, "active": False}
        for record in first_version(records, seed)
        if record["id"] in changed
    ]
    server = ServerCpu(database_url) if database_url else None
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        manager = SeparatedDatabaseManager(Path(tmp) / "home", database_url=database_url)
        manager.create_project(name="Bench", id="bench")
        # Every first version is a streamed snapshot import, as most sources begin; "inc"
        # takes its second one in incremental mode (a source keeps its history across modes).
        for source_id in ("full", "inc", "floor"):
            manager.create_data_source(
                "bench", name=source_id, type="json", id=source_id, config={"path": "x.json"}
            )
            manager.import_data("bench", source_id, first_version(records, seed))
        final = _final_data(records, seed, upserts, deleted)
        full_cost, full = measured(lambda: manager.import_data("bench", "full", final), server)
        final.clear()  # 10,000,000 records: free them before the next steps
        size_before = manager.data_size("bench", "inc")
        inc_cost, inc = measured(
            lambda: manager.import_data(
                "bench", "inc", upserts, deleted=deleted, mode="incremental"
            ),
            server,
        )
        floor_cost = _row_write_floor(manager, rng, len(upserts) + len(deleted), len(upserts))
        costs = {
            "snapshot v2 of the final data": full_cost,
            "incremental v2 (1% upserts, 0.1% deletions)": inc_cost,
            "floor: the same row writes alone": floor_cost,
        }
        for label, cost in costs.items():
            figures.update(cost.figures(label))
        figures["incremental / snapshot time"] = inc_cost.wall / full_cost.wall
        figures["floor / snapshot time"] = floor_cost.wall / full_cost.wall
        figures["incremental / snapshot, CPU time"] = inc_cost.cpu / full_cost.cpu
        assert inc.record_count == full.record_count == records - len(deleted)
        assert inc.diff is not None and full.diff is not None
        figures["incremental v2 diff"] = inc.diff.summary()
        figures["snapshot v2 diff"] = full.diff.summary()
        added = manager.data_size("bench", "inc") - size_before
        figures["bytes added by the incremental v2"] = added
        figures["bytes added %"] = 100 * added / size_before
        manager.close()
    return figures


def _final_data(
    records: int, seed: int, upserts: list[dict[str, Any]], deleted: list[int]
) -> list[dict[str, Any]]:
    """The first version with the upserts applied and the deletions gone, in its order: held
    in memory before the snapshot import is timed, as the records a source hands over are."""
    replaced = {record["id"]: record for record in upserts}
    gone = set(deleted)
    return [
        replaced.get(record["id"], record)
        for record in first_version(records, seed)
        if record["id"] not in gone
    ]


def _row_write_floor(
    manager: SeparatedDatabaseManager, rng: random.Random, ended: int, written: int
) -> Cost:
    """End `ended` random live rows of the floor source and write `written` new ones, in one
    transaction, committed: what any import of that change must write, measured alone."""
    with manager._open(manager.get_data_source("bench", "floor")) as store:
        live = [row[1] for row in store.live_rows()]
        ids = rng.sample(live, ended)
        rows = store.load_rows(ids[:written])
        first = store.next_row_id()
        new = [
            (first + n, key, digest, text, position, 2)
            for n, (_, key, digest, text, position) in enumerate(rows)
        ]

        def write() -> None:
            with store.writing():
                store.end_rows(ids, 1)
                store.insert_rows(new)

        return measured(write)[0]


def main() -> None:
    bench_main(__doc__ or "", run)


if __name__ == "__main__":
    main()
