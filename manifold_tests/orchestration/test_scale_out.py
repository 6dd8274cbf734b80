"""Manifold as a team deploys it when one machine is not enough: Dagster's instance in
PostgreSQL, each step a Celery task through a real Redis, run by workers that start in empty
folders with nothing but the database URL and the broker. Many sources spread over the
workers and land in PostgreSQL; a worker killed mid-import leaves no trace of the version it
was writing; the alert sensors and the retention job work on the PostgreSQL catalogue."""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import dagster as dg
import psutil
import psycopg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.alerts.center import list_alerts
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.celery_cluster import CeleryCluster
from manifold_tests.http_serving import serving
from manifold_tests.orchestration.conftest import add_source

pytestmark = [pytest.mark.scale_out, pytest.mark.slow]

SOURCES = 50
GATE_SECONDS = 60


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CeleryCluster]:
    """Two workers of one process each on a fresh database; this test process reads that
    database as every process of the deployment does, through MANIFOLD_DATABASE_URL."""
    monkeypatch.setenv("MANIFOLD_DATABASE_URL", postgres_url)
    with CeleryCluster(tmp_path / "deployment", postgres_url, redis_url) as started:
        started.start_workers(2)
        yield started


@pytest.fixture
def manager(cluster: CeleryCluster) -> Iterator[SeparatedDatabaseManager]:
    with SeparatedDatabaseManager() as opened:
        yield opened


def _worker_of_each_step(cluster: CeleryCluster, keys: list[dg.AssetKey]) -> dict[str, str]:
    """Which worker ran each asset's latest materialization, by the host and pid it recorded."""
    pools = {pid: worker.name for worker in cluster.workers for pid in worker.pool_pids()}
    ran_in = {}
    with cluster.instance() as instance:
        for key in keys:
            event = instance.get_latest_materialization_event(key)
            assert event is not None and event.asset_materialization is not None, key
            metadata = event.asset_materialization.metadata
            assert metadata["worker_host"] == dg.TextMetadataValue(socket.gethostname())
            pid = metadata["worker_pid"].value
            assert pid in pools, f"{key.to_user_string()} ran in pid {pid}, not a worker's pool"
            ran_in[key.to_user_string()] = pools[pid]
    return ran_in


def _assert_nothing_on_local_disk(cluster: CeleryCluster) -> None:
    """Every worker's folder is as empty as it started, and nothing made a Manifold home."""
    for worker in cluster.workers:
        assert list(worker.folder.iterdir()) == [], worker.name
    assert list(cluster.root.rglob("manifold_home")) == []
    assert [path.name for path in cluster.dagster_home.iterdir()] == ["dagster.yaml"]


def test_fifty_sources_in_one_run_spread_over_two_workers_and_land_in_postgresql(
    cluster: CeleryCluster, manager: SeparatedDatabaseManager
) -> None:
    names = [f"s{number:02d}" for number in range(SOURCES)]
    for number, name in enumerate(names):
        add_source(
            manager, name, [{"id": i, "source": number} for i in range(20)], project_id="fleet"
        )
        manager.import_data("fleet", name, [{"id": 0, "source": number}])
    done = cluster.run("job", "execute", "-j", "__ASSET_JOB")
    assert done.returncode == 0, done.stderr[-3000:]
    ran_in = _worker_of_each_step(cluster, [dg.AssetKey(["fleet", name]) for name in names])
    assert len(ran_in) == SOURCES
    assert set(ran_in.values()) == {"w0", "w1"}
    for number, name in enumerate(names):
        assert [v.version for v in manager.list_versions("fleet", name)] == [1, 2]
        latest = manager.get_latest_data("fleet", name)
        assert latest.record_count == 20 and latest.data[19] == {"id": 19, "source": number}
    _assert_nothing_on_local_disk(cluster)


@pytest.fixture
def gate() -> Iterator[tuple[str, threading.Event, threading.Event]]:
    """A server whose first request waits until released: a script that fetches it is held
    in the middle of its import, after its first records and before its last."""
    reached, release = threading.Event(), threading.Event()

    class Gate(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Quiet: the test output is for failures."""

        def do_GET(self) -> None:
            if not reached.is_set():
                reached.set()
                release.wait(timeout=GATE_SECONDS)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with serving(Gate) as base:
        yield base, reached, release
        release.set()


def _rows_after_version(database_url: str, project_id: str, source_id: str, version: int) -> int:
    """Rows of the source's record history that any version after `version` wrote, read with
    plain SQL, so nothing half-written can hide behind the API."""
    with psycopg.connect(database_url) as connection:
        (schema,) = connection.execute(
            "SELECT schema_name FROM manifold.source_schemas"
            " WHERE project_id = %s AND source_id = %s",
            (project_id, source_id),
        ).fetchone() or (None,)
        assert schema is not None
        connection.execute(f'SET search_path TO "{schema}"')
        (count,) = connection.execute(
            "SELECT count(*) FROM record_history WHERE first_version > %s", (version,)
        ).fetchone() or (0,)
        return int(count)


def test_a_worker_killed_mid_import_leaves_no_partial_version_and_the_next_run_succeeds(
    cluster: CeleryCluster,
    manager: SeparatedDatabaseManager,
    gate: tuple[str, threading.Event, threading.Event],
) -> None:
    base, reached, release = gate
    add_source(
        manager,
        "feed",
        project_id="fleet",
        script="emit([{id: 1}, {id: 2}]); await fetch(`${base}/gate`); emit([{id: 3}]);",
        variables={"base": base},
        allowedHosts=[base.removeprefix("http://")],
        timeoutSeconds=GATE_SECONDS,
    )
    manager.import_data("fleet", "feed", [{"id": 0}])
    run = cluster.launch("asset", "materialize", "--select", "fleet/feed")
    assert reached.wait(timeout=GATE_SECONDS), "the import never reached the gate"
    # The pool process running the step is the one whose sandboxed script waits at the gate.
    (running,) = [
        process
        for worker in cluster.workers
        for process in psutil.Process(worker.process.pid).children()
        if process.children()
    ]
    os.kill(running.pid, signal.SIGKILL)
    release.set()
    _, stderr = run.communicate(timeout=120)
    assert run.returncode != 0
    assert "Step fleet__feed finished without success or failure event" in stderr
    assert "WorkerLostError: Worker exited prematurely: signal 9 (SIGKILL)" in stderr
    with cluster.instance() as instance:
        (failed,) = instance.get_runs()
        assert failed.status == dg.DagsterRunStatus.FAILURE
    assert [v.version for v in manager.list_versions("fleet", "feed")] == [1]
    assert manager.get_latest_data("fleet", "feed").data == [{"id": 0}]
    assert _rows_after_version(cluster.database_url, "fleet", "feed", 1) == 0
    assert manager.get_import_logs("fleet", "feed")[0].status == "pending"  # never committed

    again = cluster.run("asset", "materialize", "--select", "fleet/feed")
    assert again.returncode == 0, again.stderr[-3000:]
    assert [v.version for v in manager.list_versions("fleet", "feed")] == [1, 2]
    assert manager.get_latest_data("fleet", "feed").data == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert not psutil.pid_exists(running.pid)
    assert _worker_of_each_step(cluster, [dg.AssetKey(["fleet", "feed"])])
    _assert_nothing_on_local_disk(cluster)


def test_alert_sensors_and_the_retention_job_work_on_the_postgresql_catalogue(
    cluster: CeleryCluster, manager: SeparatedDatabaseManager
) -> None:
    manager.set_setting("alerts", {"consecutiveFailures": 2})
    add_source(manager, "down", project_id="fleet", script="throw new Error('API down')")
    with pytest.raises(SourceRunError, match="API down"):
        manager.run_data_source("fleet", "down")
    rows = [{"id": i} for i in range(10)]
    add_source(manager, "shrinking", rows[:2], project_id="fleet")
    manager.import_data("fleet", "shrinking", rows)
    add_source(manager, "kept", rows, project_id="fleet", retention={"keepVersions": 2})
    for version in range(3):
        manager.import_data("fleet", "kept", rows[version:])
    done = cluster.run("job", "execute", "-j", "__ASSET_JOB")
    assert done.returncode != 0  # fleet/down fails its step (its second failure in a row)
    assert "API down" in done.stderr

    defs = build_definitions(read_catalog(manager))
    with cluster.instance() as instance:
        for name in ("alert_on_consecutive_failures", "alert_on_quality_failures"):
            sensor = defs.resolve_sensor_def(name)
            with dg.build_sensor_context(
                instance=instance, repository_def=defs.get_repository_def()
            ) as context:
                result = sensor.evaluate_tick(context)
            assert result.skip_message == "1 alert(s) raised, 0 delivered, 0 waiting for retry"
    alerts = {(a.source_id, a.kind) for a in list_alerts(manager)}
    assert alerts == {("down", "consecutive_failures"), ("shrinking", "quality_failure")}

    pruned = cluster.run("job", "execute", "-j", "retention_job")
    assert pruned.returncode == 0, pruned.stderr[-3000:]
    assert [v.version for v in manager.list_versions("fleet", "kept")] == [3, 4]
    pools = {pid for worker in cluster.workers for pid in worker.pool_pids()}
    with cluster.instance() as instance:
        (run,) = instance.get_runs(filters=dg.RunsFilter(job_name="retention_job"))
        (success,) = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS
        ).records
        assert success.event_log_entry.dagster_event is not None
        assert success.event_log_entry.dagster_event.pid in pools
    _assert_nothing_on_local_disk(cluster)
