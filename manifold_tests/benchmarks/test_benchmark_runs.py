"""The benchmark script is how speed is measured; a tiny run keeps it from rotting, and its
measuring must measure: CPU, faults and memory of the step, and the server's CPU."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.benchmarks import (
    cli_show,
    definitions,
    incremental,
    page_faults,
    sandbox,
    scale_out,
)
from manifold_tests.benchmarks.measure import ServerCpu, measured, spread
from manifold_tests.benchmarks.versions import run

REPO = Path(__file__).parents[2]


def _url(engine: str) -> str | None:
    """The engine fixture names a fresh PostgreSQL database in the environment."""
    return os.environ["MANIFOLD_DATABASE_URL"] if engine == "postgresql" else None


def test_benchmark_runs_and_reports_every_figure(engine: str) -> None:
    figures = run(2000, seed=1, database_url=_url(engine))
    assert figures["v2 diff"] == {"added": 10, "removed": 10, "modified": 20, "totalChanges": 40}
    assert figures["datacompy's counts"] == figures["v2 diff"]
    # 40 changes may fit in the free room of v1's pages (32 KiB ones on SQLite); a copy of v1
    # would not
    assert 0 <= figures["bytes added by v2"] < figures["seed-literal bytes added by v2"]
    assert 0 <= figures["bytes added by v2 / seed-literal's"] < 1
    for step in ("v1 import", "v2 import (incl. diff)", "read latest", "read version 1"):
        assert figures[f"{step} cpu s (user+sys)"] > 0
        assert 0 <= figures[f"{step} user s"] <= figures[f"{step} cpu s (user+sys)"]
        assert figures[f"{step} / floor"] > 0
        assert not figures[f"{step} / floor, user time"] < 0  # nan when the floor's is 0
    for step, reference in (
        ("v2 import (incl. diff)", "seed-literal"),
        ("v2 import (incl. diff)", "datacompy"),
        ("diff details", "datacompy"),
    ):
        assert figures[f"{step} / {reference}"] > 0
        assert figures[f"{step} / {reference}, CPU time"] > 0
    assert figures["seed-literal v2 import+diff s"] > 0
    assert figures["datacompy frames+compare cpu s (user+sys)"] > 0
    # SQLite runs in this process; PostgreSQL's work is its server's
    assert ("v1 import server cpu s" in figures) == (engine == "postgresql")


def test_the_incremental_benchmark_runs_and_its_two_imports_agree(engine: str) -> None:
    figures = incremental.run(2000, seed=1, database_url=_url(engine))
    assert figures["incremental v2 diff"] == figures["snapshot v2 diff"]
    assert figures["incremental v2 diff"]["modified"] == 20
    assert figures["bytes added by the incremental v2"] >= 0
    assert figures["bytes added %"] < 10  # 1% of the records changed, no copy of them all


def test_the_cli_show_benchmark_runs_the_real_command_against_its_floor(engine: str) -> None:
    figures = cli_show.run(2000, seed=1, database_url=_url(engine))
    assert figures["file MB"] > 0.2  # the two files were checked byte for byte the same
    for label in ("manifold show --format jsonl > file", cli_show.FLOOR):
        assert figures[f"{label} cpu s (user+sys)"] > 0
    # a fresh interpreter of its own: tens of MB before it reads anything
    assert figures["manifold show --format jsonl > file peak RSS rise MB"] > 20
    assert figures["manifold --help (start-up) s"] > 0
    # at 2,000 records the command is mostly its interpreter's start, which the floor has not
    assert figures["show / floor"] > 1 and figures["show / floor, CPU time"] > 1
    assert ("manifold show --format jsonl > file server cpu s" in figures) == (
        engine == "postgresql"
    )


@pytest.mark.slow
def test_validating_the_definitions_is_measured_against_an_empty_code_location(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    with SeparatedDatabaseManager(home) as manager:
        definitions.populate(manager, 3)
        (location,) = manager.plan_code_locations(1000).sources
    env = definitions.environment(tmp_path, home, None)
    figures = definitions.validations(tmp_path, env, location)
    assert figures["validate, empty location (floor) cpu s"] > 0.2  # dagster's own start
    for label in ("one location", "largest location"):
        # three sources cost Dagster little more than none: near the floor, either side of it
        assert 0.5 < figures[f"validate, {label} / floor"] < 10
        assert 0.5 < figures[f"validate, {label} / floor, CPU time"] < 10


def test_a_step_is_charged_its_own_cpu_and_memory_not_what_came_before() -> None:
    held = b"x" * (64 * 2**20)  # a peak before the step: not the step's
    del held
    cost, total = measured(lambda: sum(i * i for i in range(300_000)))
    assert total > 0 and cost.user + cost.system > 0
    assert cost.peak_rise_mb < 8
    cost, size = measured(lambda: len(b"x" * (48 * 2**20)))
    assert size == 48 * 2**20 and cost.minor_faults > 48 * 2**20 // 4096 // 2
    assert 40 < cost.peak_rise_mb < 64
    assert spread([3.0, 1.0, 2.0]) == "2.000 [1.000-3.000]" and spread([7]) == "7"


@pytest.mark.postgresql_only
def test_the_servers_cpu_is_counted_on_postgresql(postgres_url: str) -> None:
    server = ServerCpu(postgres_url)

    def busy_query() -> None:
        with psycopg.connect(postgres_url) as conn:  # a backend that ends with the step
            conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()

    cost, _ = measured(busy_query, server)
    assert cost.server_cpu is not None and cost.server_cpu > 0.1
    assert cost.user + cost.system < cost.server_cpu


@pytest.mark.slow
@pytest.mark.scale_out
def test_the_scale_out_benchmark_runs_on_celery_workers() -> None:
    (figures,) = scale_out.run(2, [1], durable=False).values()
    assert figures["run recorded by Dagster s"] <= figures["command wall s"]
    assert figures["sources per minute"] > 0


def test_every_benchmark_module_imports() -> None:
    """A benchmark that no test runs must still load: a rename elsewhere broke one once."""
    folder = Path(__file__).parent
    for module in sorted(folder.glob("*.py")):
        if not module.name.startswith(("test_", "__")):
            importlib.import_module(f"manifold_tests.benchmarks.{module.stem}")


def test_the_versions_benchmark_prints_a_block_per_size_with_its_references() -> None:
    command = [
        sys.executable,
        "-m",
        "manifold_tests.benchmarks.versions",
        "--records",
        "300",
        "600",
    ]
    printed = subprocess.run(
        command, cwd=REPO, check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert [line for line in printed.splitlines() if line.startswith("records:")] == [
        "records: 300  runs: 1 (medians [min-max])",
        "records: 600  runs: 1 (medians [min-max])",
    ]
    assert printed.count("seed-literal (whole JSON array per version)") == 2
    assert printed.count("diff details / datacompy, CPU time") == 2


def test_touching_fresh_memory_is_priced_per_fault() -> None:
    system, faults = page_faults.touch(16 * 2**20)
    assert faults >= 16 * 2**20 // page_faults.PAGE  # a fault a page, each written once
    assert system >= 0


def test_a_step_with_many_faults_shows_what_each_cost() -> None:
    cost, _ = measured(lambda: page_faults.touch(64 * 2**20))
    figures = cost.figures("touch")
    assert figures["touch minor page faults"] >= 16_384
    assert figures["touch sys us per fault"] == pytest.approx(
        figures["touch sys s"] / figures["touch minor page faults"] * 1e6
    )
    few, _ = measured(lambda: None)
    assert "nothing sys us per fault" not in few.figures("nothing")


def test_a_figure_some_repeats_lack_is_printed_from_those_that_have_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A step's system time per fault is shown only with many faults, so one repeat can lack it."""
    sandbox.print_runs("runs", [{"a": 1.0, "b": 2.0}, {"a": 3.0}, {"a": 2.0, "b": 4.0}])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["a", "2.000", "[1.000-3.000]"]
    assert lines[2].split() == ["b", "3.000", "[2.000-4.000]"]
