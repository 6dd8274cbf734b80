"""An import is all or nothing even when its process is killed, two processes importing into
one source both succeed, one after the other, and readers never wait for a writer: what
SQLite gives only when the store uses it the right way (one BEGIN IMMEDIATE transaction,
WAL, a busy timeout), and PostgreSQL when writers queue on the source's advisory lock."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.raw_storage import source_sql

WRITER = textwrap.dedent(
    """
    import sys
    from manifold_pipelines import SeparatedDatabaseManager
    home, start = sys.argv[1], int(sys.argv[2])
    with SeparatedDatabaseManager(home) as m:
        for round in range(start, start + 1000):
            m.import_data("demo", "api", [{"id": i, "round": round, "pad": "x" * 200}
                                          for i in range(20000)])
            print(round, flush=True)
    """
)


def _versions(home: Path, engine: str) -> list[tuple[int, int]]:
    with source_sql(home, "demo", "api") as conn:
        # A PostgreSQL server replays its own log after a client dies; a file is checked.
        if engine == "sqlite":
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = conn.execute("SELECT version, record_count FROM data_versions ORDER BY version")
        return [tuple(row) for row in rows]


@pytest.mark.slow
def test_a_writer_killed_mid_import_leaves_whole_versions_only(
    manager: SeparatedDatabaseManager, source: tuple, home: Path, engine: str
) -> None:
    manager.import_data(*source, [{"id": i, "round": -1, "pad": ""} for i in range(20000)])
    for attempt in range(6):
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(home), str(attempt * 1000)],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert child.stdout is not None
        child.stdout.readline()  # at least one import committed; kill the child mid-way later
        time.sleep(0.05 + 0.07 * attempt)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        versions = _versions(home, engine)
        assert all(count == 20000 for _, count in versions)
        assert [v for v, _ in versions] == list(range(1, len(versions) + 1))
        latest = manager.get_latest_data(*source)
        assert latest.record_count == 20000
        assert len({record["round"] for record in latest.data}) == 1
    statuses = {log.status for log in manager.get_import_logs(*source, limit=1000)}
    assert statuses == {"completed", "pending"}  # some kills landed inside an import
    after = manager.import_data(*source, [{"id": 0, "round": 99, "pad": ""}])
    assert after.version == len(_versions(home, engine))


def _import_many(home: str, tag: str, rounds: int) -> None:
    with SeparatedDatabaseManager(home) as m:
        for round_ in range(rounds):
            m.import_data(
                "demo", "api", [{"id": i, "by": tag, "round": round_} for i in range(3000)]
            )


@pytest.mark.slow
def test_two_processes_importing_at_once_both_succeed(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_import_many, args=(str(home), tag, 5)) for tag in ("a", "b")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    versions = manager.list_versions(*source)
    assert [v.version for v in versions] == list(range(1, 11))
    assert all(v.record_count == 3000 for v in versions)
    history = manager.import_history("demo", "api", limit=100)
    assert len(history) == 10 and {h.status for h in history} == {"completed"}
    for number in range(2, 11):
        diff = manager.get_data_diff(*source, number - 1, number)
        previous = manager.get_data_version(*source, number - 1).data
        current = manager.get_data_version(*source, number).data
        assert diff.modified == sum(1 for a, b in zip(previous, current, strict=True) if a != b)


def test_reads_do_not_wait_for_a_writer(manager: SeparatedDatabaseManager, source: tuple) -> None:
    manager.import_data(*source, [{"id": 1}])
    project = manager.get_project("demo")
    # An import in progress: the source's write lock held, its rows being changed.
    with manager.backend.versions(project, "api") as store, store.db.writing(commit=False):
        store.db.execute("UPDATE data_versions SET metadata = metadata")
        started = time.monotonic()
        assert manager.get_latest_data(*source).data == [{"id": 1}]
        assert manager.get_data_diff(*source, 1, 1).total_changes == 0
        assert time.monotonic() - started < 2
