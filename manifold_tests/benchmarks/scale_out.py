"""Benchmark of throughput on Celery workers: sources per minute with one worker, then two.

    python -m manifold_tests.benchmarks.scale_out --sources 200 --workers 1 2

For each worker count: a fresh PostgreSQL database (a throwaway server with its default
durability, on disk, as a deployment has) holding N small JavaScript sources, a throwaway
Redis, that many Celery workers of one process each, and one run of every source
(`dagster job execute` with MANIFOLD_EXECUTOR=celery). Prints the run's wall time as the
command saw it and as Dagster recorded it (first to last event), and sources per minute.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.celery_cluster import CeleryCluster
from manifold_tests.postgres_server import PostgresServer
from manifold_tests.redis_server import RedisServer

RECORDS = 20


def populate(database_url: str, sources: int) -> None:
    with SeparatedDatabaseManager(database_url=database_url) as manager:
        manager.create_project(name="Bench", id="bench")
        for number in range(sources):
            manager.create_data_source(
                "bench",
                name=f"Source {number}",
                type="javascript",
                id=f"s{number}",
                config={
                    "script": "return rows;",
                    "variables": {"rows": [{"id": i, "source": number} for i in range(RECORDS)]},
                },
            )


def measure(server: PostgresServer, sources: int, workers: int) -> dict[str, float]:
    name = f"bench_{workers}_workers_{time.monotonic_ns()}"
    database_url = server.create_database(name)
    try:
        populate(database_url, sources)
        with (
            tempfile.TemporaryDirectory() as folder,
            RedisServer() as redis,
            CeleryCluster(Path(folder), database_url, redis.url) as cluster,
        ):
            cluster.start_workers(workers)
            started = time.perf_counter()
            done = cluster.run("job", "execute", "-j", "__ASSET_JOB", timeout=3600)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(f"The run failed:\n{done.stderr[-3000:]}")
            recorded = _recorded_seconds(cluster)
    finally:
        server.drop_database(name)
    return {
        "command wall s": wall,
        "run recorded by Dagster s": recorded,
        "sources per minute": sources / recorded * 60,
    }


def _recorded_seconds(cluster: CeleryCluster) -> float:
    """From the run's start to its end as its own events say: without the CLI's start-up."""
    with cluster.instance() as instance:
        (run,) = instance.get_runs()
        record = instance.get_run_record_by_id(run.run_id)
        if record is None or record.start_time is None or record.end_time is None:
            raise RuntimeError(f"Run {run.run_id} has no recorded start and end.")
        return record.end_time - record.start_time


def run(sources: int, workers: list[int], *, durable: bool = True) -> dict[int, dict[str, float]]:
    with PostgresServer(durable=durable) as server:
        return {count: measure(server, sources, count) for count in workers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    for count, figures in run(args.sources, args.workers).items():
        print(f"{args.sources:,} sources, {count} worker(s)")
        for name, value in figures.items():
            print(f"  {name}: {value:.1f}")


if __name__ == "__main__":
    main()
