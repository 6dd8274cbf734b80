"""Code locations by project: each location builds only its projects' assets and schedules,
the home one alone holds the alert sensors and the retention job, and a relationship from a
source of another location stays a dependency on that source's asset key, which Dagster
resolves across locations."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

import manifold_pipelines.definitions as entry_point
from manifold_pipelines import ManifoldError, SeparatedDatabaseManager
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog, read_location
from manifold_tests.orchestration.conftest import add_source

INSTANCE_WIDE = {
    "alert_on_consecutive_failures",
    "alert_on_slow_imports",
    "alert_on_storage_limits",
    "alert_on_quality_failures",
}


@pytest.fixture
def planned(manager: SeparatedDatabaseManager) -> SeparatedDatabaseManager:
    """Projects a, b and c, one location each (a's is the home one); b/z reads a/y."""
    add_source(manager, "x", project_id="a", sync_interval=15)
    add_source(manager, "y", project_id="a", sync_interval=60)
    add_source(manager, "z", project_id="b", sync_interval=15)
    add_source(manager, "w", project_id="b")
    add_source(manager, "v", project_id="c", sync_interval=100)
    manager.add_relationship("a/y", "b/z")
    manager.add_relationship("b/z", "b/w")
    manager.plan_code_locations(1)
    return manager


def _location(manager: SeparatedDatabaseManager, name: str) -> dg.Definitions:
    return build_definitions(read_location(manager, name))


def _defined(defs: dg.Definitions) -> set[str]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string() for key in graph.materializable_asset_keys}


def test_each_location_builds_only_its_projects_assets(planned: SeparatedDatabaseManager) -> None:
    assert _defined(_location(planned, "manifold_pipelines")) == {"a/x", "a/y"}
    assert _defined(_location(planned, "b")) == {"b/z", "b/w"}
    assert _defined(_location(planned, "c")) == {"c/v"}


def test_sensors_and_retention_are_in_the_home_location_alone(
    planned: SeparatedDatabaseManager,
) -> None:
    home, b, c = (_location(planned, name) for name in ("manifold_pipelines", "b", "c"))
    home_repo = home.get_repository_def()
    assert {s.name for s in home_repo.sensor_defs} >= INSTANCE_WIDE
    assert "retention_daily" in {s.name for s in home_repo.schedule_defs}
    assert home_repo.has_job("retention_job")
    for defs in (b, c):
        repo = defs.get_repository_def()
        assert not INSTANCE_WIDE & {s.name for s in repo.sensor_defs}
        assert not repo.has_job("retention_job")
    assert {s.name for s in b.get_repository_def().schedule_defs} == {"sync_every_15_minutes"}
    assert {s.name for s in c.get_repository_def().sensor_defs} == {"sync_odd_intervals"}


def test_a_relationship_from_another_location_stays_a_dependency(
    planned: SeparatedDatabaseManager,
) -> None:
    graph = _location(planned, "b").resolve_asset_graph()
    assert graph.get(dg.AssetKey(["b", "z"])).parent_keys == {dg.AssetKey(["a", "y"])}
    assert not graph.get(dg.AssetKey(["a", "y"])).is_materializable  # a's location defines it
    whole = build_definitions(read_catalog(planned)).resolve_asset_graph()
    assert whole.get(dg.AssetKey(["b", "z"])).parent_keys == {dg.AssetKey(["a", "y"])}


def test_a_disabled_upstream_in_another_location_is_no_dependency(
    planned: SeparatedDatabaseManager,
) -> None:
    planned.update_data_source("a", "y", enabled=False)
    graph = _location(planned, "b").resolve_asset_graph()
    assert graph.get(dg.AssetKey(["b", "z"])).parent_keys == set()


def test_a_project_created_after_the_layout_loads_in_the_home_location(
    planned: SeparatedDatabaseManager,
) -> None:
    add_source(planned, "fresh", project_id="later")
    assert _defined(_location(planned, "manifold_pipelines")) == {"a/x", "a/y", "later/fresh"}


def test_a_location_the_layout_does_not_know_is_a_clear_error(
    planned: SeparatedDatabaseManager,
) -> None:
    with pytest.raises(ManifoldError, match="'nowhere' is not in Manifold's layout"):
        read_location(planned, "nowhere")


def test_the_module_answers_each_location_and_defs_stays_the_whole_catalogue(
    planned: SeparatedDatabaseManager, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_HOME", str(home))
    located = entry_point.location__b  # type: ignore[attr-defined]
    assert _defined(located()) == {"b/z", "b/w"}
    assert _defined(entry_point.defs()) == {"a/x", "a/y", "b/z", "b/w", "c/v"}
    with pytest.raises(AttributeError):
        entry_point.anything_else  # type: ignore[attr-defined]  # noqa: B018


def test_every_location_runs_on_the_environments_executor(
    planned: SeparatedDatabaseManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_EXECUTOR", "celery")
    monkeypatch.setenv("MANIFOLD_CELERY_BROKER", "redis://127.0.0.1:6399/0")
    for name in ("manifold_pipelines", "b"):
        job = _location(planned, name).resolve_implicit_global_asset_job_def()
        assert job.executor_def.name == "celery"
