"""What only the PostgreSQL engine has to show: sources that never wait on each other, space
that comes back when a source goes, a schema per source readable with plain SQL, and a worker
that needs nothing on its local disk but the database URL."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.backends.postgres import source_schema
from manifold_pipelines.db.migrations import FileFormat, migrate
from manifold_pipelines.db.postgres import PostgresDatabase
from manifold_pipelines.errors import ConfigError, StorageError
from manifold_pipelines.versions.postgres_tables import SOURCE_FORMAT
from manifold_tests.conftest import make_source

pytestmark = pytest.mark.postgresql_only

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _url() -> str:
    return os.environ["MANIFOLD_DATABASE_URL"]


def _sql(query: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(_url(), autocommit=True) as conn:
        cursor = conn.execute(query, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def test_a_small_import_finishes_while_a_big_one_runs_into_another_source(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    make_source(manager, "demo", "big")
    make_source(manager, "demo", "small")
    finished: dict[str, float] = {}

    def big_import() -> None:
        with SeparatedDatabaseManager(home) as other:
            other.import_data("demo", "big", ({"id": i, "pad": "x" * 50} for i in range(300_000)))
        finished["big"] = time.monotonic()

    worker = threading.Thread(target=big_import)
    worker.start()
    # Wait until the big import's transaction has held its source's write lock for a while
    # (not the moment its pending log entry takes it), then import into the other source.
    deadline = time.monotonic() + 60
    while not _sql(
        "SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND now() - a.xact_start > interval '300 ms'"
    ):
        assert time.monotonic() < deadline, "the big import never started"
        time.sleep(0.01)
    small = manager.import_data("demo", "small", [{"id": i} for i in range(10)])
    finished["small"] = time.monotonic()
    worker.join(timeout=300)
    assert small.version == 1 and small.record_count == 10
    assert finished["small"] < finished["big"]
    assert manager.get_latest_data("demo", "big").record_count == 300_000


def test_a_key_index_fold_builds_its_indexes_before_it_locks_readers_out(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """CREATE INDEX lets readers in, DROP INDEX does not until the commit: the fold must
    build first. A reader's open transaction holds the fold at its first DROP; by then the
    import must already hold the build's SHARE lock on `record_rows`."""
    manager.import_data(*source, [{"id": i} for i in range(400)])
    schema = source_schema(*source)
    with psycopg.connect(_url()) as reader:
        reader.execute(f"SELECT count(*) FROM {schema}.record_rows").fetchone()  # lock held
        errors: list[BaseException] = []

        def folding_import() -> None:
            try:
                with SeparatedDatabaseManager(home) as other:
                    other.import_data(
                        *source, [{"id": i, "v": 1} for i in range(200)], mode="incremental"
                    )
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        worker = threading.Thread(target=folding_import)
        worker.start()
        deadline = time.monotonic() + 60
        while not (
            waiting := _sql(
                "SELECT a.pid, a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE NOT l.granted AND l.mode = 'AccessExclusiveLock'"
            )
        ):
            assert time.monotonic() < deadline and worker.is_alive(), errors
            time.sleep(0.01)
        ((pid, query),) = waiting
        assert str(query).startswith("DROP INDEX")
        held = _sql(
            "SELECT l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE l.pid = %s AND l.granted AND n.nspname = %s AND c.relname = 'record_rows'",
            pid,
            schema,
        )
        assert ("ShareLock",) in held
        reader.rollback()
        worker.join(timeout=60)
    assert not errors
    assert manager.get_latest_data(*source).data[:2] == [{"id": 0, "v": 1}, {"id": 1, "v": 1}]


def test_deleting_a_source_gives_its_space_back_at_once(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    manager.import_data(*source, [{"id": i, "pad": "y" * 500} for i in range(50_000)])
    schema = source_schema(*source)
    assert manager.data_location(*source).startswith(f"schema {schema} in postgresql://")
    held = manager.data_size(*source)
    assert held > 25_000_000
    before = _sql("SELECT pg_database_size(current_database())")[0][0]
    manager.delete_data_source(*source)
    after = _sql("SELECT pg_database_size(current_database())")[0][0]
    assert isinstance(before, int) and isinstance(after, int)
    assert before - after >= held * 0.9
    assert _sql("SELECT 1 FROM pg_namespace WHERE nspname = %s", schema) == []


def _map_bytes(schema: str) -> int:
    """The free-space and visibility maps of every relation of a source's schema."""
    (total,) = _sql(
        "SELECT coalesce(sum(pg_relation_size(c.oid, 'fsm') + pg_relation_size(c.oid, 'vm')), 0)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
        schema,
    )[0]
    return int(total)  # type: ignore[call-overload]


def test_a_source_size_does_not_move_when_autovacuum_visits_without_a_write(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    """Autovacuum may visit between a materialization and `manifold stats`; the size both
    report must be the same figure, so the maps a VACUUM creates are not part of it."""
    manager.import_data(*source, [{"id": i, "pad": "z" * 200} for i in range(5_000)])
    manager.import_data(*source, [{"id": i, "pad": "w" * 200} for i in range(0, 5_000, 2)])
    before = manager.data_size(*source)
    schema = source_schema(*source)
    maps_before = _map_bytes(schema)
    for (table,) in _sql("SELECT tablename FROM pg_tables WHERE schemaname = %s", schema):
        _sql(f"VACUUM {schema}.{table}")
    maps_after = _map_bytes(schema)
    assert maps_after > maps_before  # the VACUUM did create maps, which are left out
    assert manager.data_size(*source) == before


def test_each_source_is_a_schema_of_its_own_readable_with_plain_sql(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    manager.import_data(*source, [{"id": 1, "b": 2, "a": 1}, {"id": 2}])
    manager.import_data(*source, [{"id": 2}, {"id": 3}])
    (schema,) = _sql(
        "SELECT schema_name FROM manifold.source_schemas WHERE project_id = %s AND source_id = %s",
        *source,
    )[0]
    assert schema == source_schema(*source)
    version_1 = _sql(
        f"SELECT record FROM {schema}.record_history WHERE first_version <= 1"
        " AND (last_version IS NULL OR last_version >= 1) ORDER BY position"
    )
    assert [row[0] for row in version_1] == ['{"id":1,"b":2,"a":1}', '{"id":2}']
    latest = _sql(f"SELECT record FROM {schema}.latest_records")
    assert [row[0] for row in latest] == ['{"id":2}', '{"id":3}']
    tables = {
        row[0] for row in _sql("SELECT tablename FROM pg_tables WHERE schemaname = %s", schema)
    }
    assert {"data_versions", "schema_versions", "import_logs", "quality_metrics"} <= tables


def test_a_newer_source_schema_is_refused_not_misread(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    manager.import_data(*source, [{"id": 1}])
    _sql(f"UPDATE {source_schema(*source)}.manifold_format SET version = 99")
    with pytest.raises(StorageError, match="format version 99, newer than this Manifold"):
        manager.get_latest_data(*source)


def test_a_project_data_path_is_refused_with_what_to_do(
    manager: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"keeps its data in PostgreSQL.*Leave data_path unset"):
        manager.create_project(name="P", id="p", data_path=tmp_path / "elsewhere")
    assert manager.list_projects() == []


def test_a_wrong_password_names_the_server_without_the_password(home: Path) -> None:
    url = _url().replace("manifold@", "nobody:s3cret-pw@")
    with pytest.raises(StorageError) as caught:
        SeparatedDatabaseManager(home, database_url=url)
    assert "Cannot connect to the PostgreSQL database" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value) and "nobody:***@" in str(caught.value)


@pytest.mark.slow
def test_a_worker_with_an_empty_folder_and_only_the_url_materializes(
    manager: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    make_source(manager, "demo", "api")
    manager.update_data_source(
        "demo", "api", config={"script": "return [{id: 1, at: 'worker'}, {id: 2}];"}
    )
    worker = tmp_path / "worker"
    worker.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MANIFOLD_", "DAGSTER_"))
    }
    env |= {"MANIFOLD_DATABASE_URL": _url(), "HOME": str(worker)}
    script = textwrap.dedent(
        f"""
        import subprocess, sys
        done = subprocess.run([{DAGSTER!r}, "asset", "materialize", "-m",
            "manifold_pipelines.definitions", "--select", "demo/api"], capture_output=True,
            text=True)
        sys.stderr.write(done.stderr[-3000:])
        sys.exit(done.returncode)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=worker,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "RUN_SUCCESS" in done.stderr
    assert manager.get_latest_data("demo", "api").data == [{"id": 1, "at": "worker"}, {"id": 2}]
    left = {p.name for p in worker.iterdir()}
    assert not any(name.endswith(".db") or name == "manifold_home" for name in left), left


def test_an_older_source_schema_is_upgraded_in_place_and_keeps_its_versions(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    """A schema written at format 1 (before incremental imports, with where a row ends in the
    row itself) is migrated on open, in one transaction recorded in its manifold_format table,
    and its versions read as before."""
    schema = source_schema(*source)
    first_format = FileFormat(
        SOURCE_FORMAT.application_id, SOURCE_FORMAT.label, SOURCE_FORMAT.migrations[:1]
    )
    db = PostgresDatabase(_url(), schema, what="a format 1 schema")
    try:
        migrate(db, first_format)
        with db.writing():
            db.execute(
                "INSERT INTO schema_versions (schema_version, data_version, schema, schema_hash,"
                " changes, created_at) VALUES (1, 1, '{}', 'h', '{}', '2026-01-01T00:00:00+00:00')"
            )
            db.executemany(
                "INSERT INTO data_versions (version, schema, record_count, status, diff_key,"
                " field_stats, schema_version, created_at)"
                " VALUES (?, '{}', 1, 'published', ?, ?, 1, '2026-01-01T00:00:00+00:00')",
                [(v, '{"fields":["id"]}', '{"id": {"integer": 1}}') for v in (1, 2)],
            )
            db.insert_rows(
                "record_history",
                ("id", "key", "hash", "record", "position", "first_version", "last_version"),
                [
                    (1, "1", b"\0" * 16, '{"id":1,"v":"old"}', 65536, 1, 1),
                    (2, "1", b"\1" * 16, '{"id":1,"v":"new"}', 65536, 2, None),
                ],
            )
    finally:
        db.close()
    assert _sql(f"SELECT version FROM {schema}.manifold_format") == [(1,)]
    assert manager.get_data_version(*source, 1).data == [{"id": 1, "v": "old"}]
    assert manager.get_latest_data(*source).data == [{"id": 1, "v": "new"}]
    assert _sql(f"SELECT version FROM {schema}.manifold_format") == [(SOURCE_FORMAT.latest,)]
    # The published table name still reads as it did: now a view over rows and their ends.
    assert _sql(f"SELECT id, last_version FROM {schema}.record_history ORDER BY id") == [
        (1, 1),
        (2, None),
    ]
    result = manager.import_data(*source, [{"id": 2}], mode="incremental", state={"cursor": 2})
    assert manager.get_latest_data(*source).data == [{"id": 1, "v": "new"}, {"id": 2}]
    assert result.version == 3 and manager.get_source_state(*source) == {"cursor": 2}
    assert manager.get_data_version(*source, 1).data == [{"id": 1, "v": "old"}]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://m:zq9@secret@127.0.0.1/db", "password holds a raw '@'"),
        ("mysql://m:zq9secret@127.0.0.1/db", "'mysql'; the rest is not shown"),
        ("host=127.0.0.1 password=zq9secret", "'no scheme'; the rest is not shown"),
        ("postgresql://m@127.0.0.1:1/db?password=zq9secret", "Cannot connect"),
        ("postgresql://m:zq9%zzsecret@127.0.0.1/db", "Cannot connect"),
    ],
)
def test_a_bad_database_url_is_named_without_its_password(home: Path, url: str, words: str) -> None:
    with pytest.raises((ConfigError, StorageError)) as caught:
        SeparatedDatabaseManager(home, database_url=url)
    assert words in str(caught.value)
    assert "zq9" not in str(caught.value) and "secret" not in str(caught.value)
