"""The catalogue is what everything else trusts: configs must validate on the way in,
deletes must cascade to each source's stored data, and every change must be in the audit
log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import ManifoldError, SeparatedDatabaseManager
from manifold_pipelines.errors import (
    AlreadyExistsError,
    ConfigError,
    InvalidIdError,
    NotFoundError,
)
from manifold_tests.conftest import make_source
from manifold_tests.raw_storage import archived_records, source_data_exists


def test_project_and_source_round_trip(manager: SeparatedDatabaseManager) -> None:
    project = manager.create_project(name="Sales Team", description="numbers")
    assert project.id == "sales-team"
    source = manager.create_data_source(
        "sales-team",
        name="Orders API",
        type="javascript",
        config={"script": "return []", "diffKey": ["region", "id"], "owners": ["a@x.io"]},
        sync_interval=90,
    )
    assert source.id == "orders-api"
    assert source.config.diff_key_fields == ("region", "id")
    assert source.sync_interval == 90 and source.enabled
    assert [s.qualified_id for s in manager.list_data_sources()] == ["sales-team/orders-api"]


def test_duplicate_ids_are_refused(manager: SeparatedDatabaseManager, source: tuple) -> None:
    with pytest.raises(AlreadyExistsError, match="Project 'demo' already exists"):
        manager.create_project(name="Demo", id="demo")
    with pytest.raises(AlreadyExistsError, match="'demo/api' already exists"):
        make_source(manager)


def test_unknown_config_key_is_refused_with_the_known_keys(
    manager: SeparatedDatabaseManager,
) -> None:
    manager.create_project(name="Demo", id="demo")
    with pytest.raises(ConfigError) as caught:
        manager.create_data_source(
            "demo",
            name="x",
            type="javascript",
            id="x",
            config={"script": "return []", "difKey": "id"},
        )
    message = str(caught.value)
    assert "unknown key 'difKey'" in message
    assert "diffKey" in message and "mockResponses" in message
    assert manager.list_data_sources() == []


@pytest.mark.parametrize(
    ("source_type", "config", "expected"),
    [
        ("javascript", {}, "'script': Field required"),
        ("javascript", {"script": "x", "timeoutSeconds": -1}, "'timeoutSeconds'"),
        (
            "javascript",
            {"script": "x", "quality": {"changeRate": {"warn": "high"}}},
            "'quality.changeRate.warn'",
        ),
        ("javascript", {"script": "x", "quality": {"blocking": ["nonsense"]}}, "blocking"),
        (
            "javascript",
            {"script": "x", "variables": {"__manifold": 1, "fetch": 2, "ok": 3}},
            "'__manifold', 'fetch' would hide the script context's own name",
        ),
        ("csv", {"delimiter": ";;", "path": "a.csv"}, "'delimiter'"),
        ("csv", {}, "exactly one of 'path' or 'url'"),
        ("json", {"path": "a", "format": "xml"}, "'format'"),
        ("excel", {}, "unknown source type 'excel'"),
    ],
)
def test_bad_config_gets_a_clear_error(
    manager: SeparatedDatabaseManager, source_type: str, config: dict, expected: str
) -> None:
    manager.create_project(name="Demo", id="demo")
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        manager.create_data_source("demo", name="x", type=source_type, id="x", config=config)


def test_bad_sync_interval_is_refused(manager: SeparatedDatabaseManager, source: tuple) -> None:
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ConfigError, match="whole number of minutes"):
            manager.update_data_source(*source, sync_interval=bad)
    assert manager.get_data_source(*source).sync_interval is None


def test_update_validates_and_audits_before_and_after(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    with pytest.raises(ConfigError, match="unknown key 'bogus'"):
        manager.update_data_source(*source, config={"script": "x", "bogus": 1})
    updated = manager.update_data_source(
        *source,
        config={"script": "return [1]", "diffKey": "code"},
        enabled=False,
        sync_interval=30,
    )
    assert updated.config.diff_key == "code" and not updated.enabled
    entry = manager.audit_log(object_id="demo/api")[0]
    assert entry.action == "update" and entry.actor == "local-admin"
    assert entry.before["config"] == {"script": "return [];"}
    assert entry.after["config"]["diffKey"] == "code"


def test_missing_objects_say_what_to_do(manager: SeparatedDatabaseManager) -> None:
    with pytest.raises(NotFoundError, match="Project 'nope' does not exist"):
        manager.get_data_source("nope", "api")
    manager.create_project(name="Demo", id="demo")
    with pytest.raises(NotFoundError, match="Data source 'demo/api' does not exist"):
        manager.import_data("demo", "api", [])


def test_deleting_a_source_removes_its_data_and_relationships(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    make_source(manager, source_id="downstream")
    manager.add_relationship("demo/api", "demo/downstream")
    manager.import_data(*source, [{"id": 1}])
    assert source_data_exists(home, *source)
    assert manager.delete_data_source(*source) is None
    assert not source_data_exists(home, *source)
    assert manager.list_relationships() == []
    assert [s.id for s in manager.list_data_sources()] == ["downstream"]


def test_deleting_with_archive_keeps_a_readable_copy(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": 1, "v": "kept"}])
    archived = manager.delete_data_source(*source, archive=True)
    assert archived is not None and archived.parent.name == "demo"
    assert archived_records(archived) == [{"id": 1, "v": "kept"}]


def test_deleting_a_project_cascades_to_sources_and_their_data(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    make_source(manager, source_id="other")
    manager.import_data(*source, [{"id": 1}])
    manager.import_data("demo", "other", [{"id": 1}])
    archived = manager.delete_project("demo", archive=True)
    assert len(archived) == 2
    assert not any(source_data_exists(home, "demo", s) for s in ("api", "other"))
    assert manager.list_data_sources() == []
    with pytest.raises(NotFoundError):
        manager.get_project("demo")


def test_leftover_data_is_not_silently_adopted(
    manager: SeparatedDatabaseManager, source: tuple, home: Path
) -> None:
    manager.import_data(*source, [{"id": 1}])
    manager.core.conn.execute("DELETE FROM data_sources")  # as if the catalogue lost the row
    with pytest.raises(AlreadyExistsError, match="data already exists at"):
        make_source(manager)
    assert source_data_exists(home, *source)


def test_relationships_refuse_loops_to_self_and_duplicates(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    make_source(manager, source_id="joined")
    manager.add_relationship("demo/api", "demo/joined")
    with pytest.raises(AlreadyExistsError):
        manager.add_relationship("demo/api", "demo/joined")
    with pytest.raises(ConfigError, match="'demo/api' cannot feed itself"):
        manager.add_relationship("demo/api", "demo/api")
    make_source(manager, source_id="report")
    manager.add_relationship("demo/joined", "demo/report")
    with pytest.raises(ConfigError, match="'demo/api' already feeds 'demo/report'"):
        manager.add_relationship("demo/report", "demo/api")
    with pytest.raises(NotFoundError):
        manager.add_relationship("demo/api", "demo/missing")
    assert [r.upstream for r in manager.core.relationships.list(("demo", "joined"))] == [
        ("demo", "api")
    ]
    manager.remove_relationship("demo/api", "demo/joined")
    assert [r.upstream for r in manager.list_relationships()] == [("demo", "joined")]
    with pytest.raises(NotFoundError, match="does not feed"):
        manager.remove_relationship("demo/api", "demo/joined")


def test_users_roles_and_settings(manager: SeparatedDatabaseManager, source: tuple) -> None:
    manager.create_user("ana", name="Ana", email="ana@example.com")
    manager.set_role("ana", "demo", "editor")
    assert manager.get_role("ana", "demo") == "editor"
    manager.set_role("ana", "demo", "admin")
    assert manager.get_role("ana", "demo") == "admin"
    with pytest.raises(ConfigError, match="not one of viewer, editor, admin"):
        manager.set_role("ana", "demo", "owner")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="User 'bob'"):
        manager.set_role("bob", "demo", "viewer")
    manager.set_user_setting("theme", {"dark": True})
    assert manager.get_user_setting("theme") == {"dark": True}
    assert manager.get_user_setting("missing", 3) == 3


def test_actor_comes_from_the_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANIFOLD_USER", "ci-bot")
    with SeparatedDatabaseManager(home) as manager:
        manager.create_project(name="Demo", id="demo")
        assert manager.audit_log(actor="ci-bot")[0].action == "create"


def test_a_source_status_follows_its_runs_and_its_enabled_flag(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    """`data_sources.status` says what the source is doing: idle, running, failed, disabled."""
    assert manager.get_data_source(*source).status == "idle"
    seen = []

    def records() -> Iterator[dict[str, int]]:
        seen.append(manager.core.get_source(*source).status)
        yield {"id": 1}

    manager.import_data(*source, records())
    assert seen == ["running"]
    assert manager.get_data_source(*source).status == "idle"
    with pytest.raises(ManifoldError):
        manager.import_data(*source, [{"no_id": 1}])
    assert manager.get_data_source(*source).status == "failed"
    manager.update_data_source(*source, enabled=False)
    assert manager.get_data_source(*source).status == "disabled"
    manager.import_data(*source, [{"id": 2}])
    assert manager.get_data_source(*source).status == "disabled"
    manager.update_data_source(*source, enabled=True)
    assert manager.get_data_source(*source).status == "idle"


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda m: m.create_project(name="a\x00b", id="p2"), "Project name"),
        (lambda m: m.update_project("demo", description="\x00"), "Project description"),
        (lambda m: m.update_data_source("demo", "api", name="api\x00"), "Data source name"),
        (lambda m: m.create_user("u", email="u\x00@example.com"), "User email"),
    ],
)
def test_a_nul_character_in_a_name_is_refused_alike_on_both_engines(
    manager: SeparatedDatabaseManager, source: tuple, make: Any, what: str
) -> None:
    """PostgreSQL's text cannot hold NUL; SQLite's can. Both refuse it up front, the same
    way, instead of one storing it and the other failing inside the database."""
    before = (manager.list_projects(), manager.list_data_sources(), manager.list_users())
    with pytest.raises(InvalidIdError, match=f"{what} .* without NUL characters"):
        make(manager)
    assert (manager.list_projects(), manager.list_data_sources(), manager.list_users()) == before
