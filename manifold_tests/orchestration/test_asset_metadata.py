"""What a materialization tells a user on the asset's page, read back from a real run: a
source's size is one figure everywhere (the metadata, `manifold stats`, the storage alerts)
and it grows as versions are added, or a user cannot trust any of them."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.orchestration.conftest import add_source


def materialization_metadata(manager: SeparatedDatabaseManager, key: str) -> dict[str, Any]:
    """Materialize one source in-process and return its materialization's metadata values."""
    defs = build_definitions(read_catalog(manager))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(assets, instance=dg.DagsterInstance.ephemeral(), selection=[key])
    (event,) = result.get_asset_materialization_events()
    return {name: value.value for name, value in event.materialization.metadata.items()}


def set_rows(manager: SeparatedDatabaseManager, rows: list[dict[str, Any]]) -> None:
    manager.update_data_source(
        "shop", "api", config={"script": "return rows;", "variables": {"rows": rows}}
    )


def test_file_size_grows_with_each_version_and_matches_manifold_stats(
    manager: SeparatedDatabaseManager,
) -> None:
    rows = [{"id": i, "text": f"row {i} " * 20} for i in range(1000)]
    add_source(manager, "api", rows)
    sizes = [materialization_metadata(manager, "shop/api")["file_size_bytes"]]
    for round_ in range(2):
        set_rows(manager, [{**row, "round": round_} for row in rows])
        sizes.append(materialization_metadata(manager, "shop/api")["file_size_bytes"])
    assert sizes[0] < sizes[1] < sizes[2]
    stats = run_manifold(manager.settings.home, "stats", "shop/api", "--json")
    assert stats.returncode == 0, stats.stderr
    (figures,) = json.loads(stats.stdout)["sources"]
    assert figures["storage_bytes"] == sizes[-1]
    assert manager.get_latest_data("shop", "api").version == 3
