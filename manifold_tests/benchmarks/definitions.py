"""Benchmark of the Dagster code location by number of sources, on each storage engine: one
location for the whole catalogue against locations by project (`manifold workspace`).

    python -m manifold_tests.benchmarks.definitions --sources 1000 5000 10000 \\
        --backend sqlite postgresql --sources-per-location 1000

For each N, builds a catalogue of N JavaScript sources in projects of 100 (mixed sync
intervals, chains of relationships inside each project and one into it from the project
before) in one transaction, then times, for the whole catalogue and for the largest location
of the layout: building `defs` in-process, `dagster definitions validate` (wall and CPU time,
and as ratios to its floor in the same run: validating an empty code location, a module
holding `defs = Definitions()`), and a real
dagster-webserver started on the workspace: until every location has loaded, a reload of
each location through GraphQL (`reloadRepositoryLocation`) and the asset catalogue's own
query for each. Last, headless Chromium opens /assets of the layout's webserver. PostgreSQL
is a throwaway server unless --database-url names one. Prints figures; asserts only that
every asset is listed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.code_locations import (
    DEFAULT_SOURCES_PER_LOCATION,
    LOCATION_ATTRIBUTE_PREFIX,
    LocationPlan,
    workspace_yaml,
)
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog, read_location
from manifold_tests.benchmarks.measure import Cost, measured_command
from manifold_tests.benchmarks.versions import databases
from manifold_tests.chromium import rendered_dom
from manifold_tests.dagster_webserver import DagsterWebserver

REPO = Path(__file__).parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
INTERVALS = [15, 30, 60, 90, 100, 1440, None]
SOURCES_PER_PROJECT = 100
CONFIG = {"script": "return [{id: 1}];", "quality": {"blocking": ["removed_rate"]}}
MODULE = "manifold_pipelines.definitions"
EMPTY_LOCATION = "import dagster as dg\n\ndefs = dg.Definitions()\n"


def populate(manager: SeparatedDatabaseManager, sources: int) -> None:
    """N sources in one catalogue transaction, through the catalogue store that the API's
    create methods write with (each of those is a transaction and an audit entry of its own)."""
    core = manager.core
    with core.writing():
        for project in range(-(-sources // SOURCES_PER_PROJECT)):
            core.insert_project(
                {
                    "id": f"p{project}",
                    "name": f"Project {project}",
                    "description": None,
                    "data_path": None,
                }
            )
        for number in range(sources):
            core.insert_source(
                {
                    "id": f"s{number}",
                    "project_id": _project(number),
                    "name": f"Source {number}",
                    "type": "javascript",
                    "config": CONFIG,
                    "enabled": True,
                    "sync_interval": INTERVALS[number % len(INTERVALS)],
                }
            )
        for number in range(1, sources):
            if number % 10 or number % SOURCES_PER_PROJECT == 0:
                core.relationships.insert(
                    (_project(number - 1), f"s{number - 1}"), (_project(number), f"s{number}")
                )


def _project(number: int) -> str:
    return f"p{number // SOURCES_PER_PROJECT}"


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def validations(folder: Path, env: dict[str, str], largest: str) -> dict[str, Any]:
    """`dagster definitions validate` of the whole catalogue and of the layout's largest
    location, next to the floor: the same command on an empty code location."""
    empty = folder / "empty_location"
    empty.mkdir()
    (empty / "empty_location.py").write_text(EMPTY_LOCATION)
    costs = {
        "empty location (floor)": validate(
            env, folder, ["-d", str(empty), "-m", "empty_location", "-a", "defs"]
        ),
        "one location": validate(env, folder, ["-m", MODULE, "-a", "defs"]),
        "largest location": validate(
            env, folder, ["-m", MODULE, "-a", f"{LOCATION_ATTRIBUTE_PREFIX}{largest}"]
        ),
    }
    floor = costs["empty location (floor)"]
    figures: dict[str, Any] = {}
    for label, cost in costs.items():
        figures[f"validate, {label} s"] = cost.wall
        figures[f"validate, {label} cpu s"] = cost.cpu
    for label in ("one location", "largest location"):
        figures[f"validate, {label} / floor"] = costs[label].wall / floor.wall
        figures[f"validate, {label} / floor, CPU time"] = costs[label].cpu / floor.cpu
    return figures


def validate(env: dict[str, str], folder: Path, location: list[str]) -> Cost:
    command = [DAGSTER, "definitions", "validate", *location]
    return measured_command(command, env, folder / "validate.out")


def location_figures(server: DagsterWebserver, sources: int, label: str) -> dict[str, Any]:
    """The webserver's start, each location's reload and catalogue query, and its code
    servers' memory, under `label`."""
    names = [entry["name"] for entry in server.locations()]
    listed: list[str] = []
    queries = []
    for name in names:
        started = time.perf_counter()
        listed += server.asset_catalogue(name)
        queries.append(time.perf_counter() - started)
    assert len(set(listed)) == len(listed) == sources, "an asset is missing or listed twice"
    reloads = [server.reload(name) for name in names]
    assert server.process is not None
    code_servers = psutil.Process(server.process.pid).children(recursive=True)
    return {
        f"{label}: locations": len(names),
        f"{label}: webserver ready s": server.load_seconds,
        f"{label}: slowest reload s": max(reloads),
        f"{label}: median reload s": statistics.median(reloads),
        f"{label}: slowest catalogue query s": max(queries),
        f"{label}: code servers' memory MB": sum(p.memory_info().rss for p in code_servers)
        // 2**20,
    }


def environment(folder: Path, home: Path, database_url: str | None) -> dict[str, str]:
    """What the Dagster commands and webservers run with: Manifold's home and engine, and a
    Dagster instance of their own in `folder`."""
    dagster_home = folder / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "MANIFOLD_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    env.pop("MANIFOLD_DATABASE_URL", None)
    if database_url is not None:
        env["MANIFOLD_DATABASE_URL"] = database_url
    return env


def measure(sources: int, per_location: int, database_url: str | None) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = environment(Path(tmp), home, database_url)
        with SeparatedDatabaseManager(home, database_url=database_url) as manager:
            figures["populate s"] = timed(lambda: populate(manager, sources))
            plan = manager.plan_code_locations(per_location)
            largest = max(plan.sources, key=lambda name: plan.sources[name])
            figures["build, one location s"] = timed(
                lambda: build_definitions(read_catalog(manager)).resolve_asset_graph()
            )
            figures["build, largest location s"] = timed(
                lambda: build_definitions(read_location(manager, largest)).resolve_asset_graph()
            )
        figures.update(validations(Path(tmp), env, largest))
        with DagsterWebserver(REPO / "workspace.yaml", env) as server:
            figures.update(location_figures(server, sources, "one location"))
        figures.update(by_project(Path(tmp), env, plan, sources))
    return figures


def by_project(
    folder: Path, env: dict[str, str], plan: LocationPlan, sources: int
) -> dict[str, Any]:
    """The layout's webserver, and Chromium opening its asset catalogue."""
    workspace = folder / "locations.yaml"
    workspace.write_text(workspace_yaml(plan))
    with DagsterWebserver(workspace, env) as server:
        figures = location_figures(server, sources, "by project")
        started = time.perf_counter()
        dom = rendered_dom(f"{server.url}/assets", folder / "chromium", wait_ms=60_000)
        figures["by project: Chromium /assets s"] = time.perf_counter() - started
        figures["by project: /assets lists p0/s0"] = "Source 0 (javascript source)" in dom
    return figures


def print_figures(sources: int, columns: dict[str, dict[str, Any]]) -> None:
    print(f"sources: {sources:,}")
    print(f"{'figure':<50}" + "".join(f"{backend:>14}" for backend in columns))
    for name in next(iter(columns.values())):
        cells = [columns[backend][name] for backend in columns]
        shown = [f"{c:,.2f}" if isinstance(c, float) else str(c) for c in cells]
        print(f"{name:<50}" + "".join(f"{cell:>14}" for cell in shown))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sources", type=int, nargs="+", default=[100, 1000])
    parser.add_argument(
        "--backend", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"]
    )
    parser.add_argument("--database-url", help="an existing PostgreSQL server's database")
    parser.add_argument("--sources-per-location", type=int, default=DEFAULT_SOURCES_PER_LOCATION)
    args = parser.parse_args()
    for sources in args.sources:
        columns = {}
        for backend in args.backend:
            with databases(backend, args.database_url) as new_database:
                columns[backend] = measure(sources, args.sources_per_location, new_database())
        print_figures(sources, columns)


if __name__ == "__main__":
    main()
