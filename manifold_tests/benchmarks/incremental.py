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
from functools import partial
from pathlib import Path
from typing import Any

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.versions.key_index import FOLD_SHARE
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
        cycle = _fold_cycle(manager, records, seed, server)
        mean = Cost.mean(cycle)
        figures["fold cycle: 1% imports up to the one that folds the key index"] = len(cycle)
        figures.update(mean.figures("fold cycle: mean import"))
        figures.update(cycle[-1].figures("fold cycle: the folding import"))
        figures["fold cycle: mean import / snapshot time"] = mean.wall / full_cost.wall
        figures["fold cycle: mean import / snapshot, CPU time"] = mean.cpu / full_cost.cpu
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


def _fold_cycle(
    manager: SeparatedDatabaseManager, records: int, seed: int, server: ServerCpu | None
) -> list[Cost]:
    """Imports of 1% changes (as the measured one: two fields of each record) one after
    another, up to the one that folds the recent key index into the base
    (versions/key_index.py): what an incremental import costs over time, the rebuild
    included, rather than only the cheap imports before it."""
    rng = random.Random(seed + 2)
    rounds = [
        sorted(rng.sample(range(1, records + 1), records // 100))
        for _ in range(100 // FOLD_SHARE + 4)  # a fold is due after about 100 / FOLD_SHARE
    ]
    wanted = {i for ids in rounds for i in ids}
    original = {r["id"]: r for r in first_version(records, seed) if r["id"] in wanted}
    costs: list[Cost] = []
    bound = _key_bound(manager)
    for number, ids in enumerate(rounds, 1):
        upserts = [
            {**original[i], "amount": original[i]["amount"] + number, "active": number % 2 == 0}
            for i in ids
        ]
        cost, _ = measured(
            partial(manager.import_data, "bench", "inc", upserts, mode="incremental"), server
        )
        costs.append(cost)
        if _key_bound(manager) != bound:
            break
    return costs


def _key_bound(manager: SeparatedDatabaseManager) -> int:
    with manager._open(manager.get_data_source("bench", "inc")) as store:
        return store.key_bound()


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
