"""The README's commands must keep working: they are the first thing a newcomer runs."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg
import psutil
import pytest

from manifold_tests.celery_cluster import DEPLOYMENT_INSTANCE
from manifold_tests.raw_storage import source_data_exists

README = Path(__file__).parents[1] / "README.md"


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, check=True, timeout=300
    )


def test_demo_runs_twice_and_prints_the_diff(tmp_path: Path, engine: str) -> None:
    env = {"MANIFOLD_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    if engine == "postgresql":
        env["MANIFOLD_DATABASE_URL"] = os.environ["MANIFOLD_DATABASE_URL"]
    outputs = [
        _run([sys.executable, "-m", "manifold_pipelines.demo"], env, tmp_path).stdout
        for _ in range(2)
    ]
    assert "versions 1 and 2" in outputs[0] and "versions 3 and 4" in outputs[1]
    assert '"totalChanges"' in outputs[0] and "[info] fetched 40 items" in outputs[0]
    assert source_data_exists(tmp_path / "home", "demo", "api")


def _readme_command(starts: str) -> str:
    """The command of the README's bash blocks that `starts` so, its `.venv/bin/` pointed at
    this venv."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    (line,) = [line for block in blocks for line in block.splitlines() if line.startswith(starts)]
    return line.replace(".venv/bin/", f"{Path(sys.executable).parent}/")


@pytest.mark.slow
def test_the_readme_commands_set_up_the_demo_and_materialize_every_source(
    tmp_path: Path,
) -> None:
    """The README's run command (up to `dagster dev`, which a webserver test covers) and its
    materialize command, as written, in a fresh folder."""
    (tmp_path / "dagster_home").mkdir()
    run_it = _readme_command("python3.11 -m venv")
    setup = run_it[
        run_it.index("export MANIFOLD_HOME") : run_it.index(" && ", run_it.index("--setup"))
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MANIFOLD_", "DAGSTER_"))}
    assert "http://127.0.0.1:3000" in _run(["bash", "-c", setup], env, tmp_path).stdout
    materialize = _readme_command('MANIFOLD_HOME="$PWD/manifold_home" DAGSTER_HOME')
    done = _run(["bash", "-c", materialize], env, tmp_path)
    assert "RUN_SUCCESS" in done.stderr
    from manifold_pipelines import SeparatedDatabaseManager

    with SeparatedDatabaseManager(tmp_path / "manifold_home") as manager:
        report = manager.get_latest_data("demo", "report").data
        api = manager.get_latest_data("demo", "api").data
        assert [r["id"] for r in report] == [r["id"] for r in api]
        assert {r["store"] for r in report} >= {"Baixa", "Grünerløkka", "Ikoyi"}
        assert manager.get_latest_data("demo", "stores").record_count == 3


README_DATABASE_URL = "postgresql://manifold:change-me@127.0.0.1:5432/manifold"


@pytest.mark.slow
@pytest.mark.postgresql_only
def test_the_readme_scale_out_steps_move_the_demo_to_postgresql_and_materialize(
    tmp_path: Path, engine: str
) -> None:
    """The README's "PostgreSQL: scale out" steps as written, from `manifold transfer` on,
    with the test's own database in place of the README's URL: the steps before install and
    start a server and create its database, which the test's fixture does."""
    url = os.environ["MANIFOLD_DATABASE_URL"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MANIFOLD_", "DAGSTER_"))}
    (tmp_path / "dagster_home").mkdir()
    run_it = _readme_command("python3.11 -m venv")
    setup = run_it[
        run_it.index("export MANIFOLD_HOME") : run_it.index(" && ", run_it.index("--setup"))
    ]
    _run(["bash", "-c", setup], env, tmp_path)
    steps = [
        _readme_command(start).replace(README_DATABASE_URL, url)
        for start in (
            ".venv/bin/manifold --home ./manifold_home transfer",
            "export MANIFOLD_DATABASE_URL",
            ".venv/bin/dagster asset materialize -m manifold_pipelines.definitions --select 'key",
        )
    ]
    assert all(url in step for step in steps[:2])
    done = _run(["bash", "-c", " && ".join(steps)], env, tmp_path)
    assert "RUN_SUCCESS" in done.stderr
    from manifold_pipelines import SeparatedDatabaseManager

    with SeparatedDatabaseManager(tmp_path / "elsewhere", database_url=url) as manager:
        report = manager.get_latest_data("demo", "report").data
        assert {r["store"] for r in report} >= {"Baixa", "Grünerløkka", "Ikoyi"}
        assert [v.version for v in manager.list_versions("demo", "api")] == [1]
    assert not (tmp_path / "elsewhere").exists()


README_BROKER_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.slow
@pytest.mark.scale_out
def test_the_readme_scale_out_steps_run_the_demo_on_two_stateless_celery_workers(
    tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's "Scale out" steps as written, from setting the URLs on, with the test's
    own database and broker in place of the README's and its folder in place of /tmp: the
    steps before install and start the servers, which the fixtures do, and `dagster dev` is
    covered by the webserver tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MANIFOLD_", "DAGSTER_"))}
    shutil.copytree(DEPLOYMENT_INSTANCE.parent, tmp_path / "dagster_home" / "deployments")
    materialize = ".venv/bin/dagster asset materialize -m manifold_pipelines.definitions --select"
    steps = [
        _readme_command(start)
        .replace(README_DATABASE_URL, postgres_url)
        .replace(README_BROKER_URL, redis_url)
        .replace("/tmp/manifold-worker", f"{tmp_path}/manifold-worker")
        for start in (
            "export MANIFOLD_CELERY_BROKER",
            ".venv/bin/python -m manifold_pipelines.demo --setup",
            "for n in 1 2;",
            'export DAGSTER_HOME="$PWD/dagster_home/scale-out"',
            f"{materialize} demo/api",
        )
    ]
    assert postgres_url in steps[0] and redis_url in steps[0]
    try:
        done = _run(["bash", "-c", " && ".join(steps)], env, tmp_path)
        assert "RUN_SUCCESS" in done.stderr
        workers = [
            psutil.Process(int((tmp_path / f"manifold-worker-{n}.pid").read_text())) for n in (1, 2)
        ]
        pools = {child.pid for worker in workers for child in worker.children()}
    finally:
        _stop_detached_workers(tmp_path)
    monkeypatch.setenv("MANIFOLD_DATABASE_URL", postgres_url)  # as the instance's yaml reads it
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home" / "scale-out")) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey(["demo", "api"]))
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.metadata["worker_pid"].value in pools
    from manifold_pipelines import SeparatedDatabaseManager

    with SeparatedDatabaseManager(tmp_path / "elsewhere") as manager:
        assert [v.version for v in manager.list_versions("demo", "api")] == [1]
    for n in (1, 2):
        assert list((tmp_path / f"manifold-worker-{n}").iterdir()) == []


def _stop_detached_workers(folder: Path) -> None:
    """Kill each worker the README started, pool included: a detached worker leads a process
    group of its own, named by its pid file."""
    for pid_file in folder.glob("manifold-worker-*.pid"):
        pid = int(pid_file.read_text())
        if psutil.pid_exists(pid):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
