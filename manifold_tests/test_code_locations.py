"""Spreading projects over Dagster code locations: whole projects in id order, at most N
sources a location, the first location the home one; the layout is kept in the `dagster`
setting, where loads and reloads read it, so it must never put a project in two places."""

from __future__ import annotations

import pytest
import yaml

from manifold_pipelines import ManifoldError, SeparatedDatabaseManager
from manifold_pipelines.code_locations import (
    locations_of,
    plan_locations,
    projects_in,
    workspace_yaml,
)
from manifold_pipelines.core.global_settings import DagsterSettings, load_setting
from manifold_tests.conftest import make_source


def test_projects_fill_locations_in_id_order_up_to_the_limit() -> None:
    plan = plan_locations({"c": 3, "a": 2, "b": 2, "d": 9, "e": 1}, 4, "home")
    assert plan.projects == {"home": ["a", "b"], "c": ["c"], "d": ["d"], "e": ["e"]}
    assert plan.sources == {"home": 4, "c": 3, "d": 9, "e": 1}
    assert plan.locations == {"c": ["c"], "d": ["d"], "e": ["e"]}


def test_a_location_of_several_projects_is_named_by_its_first_and_last() -> None:
    plan = plan_locations({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}, 2, "home")
    assert list(plan.projects) == ["home", "c_to_d", "e"]


def test_one_source_a_location_gives_each_project_its_own() -> None:
    plan = plan_locations({"a": 5, "b": 1, "c": 0}, 1, "home")
    assert plan.projects == {"home": ["a"], "b": ["b"], "c": ["c"]}


def test_a_limit_below_one_and_a_location_named_like_home_are_refused() -> None:
    with pytest.raises(ManifoldError, match="at least one source"):
        plan_locations({"a": 1}, 0, "home")
    with pytest.raises(ManifoldError, match="both the home location"):
        plan_locations({"a": 1, "home": 1}, 1, "home")


def test_home_loads_every_project_no_location_lists() -> None:
    settings = DagsterSettings(location_name="home", locations={"b": ["b"], "c_to_d": ["c", "d"]})
    assert projects_in(settings, "home", ["a", "b", "c", "d", "new"]) == ["a", "new"]
    assert projects_in(settings, "c_to_d", ["a", "b", "c"]) == ["c"]  # d deleted since
    with pytest.raises(ManifoldError, match="'gone' is not in Manifold's layout"):
        projects_in(settings, "gone", ["a"])


def test_the_locations_of_changed_projects_come_home_first() -> None:
    settings = DagsterSettings(location_name="home", locations={"b": ["b"], "c_to_d": ["c", "d"]})
    assert locations_of(settings, ["d", "a", "c", "new"]) == ["home", "c_to_d"]
    assert locations_of(settings, ["b"]) == ["b"]


def test_the_workspace_file_loads_each_location_from_the_definitions_module() -> None:
    plan = plan_locations({"a": 2, "b": 2}, 2, "manifold_pipelines")
    entries = [e["python_module"] for e in yaml.safe_load(workspace_yaml(plan))["load_from"]]
    assert entries == [
        {
            "module_name": "manifold_pipelines.definitions",
            "attribute": "location__manifold_pipelines",
            "location_name": "manifold_pipelines",
        },
        {
            "module_name": "manifold_pipelines.definitions",
            "attribute": "location__b",
            "location_name": "b",
        },
    ]


def test_planning_counts_enabled_sources_and_keeps_the_other_dagster_settings(
    manager: SeparatedDatabaseManager,
) -> None:
    for project, count in (("a", 2), ("b", 1), ("c", 2)):
        for number in range(count):
            make_source(manager, project, f"s{number}")
    manager.update_data_source("c", "s1", enabled=False)
    manager.set_setting("dagster", {"locationName": "main"})
    plan = manager.plan_code_locations(2)
    assert plan.projects == {"main": ["a"], "b_to_c": ["b", "c"]}
    assert plan.sources == {"main": 2, "b_to_c": 2}
    stored = load_setting(manager.get_settings(), "dagster")
    assert stored.location_name == "main" and stored.locations == {"b_to_c": ["b", "c"]}


def test_a_layout_that_puts_a_project_in_two_locations_is_refused(
    manager: SeparatedDatabaseManager,
) -> None:
    with pytest.raises(ManifoldError, match="'p' is in two locations"):
        manager.set_setting("dagster", {"locations": {"x": ["p"], "y": ["p"]}})
    with pytest.raises(ManifoldError, match="is the locationName"):
        manager.set_setting("dagster", {"locations": {"manifold_pipelines": ["p"]}})
