"""A Manifold with something of everything a transfer must carry, and the comparison of two
Manifolds through the public API only: what users see is what must survive the move."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.alerts.center import list_alerts, raise_alerts
from manifold_pipelines.errors import DiffKeyError
from manifold_tests.conftest import make_source


def records(count: int, version: int, *, extra: bool = False) -> list[dict[str, Any]]:
    """`count` records, a tenth of them changed at each version; `extra` adds a field."""
    rows = []
    for i in range(count):
        row: dict[str, Any] = {"id": i, "code": f"c{i}", "name": f"n{i}", "price": i * 1.5}
        if i % 10 == version % 10:
            row["name"] = f"n{i} v{version}"
        if extra:
            row["tags"] = ["a", i]
        rows.append(row)
    return rows


def build_manifold(manager: SeparatedDatabaseManager, size: int = 40) -> None:
    """Held and published versions, a rollback, a diff key change, schema changes, a failed
    import, quality metrics, retention, a project with its own data folder, a source never
    imported, a relationship across projects, users with roles, settings and an alert."""
    make_source(manager, "demo", "api")
    make_source(
        manager,
        "demo",
        "orders",
        quality={"removedRate": {"fail": 0.3}, "blocking": ["removed_rate"]},
    )
    make_source(manager, "demo", "never")
    manager.create_project(name="Shop", id="shop", data_path=manager.settings.home / "shop-data")
    make_source(manager, "shop", "items", keylessDiff=True)
    manager.set_setting("alerts", {"consecutiveFailures": 1})

    manager.import_data("demo", "api", records(size, 1), metadata={"run": 1})
    manager.import_data("demo", "api", records(size, 2)[2:] + records(size + 3, 2)[size:])
    manager.import_data("demo", "api", records(size, 3, extra=True))
    with pytest.raises(DiffKeyError):
        manager.import_data("demo", "api", [{"id": 1}, {"id": 1}])
    assert raise_alerts(manager, "consecutive_failures")
    manager.update_data_source("demo", "api", config={"script": "return [];", "diffKey": "code"})
    manager.import_data("demo", "api", records(size, 4))
    manager.rollback("demo", "api", 2)

    orders = records(size, 1)
    manager.import_data("demo", "orders", orders)
    assert manager.import_data("demo", "orders", orders[: size // 2]).status == "held"
    manager.publish_version("demo", "orders", 2)
    assert manager.import_data("demo", "orders", orders[: size // 5]).status == "held"

    for version in range(1, 5):
        manager.import_data("shop", "items", records(size, version))
    manager.cleanup("shop", "items", keep_versions=2)

    manager.add_relationship("demo/api", "shop/items")
    manager.create_user("alice", name="Alice", email="alice@example.com")
    manager.set_role("alice", "demo", "editor")
    manager.create_user("bob")
    manager.set_role("bob", "shop", "viewer")
    manager.set_instance_role("bob", "admin")
    manager.set_user_setting("theme", {"dark": True})


def sources(manager: SeparatedDatabaseManager) -> list[tuple[str, str]]:
    return [source.key for source in manager.list_data_sources()]


def catalogue_of(manager: SeparatedDatabaseManager, *, audit: bool = True) -> dict[str, Any]:
    """Everything of the catalogue the API shows, projects without their data folder (a copy
    keeps its data in its own layout). Read first: reading data adds to the audit log."""
    seen: dict[str, Any] = {
        "projects": [p.model_dump(exclude={"data_path"}) for p in manager.list_projects()],
        "sources": [s.model_dump() for s in manager.list_data_sources()],
        "relationships": manager.list_relationships(),
        "users": manager.list_users(),
        "roles": {
            (user.id, project.id): manager.get_role(user.id, project.id)
            for user in manager.list_users()
            for project in manager.list_projects()
        },
        "settings": manager.get_settings(),
        "user setting": manager.get_user_setting("theme"),
        "history": manager.import_history(limit=None),
        "alerts": list_alerts(manager),
    }
    if audit:
        seen["audit"] = manager.audit_log(limit=None)
    return seen


def versions_of(manager: SeparatedDatabaseManager) -> dict[str, Any]:
    """Every version of every source with its records, the diff from the version before,
    its quality metrics, and each source's schema history and import logs."""
    seen: dict[str, Any] = {}
    for key in sources(manager):
        listed = manager.list_versions(*key)
        numbers = [info.version for info in listed]
        seen[f"{key} versions"] = listed
        seen[f"{key} schemas"] = manager.get_schema_history(*key)
        seen[f"{key} logs"] = manager.get_import_logs(*key, limit=None)
        for number in numbers:
            seen[f"{key} v{number}"] = manager.get_data_version(*key, number).model_dump()
            seen[f"{key} v{number} metrics"] = manager.get_quality_metrics(*key, number)
        for old, new in itertools.pairwise(numbers):
            seen[f"{key} diff {old}-{new}"] = manager.get_data_diff(*key, old, new).to_dict()
    return seen


def assert_same_manifold(
    ours: SeparatedDatabaseManager, theirs: SeparatedDatabaseManager, *, audit: bool = True
) -> None:
    """The two show the same catalogue (and audit log, unless told otherwise) and the same
    versions; compared key by key, so a failure names what differs."""
    expected, found = catalogue_of(ours, audit=audit), catalogue_of(theirs, audit=audit)
    for name in expected:
        assert found[name] == expected[name], name
    expected, found = versions_of(ours), versions_of(theirs)
    assert found.keys() == expected.keys()
    for name in expected:
        assert found[name] == expected[name], name


@pytest.fixture
def original(tmp_path: Path) -> Iterator[SeparatedDatabaseManager]:
    """A SQLite home holding the Manifold of build_manifold."""
    manager = SeparatedDatabaseManager(tmp_path / "home")
    build_manifold(manager)
    yield manager
    manager.close()
