"""The whole Dagster surface built from a fixture core.db: asset keys, groups, dependencies,
checks, schedules with their crons and jobs, sensors with theirs, and the assets each job
selects. A change to any of them shows up here as a diff against
manifold_tests/cases/definitions_surface.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot

GOLDEN = Path(__file__).parents[1] / "cases" / "definitions_surface.json"


def surface(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(dep.to_user_string() for dep in node.parent_keys),
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "tags": dict(node.tags),
            "description": node.description,
            "checks": sorted((check.name, graph.get(check).blocking) for check in node.check_keys),
        }
    repo = defs.get_repository_def()
    return {
        "assets": assets,
        "schedules": {
            s.name: {
                "crons": list(s.cron_schedule)
                if not isinstance(s.cron_schedule, str)
                else [s.cron_schedule],
                "status": s.default_status.value,
                "job": s.job_name,
            }
            for s in sorted(repo.schedule_defs, key=lambda s: s.name)
        },
        "sensors": {
            s.name: sorted(target.job_name for target in s.targets) for s in repo.sensor_defs
        },
        "jobs": {
            j.name: sorted(k.to_user_string() for k in j.asset_layer.selected_asset_keys)
            for j in repo.get_all_jobs()
            if not j.name.startswith("__")
        },
    }


def test_definitions_surface_matches_the_snapshot(catalog: CatalogSnapshot) -> None:
    defs = build_definitions(catalog)
    dg.Definitions.validate_loadable(defs)
    current = json.loads(json.dumps(surface(defs)))
    if os.environ.get("MANIFOLD_UPDATE_SNAPSHOTS"):
        GOLDEN.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(GOLDEN.read_text())


def test_disabled_sources_are_neither_assets_nor_scheduled(catalog: CatalogSnapshot) -> None:
    defs = build_definitions(catalog)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert "shop/retired" not in keys and "shop/orders" in keys


def test_names_from_ids_with_dashes_are_sanitised(catalog: CatalogSnapshot) -> None:
    defs = build_definitions(catalog)
    node = defs.resolve_asset_graph().get(dg.AssetKey(["shop", "stock-levels"]))
    assert node.group_name == "shop"
    op_names = {a.op.name for a in defs.assets if isinstance(a, dg.AssetsDefinition)}
    assert any(name.startswith("shop__stock_levels_") for name in op_names)
