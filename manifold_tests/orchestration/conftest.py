"""A fixture core.db with sources of every kind of schedule, for the Dagster tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot, read_catalog

SCRIPT = "return rows;"


def add_source(
    manager: SeparatedDatabaseManager,
    source_id: str,
    rows: list[dict] | None = None,
    *,
    project_id: str = "shop",
    sync_interval: int | None = None,
    **config: object,
) -> None:
    if project_id not in {p.id for p in manager.list_projects()}:
        manager.create_project(name=project_id.title(), id=project_id)
    manager.create_data_source(
        project_id,
        name=source_id.replace("-", " ").title(),
        type="javascript",
        id=source_id,
        config={"script": SCRIPT, "variables": {"rows": rows or [{"id": 1}]}, **config},
        sync_interval=sync_interval,
    )


@pytest.fixture
def catalog_manager(manager: SeparatedDatabaseManager) -> SeparatedDatabaseManager:
    """Sources every 15, 60, 90, 1440 and 100 minutes, one unscheduled, one disabled, and a
    downstream source joining two others."""
    add_source(
        manager,
        "orders",
        sync_interval=15,
        owners=["data@shop.example"],
        tags={"tier": "gold"},
        description="Orders from the shop API",
    )
    add_source(manager, "customers", sync_interval=60)
    add_source(manager, "stock-levels", sync_interval=90)
    add_source(manager, "daily-prices", sync_interval=1440)
    add_source(manager, "odd-feed", sync_interval=100)
    add_source(manager, "manual")
    add_source(
        manager,
        "report",
        project_id="analytics",
        sync_interval=60,
        quality={"blocking": ["removed_rate"]},
    )
    add_source(manager, "retired", sync_interval=15)
    manager.update_data_source("shop", "retired", enabled=False)
    manager.add_relationship("shop/orders", "analytics/report")
    manager.add_relationship("shop/customers", "analytics/report")
    return manager


@pytest.fixture
def catalog(catalog_manager: SeparatedDatabaseManager) -> CatalogSnapshot:
    return read_catalog(catalog_manager)


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    return home
