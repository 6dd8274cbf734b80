"""Roles decide who may read, change and administer a project; each refusal names the role
that is needed, and nothing is changed by a refused call."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.core.permissions import PermissionDeniedError
from manifold_pipelines.errors import ConfigError
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
        assert eddie.import_data("demo", "api", [{"id": 2}]).version == 2
        eddie.create_data_source(
            "demo", name="b", type="javascript", id="b", config={"script": "return []"}
        )
        assert [s.id for s in eddie.list_data_sources("demo")] == ["api", "b"]
        with pytest.raises(PermissionDeniedError, match="needs the admin role"):
            eddie.delete_project("demo")
        with pytest.raises(PermissionDeniedError, match="admin"):
            eddie.set_role("vera", "demo", "editor")
        assert eddie.get_role("vera", "demo") == "viewer"
        assert eddie.get_latest_data("demo", "api").data == [{"id": 2}]


def test_admin_manages_the_project_and_its_users(team: Path) -> None:
    with _as(team, "ada") as ada:
        ada.set_role("vera", "demo", "editor")
        ada.update_project("demo", description="owned by ada")
        ada.create_project(name="Second", id="second")
        assert ada.get_role("ada", "second") == "admin"  # the creator administers it
    with _as(team, "vera") as vera:
        assert vera.get_role("vera", "demo") == "editor"
        assert vera.get_project("demo").description == "owned by ada"
        assert vera.import_data("demo", "api", [{"id": 5}]).version == 2


def test_a_user_without_a_role_is_refused_even_reads(team: Path) -> None:
    with _as(team, "nobody") as nobody:
        with pytest.raises(PermissionDeniedError, match="'nobody' has no role in project 'demo'"):
            nobody.get_latest_data("demo", "api")
        with pytest.raises(PermissionDeniedError, match="on at least one project"):
            nobody.create_project(name="Mine", id="mine")


def test_refusals_are_not_audited_as_changes(team: Path) -> None:
    with _as(team, "vera") as vera:
        vera.get_latest_data("demo", "api")
        with pytest.raises(PermissionDeniedError, match="needs the editor role"):
            vera.delete_data_source("demo", "api")
    with _as(team, "local-admin") as admin:  # a viewer's own audit log reads empty
        done = [(e.action, e.object_id) for e in admin.audit_log(actor="vera")]
        assert done == [("denied", "demo"), ("read", "demo/api")]
        assert admin.get_latest_data("demo", "api").data == [{"id": 1}]


def test_local_admin_and_dagster_are_always_allowed(team: Path) -> None:
    for version, user in enumerate(("local-admin", "dagster"), start=2):
        with _as(team, user) as system:
            assert system.import_data("demo", "api", [{"id": version}]).version == version
            assert system.get_latest_data("demo", "api").data == [{"id": version}]
            (entry, *_) = system.audit_log(actor=user)
            assert (entry.action, entry.object_id) == ("read", "demo/api")


def test_named_users_see_only_the_sources_they_may_read(team: Path) -> None:
    with _as(team, "nobody") as nobody:
        assert nobody.list_data_sources() == []
        with pytest.raises(PermissionDeniedError, match="cannot read source configs"):
            nobody.describe_data_source("demo", "api")
    with _as(team, "vera") as vera:
        assert [s.id for s in vera.list_data_sources()] == ["api"]
        assert vera.describe_data_source("demo", "api").config.script == "return [];"


@pytest.fixture
def two_projects(manager: SeparatedDatabaseManager, home: Path) -> Path:
    """'other/x' holds data that the editor of 'mine' may not read; a relationship made by
    the local admin feeds it into 'mine/s'."""
    make_source(manager, "other", "x")
    manager.import_data("other", "x", [{"id": 1, "secret": "other's data"}])
    make_source(manager, "mine", "s")
    manager.add_relationship("other/x", "mine/s")
    manager.create_user("eddie")
    manager.set_role("eddie", "mine", "editor")
    return home


def test_a_run_reads_upstream_inputs_only_with_the_viewer_role_on_them(two_projects: Path) -> None:
    draft = {"script": "return inputs.x"}
    with _as(two_projects, "eddie") as eddie:
        with pytest.raises(PermissionDeniedError, match="cannot read upstream 'other/x'"):
            eddie.preview_data_source("mine", "s", config=draft)
        with pytest.raises(PermissionDeniedError, match="other/x"):
            eddie.run_data_source("mine", "s")
        assert eddie.list_versions("mine", "s") == []
    with _as(two_projects, "local-admin") as admin:
        admin.set_role("eddie", "other", "viewer")
    with _as(two_projects, "eddie") as eddie:
        result = eddie.preview_data_source("mine", "s", config=draft)
        assert result.records == [{"id": 1, "secret": "other's data"}]
    with _as(two_projects, "local-admin") as admin:
        reads = [e for e in admin.audit_log(object_id="other/x", actor="eddie")]
        assert reads[0].action == "read"
        assert reads[0].details == {"input": {"of": "mine/s"}}
        assert [e.action for e in admin.audit_log(object_id="other", actor="eddie")][-2:] == [
            "denied",
            "denied",
        ]


def test_once_users_exist_env_names_only_allowed_host_variables(
    team: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTHER_PROJECT_DB_PASSWORD", "hunter2")
    monkeypatch.setenv("API_TOKEN", "t-1")
    stealing = {"script": "return [{id: 1, v: env.OTHER_PROJECT_DB_PASSWORD}]"}
    with _as(team, "eddie") as eddie:
        with pytest.raises(ConfigError, match=r"'OTHER_PROJECT_DB_PASSWORD'.*allow-list"):
            eddie.update_data_source(
                "demo", "api", config={**stealing, "env": ["OTHER_PROJECT_DB_PASSWORD"]}
            )
        with pytest.raises(ConfigError, match="allow-list"):
            eddie.preview_data_source(
                "demo",
                "api",
                config={**stealing, "env": ["OTHER_PROJECT_DB_PASSWORD"]},
            )
    with _as(team, "local-admin") as admin:
        admin.set_setting("sandbox", {"allowedEnv": ["API_TOKEN"]})
    reading = {"script": "return [{id: 1, v: env.API_TOKEN}]", "env": ["API_TOKEN"]}
    with _as(team, "eddie") as eddie:
        eddie.update_data_source("demo", "api", config=reading)
        assert eddie.run_data_source("demo", "api").version == 2
        assert eddie.get_latest_data("demo", "api").data == [{"id": 1, "v": "t-1"}]
    with _as(team, "local-admin") as admin:
        admin.set_setting("sandbox", {"allowedEnv": []})
    with _as(team, "dagster") as scheduled:
        # A saved config is checked again at run time: the allow-list may have shrunk.
        with pytest.raises(ConfigError, match=r"'API_TOKEN'.*allow-list"):
            scheduled.run_data_source("demo", "api")
        assert scheduled.get_latest_data("demo", "api").version == 2


def test_without_users_env_may_name_any_host_variable(
    manager: SeparatedDatabaseManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANY_NAME", "v")
    make_source(manager, script="return [{id: 1, v: env.ANY_NAME}]", env=["ANY_NAME"])
    assert manager.run_data_source("demo", "api").record_count == 1
    assert manager.get_latest_data("demo", "api").data == [{"id": 1, "v": "v"}]


def test_removing_a_relationship_reveals_nothing_of_a_project_without_a_role(
    two_projects: Path,
) -> None:
    """An editor of 'mine' alone gets the same refusal whether the upstream exists or not."""
    with _as(two_projects, "eddie") as eddie:
        for upstream in ("other/x", "other/nope", "ghost/x"):
            with pytest.raises(PermissionDeniedError, match="cannot read the upstream source"):
                eddie.remove_relationship(upstream, "mine/s")
    with _as(two_projects, "local-admin") as admin:
        assert len(admin.list_relationships()) == 1
        denied = [e.object_id for e in admin.audit_log(actor="eddie") if e.action == "denied"]
        assert denied == ["ghost", "other", "other"]


def test_a_cross_project_link_stops_feeding_when_its_maker_loses_access(
    two_projects: Path,
) -> None:
    """Scheduled runs act as 'dagster', who may read everything: a link must not keep
    feeding another project's data to a downstream whose maker lost the right to read it."""
    with _as(two_projects, "local-admin") as admin:
        admin.remove_relationship("other/x", "mine/s")
        admin.set_role("eddie", "other", "viewer")
        admin.update_data_source("mine", "s", config={"script": "return inputs.x"})
    with _as(two_projects, "eddie") as eddie:
        eddie.add_relationship("other/x", "mine/s")
        assert eddie.list_relationships()[0].created_by == "eddie"
    with _as(two_projects, "dagster") as scheduled:
        assert scheduled.run_data_source("mine", "s").record_count == 1
    with _as(two_projects, "local-admin") as admin:
        admin.set_role("eddie", "other", None)
        assert admin.get_role("eddie", "other") is None
    with _as(two_projects, "dagster") as scheduled:
        with pytest.raises(PermissionDeniedError, match="'eddie' has no role in project 'other'"):
            scheduled.run_data_source("mine", "s")
        assert scheduled.get_data_source("mine", "s").status == "failed"
        assert scheduled.list_versions("mine", "s")[-1].version == 1
    with _as(two_projects, "local-admin") as admin:
        admin.remove_relationship("other/x", "mine/s")
        admin.add_relationship("other/x", "mine/s")
    with _as(two_projects, "dagster") as scheduled:
        assert scheduled.run_data_source("mine", "s").version == 2
