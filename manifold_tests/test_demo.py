"""The README's commands must keep working: they are the first thing a newcomer runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, check=True, timeout=300
    )


def test_demo_runs_twice_and_prints_the_diff(tmp_path: Path) -> None:
    env = {"MANIFOLD_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    outputs = [
        _run([sys.executable, "-m", "manifold_pipelines.demo"], env, tmp_path).stdout
        for _ in range(2)
    ]
    assert "versions 1 and 2" in outputs[0] and "versions 3 and 4" in outputs[1]
    assert '"totalChanges"' in outputs[0] and "[info] fetched 40 items" in outputs[0]
    assert (tmp_path / "home" / "data-sources" / "demo" / "api.db").exists()


def test_demo_project_materializes_every_source_in_dagster(tmp_path: Path) -> None:
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = {**os.environ, "MANIFOLD_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(dagster_home)}
    assert (
        "http://127.0.0.1:3000"
        in _run([sys.executable, "-m", "manifold_pipelines.demo", "--setup"], env, tmp_path).stdout
    )
    done = _run(
        [DAGSTER, "asset", "materialize", "-m", "manifold_pipelines.definitions", "--select", "*"],
        env,
        tmp_path,
    )
    assert "RUN_SUCCESS" in done.stderr
    from manifold_pipelines import SeparatedDatabaseManager

    with SeparatedDatabaseManager(tmp_path / "home") as manager:
        report = manager.get_latest_data("demo", "report").data
        api = manager.get_latest_data("demo", "api").data
        assert [r["id"] for r in report] == [r["id"] for r in api]
        assert {r["store"] for r in report} >= {"Baixa", "Grünerløkka", "Ikoyi"}
        assert manager.get_latest_data("demo", "stores").record_count == 3
