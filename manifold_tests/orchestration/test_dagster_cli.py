"""The code location as people run it: the dagster CLI in a subprocess, with twenty sources
materializing side by side in the multiprocess executor (one SQLite file or PostgreSQL
schema each: no shared store to wait on) and one damaged source failing alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.orchestration.conftest import add_source
from manifold_tests.raw_storage import damage_source

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _env(home: Path, dagster_home: Path) -> dict[str, str]:
    return {**os.environ, "MANIFOLD_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}


@pytest.mark.slow
def test_dagster_asset_materialize_runs_one_source(
    manager: SeparatedDatabaseManager, home: Path, dagster_home: Path
) -> None:
    add_source(manager, "api", [{"id": 1}, {"id": 2}], project_id="demo")
    add_source(manager, "other", project_id="demo")
    done = subprocess.run(
        [
            DAGSTER,
            "asset",
            "materialize",
            "-m",
            "manifold_pipelines.definitions",
            "--select",
            "demo/api",
        ],
        env=_env(home, dagster_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "RUN_SUCCESS" in done.stderr
    assert manager.get_latest_data("demo", "api").data == [{"id": 1}, {"id": 2}]
    assert manager.list_versions("demo", "other") == []
    assert manager.get_import_logs("demo", "api")[0].status == "completed"


@pytest.mark.slow
def test_definitions_validate(
    home: Path, dagster_home: Path, manager: SeparatedDatabaseManager
) -> None:
    add_source(manager, "api", project_id="demo", sync_interval=90)
    done = subprocess.run(
        [DAGSTER, "definitions", "validate", "-m", "manifold_pipelines.definitions"],
        env=_env(home, dagster_home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Validation successful" in done.stdout + done.stderr


@pytest.mark.slow
def test_twenty_sources_in_parallel_and_a_damaged_one_fails_alone(
    manager: SeparatedDatabaseManager, home: Path, dagster_home: Path, tmp_path: Path
) -> None:
    for number in range(20):
        rows = [{"id": i, "source": number} for i in range(500)]
        add_source(manager, f"s{number:02d}", rows, project_id="fleet")
    add_source(manager, "broken", project_id="fleet")
    manager.run_data_source("fleet", "broken")
    damage_source(home, "fleet", "broken")
    config = tmp_path / "run.yaml"
    config.write_text("execution:\n  config:\n    multiprocess:\n      max_concurrent: 4\n")
    done = subprocess.run(
        [
            DAGSTER,
            "job",
            "execute",
            "-m",
            "manifold_pipelines.definitions",
            "-j",
            "__ASSET_JOB",
            "-c",
            str(config),
        ],
        env=_env(home, dagster_home),
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode != 0  # the damaged source fails its step, and so the run
    assert "STEP_WORKER_STARTED" in done.stderr  # each step ran in its own process
    for number in range(20):
        version = manager.get_latest_data("fleet", f"s{number:02d}")
        assert version.version == 1 and version.record_count == 500
        assert version.data[0] == {"id": 0, "source": number}
    assert "of Data source 'fleet/broken'" in done.stderr
    assert "move it aside" in done.stderr
