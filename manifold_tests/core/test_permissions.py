"""Roles decide who may read, change and administer a project; each refusal names the role
that is needed, and nothing is changed by a refused call."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.core.permissions import PermissionDeniedError
from manifold_tests.conftest import make_source


@pytest.fixture
def team(manager: SeparatedDatabaseManager, home: Path) -> Path:
    make_source(manager)
    manager.import_data("demo", "api", [{"id": 1}])
    for user, role in (("vera", "viewer"), ("eddie", "editor"), ("ada", "admin")):
        manager.create_user(user)
        manager.set_role(user, "demo", role)
    manager.create_user("nobody")
    return home


def _as(home: Path, user: str) -> SeparatedDatabaseManager:
    return SeparatedDatabaseManager(home, user=user)


def test_viewer_reads_but_cannot_change(team: Path) -> None:
    with _as(team, "vera") as vera:
        assert vera.get_latest_data("demo", "api").data == [{"id": 1}]
        assert vera.list_versions("demo", "api")[0].version == 1
        with pytest.raises(
            PermissionDeniedError, match=r"'vera' is a viewer .* needs the editor role"
        ):
            vera.import_data("demo", "api", [{"id": 2}])
        with pytest.raises(PermissionDeniedError, match="editor"):
            vera.run_data_source("demo", "api")
        with pytest.raises(PermissionDeniedError, match="editor"):
            vera.update_data_source("demo", "api", enabled=False)
        assert vera.get_data_source("demo", "api").enabled
        assert len(vera.list_versions("demo", "api")) == 1


def test_editor_changes_sources_but_not_the_project(team: Path) -> None:
    with _as(team, "eddie") as eddie:
        eddie.import_data("demo", "api", [{"id": 2}])
        eddie.create_data_source(
            "demo", name="b", type="javascript", id="b", config={"script": "return []"}
        )
        with pytest.raises(PermissionDeniedError, match="needs the admin role"):
            eddie.delete_project("demo")
        with pytest.raises(PermissionDeniedError, match="admin"):
            eddie.set_role("vera", "demo", "editor")
        assert eddie.get_role("vera", "demo") == "viewer"


def test_admin_manages_the_project_and_its_users(team: Path) -> None:
    with _as(team, "ada") as ada:
        ada.set_role("vera", "demo", "editor")
        ada.update_project("demo", description="owned by ada")
        ada.create_project(name="Second", id="second")
        assert ada.get_role("ada", "second") == "admin"  # the creator administers it


def test_a_user_without_a_role_is_refused_even_reads(team: Path) -> None:
    with _as(team, "nobody") as nobody:
        with pytest.raises(PermissionDeniedError, match="'nobody' has no role in project 'demo'"):
            nobody.get_latest_data("demo", "api")
        with pytest.raises(PermissionDeniedError, match="on at least one project"):
            nobody.create_project(name="Mine", id="mine")


def test_refusals_are_not_audited_as_changes(team: Path) -> None:
    with _as(team, "vera") as vera:
        with pytest.raises(PermissionDeniedError):
            vera.delete_data_source("demo", "api")
        assert all(e.action == "read" for e in vera.audit_log(actor="vera"))


def test_local_admin_and_dagster_are_always_allowed(team: Path) -> None:
    for user in ("local-admin", "dagster"):
        with _as(team, user) as system:
            system.import_data("demo", "api", [{"id": 3}])


def test_named_users_see_only_the_sources_they_may_read(team: Path) -> None:
    with _as(team, "nobody") as nobody:
        assert nobody.list_data_sources() == []
        with pytest.raises(PermissionDeniedError, match="cannot read source configs"):
            nobody.describe_data_source("demo", "api")
    with _as(team, "vera") as vera:
        assert [s.id for s in vera.list_data_sources()] == ["api"]
        assert vera.describe_data_source("demo", "api").config.script
