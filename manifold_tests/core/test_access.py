"""Every public method of the Python API declares the role it needs, the README's table says
the same, and each method really is refused or allowed for a user with no role, a viewer, an
editor, an admin and an instance admin. A method added without a declaration, or a rule that
drifts from the README, fails here."""

from __future__ import annotations

import inspect
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.access import ACCESS, Access
from manifold_pipelines.core.permissions import RANK, PermissionDeniedError

README = Path(__file__).parents[2] / "README.md"
Call = Callable[[SeparatedDatabaseManager, Path], Any]

# One call per public method, each of which succeeds when the caller is allowed.
CALLS: dict[str, Call] = {
    "close": lambda m, h: m.close(),
    "check_access": lambda m, h: m.check_access("list_projects"),
    "create_project": lambda m, h: m.create_project(name="New", id="new"),
    "get_project": lambda m, h: m.get_project("demo"),
    "list_projects": lambda m, h: m.list_projects(),
    "update_project": lambda m, h: m.update_project("demo", description="changed"),
    "delete_project": lambda m, h: m.delete_project("demo"),
    "create_data_source": lambda m, h: m.create_data_source(
        "demo", name="n", type="javascript", id="n", config={"script": "return []"}
    ),
    "get_data_source": lambda m, h: m.get_data_source("demo", "api"),
    "describe_data_source": lambda m, h: m.describe_data_source("demo", "api"),
    "list_data_sources": lambda m, h: m.list_data_sources("demo"),
    "update_data_source": lambda m, h: m.update_data_source("demo", "api", enabled=False),
    "delete_data_source": lambda m, h: m.delete_data_source("demo", "c"),
    "data_file_path": lambda m, h: m.data_file_path("demo", "api"),
    "data_location": lambda m, h: m.data_location("demo", "api"),
    "data_size": lambda m, h: m.data_size("demo", "api"),
    "get_source_state": lambda m, h: m.get_source_state("demo", "api"),
    "set_source_state": lambda m, h: m.set_source_state("demo", "api", {"cursor": 1}),
    "add_relationship": lambda m, h: m.add_relationship("demo/b", "demo/c"),
    "remove_relationship": lambda m, h: m.remove_relationship("demo/api", "demo/b"),
    "list_relationships": lambda m, h: m.list_relationships(),
    "create_user": lambda m, h: m.create_user("zed"),
    "list_users": lambda m, h: m.list_users(),
    "set_role": lambda m, h: m.set_role("vera", "demo", "editor"),
    "set_instance_role": lambda m, h: m.set_instance_role("vera", "admin"),
    "get_role": lambda m, h: m.get_role("vera", "demo"),
    "set_user_setting": lambda m, h: m.set_user_setting("theme", "dark"),
    "get_user_setting": lambda m, h: m.get_user_setting("theme"),
    "reload_dagster": lambda m, h: m.reload_dagster(),
    "set_setting": lambda m, h: m.set_setting("alerts", {"consecutiveFailures": 2}),
    "plan_code_locations": lambda m, h: m.plan_code_locations(),
    "get_settings": lambda m, h: m.get_settings(),
    "audit_log": lambda m, h: m.audit_log(),
    "import_data": lambda m, h: m.import_data("demo", "api", [{"id": 9}]),
    "run_data_source": lambda m, h: m.run_data_source("demo", "api"),
    "preview_data_source": lambda m, h: m.preview_data_source("demo", "api"),
    "get_latest_data": lambda m, h: m.get_latest_data("demo", "api"),
    "get_data_version": lambda m, h: m.get_data_version("demo", "api", 2),
    "get_data_diff": lambda m, h: m.get_data_diff("demo", "api", 2, 3),
    "list_versions": lambda m, h: m.list_versions("demo", "api"),
    "publish_version": lambda m, h: m.publish_version("demo", "api", 4),
    "rollback": lambda m, h: m.rollback("demo", "api", 2),
    "get_schema_history": lambda m, h: m.get_schema_history("demo", "api"),
    "get_import_logs": lambda m, h: m.get_import_logs("demo", "api"),
    "get_quality_metrics": lambda m, h: m.get_quality_metrics("demo", "api"),
    "import_history": lambda m, h: m.import_history("demo"),
    "cleanup": lambda m, h: m.cleanup("demo", "api", keep_versions=10),
    "archive_versions": lambda m, h: m.archive_versions("demo", "api", 3),
    "restore_archived": lambda m, h: m.restore_archived(
        "demo", "api", next((h / "archive" / "demo").glob("api-*.jsonl.gz")), 1
    ),
    "record_history": lambda m, h: m.record_history("demo", "api", 1),
    "list_archived": lambda m, h: m.list_archived(
        "demo", "api", next((h / "archive" / "demo").glob("api-*.jsonl.gz"))
    ),
}

# Who each persona is on project 'demo' (None: no role), and whether it is instance admin.
PERSONAS: dict[str, tuple[str | None, bool]] = {
    "nobody": (None, False),
    "vera": ("viewer", False),
    "eddie": ("editor", False),
    "ada": ("admin", False),
    "root": (None, True),
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with three sources, four versions of 'api' (v1 archived, v4 held back by a
    blocking check) and the five personas, built once and copied for each call."""
    home = tmp_path_factory.mktemp("access") / "home"
    quality = {"recordCount": {"fail": 1}, "blocking": ["record_count"]}
    with SeparatedDatabaseManager(home, user="local-admin") as m:
        m.create_project(name="Demo", id="demo")
        for source_id in ("api", "b", "c"):
            config: dict[str, Any] = {"script": "return [{id: 1}]", "quality": quality}
            m.create_data_source(
                "demo", name=source_id, type="javascript", id=source_id, config=config
            )
        m.add_relationship("demo/api", "demo/b")
        for records in ([{"id": 1}], [{"id": 1}, {"id": 2}], [{"id": 1}, {"id": 3}], []):
            m.import_data("demo", "api", records)
        m.archive_versions("demo", "api", 2)
        for user, (role, instance) in PERSONAS.items():
            m.create_user(user)
            if role is not None:
                m.set_role(user, "demo", role)  # type: ignore[arg-type]
            if instance:
                m.set_instance_role(user, "admin")
    return home


def _allowed(access: Access, persona: str) -> bool:
    role, instance = PERSONAS[persona]
    if instance or access.scope in ("filtered", "own"):
        return True
    if access.scope == "instance":
        return False
    assert access.role is not None
    return role is not None and RANK[role] >= RANK[access.role]


def test_every_public_method_declares_its_access_and_has_a_call_here() -> None:
    public = {
        name
        for name, _ in inspect.getmembers(SeparatedDatabaseManager, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(ACCESS) == set(CALLS)


def test_the_readme_table_matches_the_declarations() -> None:
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|$", README.read_text(), re.M))
    documented = {name: rule for name, rule in rows.items() if name in ACCESS}
    assert documented == {name: access.describe() for name, access in ACCESS.items()}


@pytest.mark.parametrize("persona", sorted(PERSONAS))
@pytest.mark.parametrize("method", sorted(CALLS))
def test_each_method_is_refused_or_allowed_as_declared(
    template: Path, tmp_path: Path, method: str, persona: str
) -> None:
    home = tmp_path / "home"
    shutil.copytree(template, home)
    manager = SeparatedDatabaseManager(home, user=persona)
    try:
        if _allowed(ACCESS[method], persona):
            CALLS[method](manager, home)
        else:
            with pytest.raises(PermissionDeniedError, match=repr(persona)):
                CALLS[method](manager, home)
    finally:
        manager.close()
    if not _allowed(ACCESS[method], persona):
        with SeparatedDatabaseManager(home, user="local-admin") as admin:
            (denied, *_) = admin.audit_log(actor=persona)
            assert denied.action == "denied"
            assert denied.details["action"] == ACCESS[method].action
