"""Global settings reach every project (where alerts go, which host variables scripts read),
and the audit log holds configs with their secrets: a user with no role must neither change
the one nor read the other, and a bad setting must be refused when written, not break alert
evaluation for everyone at the next sensor tick."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.alerts.center import alert_settings
from manifold_pipelines.core.global_settings import HIDDEN
from manifold_pipelines.core.permissions import PermissionDeniedError
from manifold_pipelines.errors import ConfigError, InvalidIdError
from manifold_pipelines.stats import source_stats
from manifold_tests.conftest import make_source

HOOK = "http://127.0.0.1:9/hook?token=s3cret"


@pytest.fixture
def team(manager: SeparatedDatabaseManager, home: Path) -> Path:
    make_source(manager, "shop", "orders", variables={"apiKey": "k-shop"})
    make_source(manager, "other", "x", variables={"apiKey": "k-other"})
    manager.set_setting("alerts", {"webhookUrl": HOOK})
    for user, role in (("vera", "viewer"), ("ada", "admin")):
        manager.create_user(user)
        manager.set_role(user, "shop", role)
    manager.create_user("root")
    manager.set_instance_role("root", "admin")
    return home


def _as(home: Path, user: str) -> SeparatedDatabaseManager:
    return SeparatedDatabaseManager(home, user=user)


@pytest.mark.parametrize("user", ["ghost", "vera", "ada"])
def test_only_an_instance_admin_changes_global_settings(team: Path, user: str) -> None:
    """A project admin, a viewer and a user never created are all refused."""
    with (
        _as(team, user) as someone,
        pytest.raises(PermissionDeniedError, match="needs an instance admin"),
    ):
        someone.set_setting("alerts", {"webhookUrl": "http://attacker.example/steal"})
    with _as(team, "local-admin") as admin:
        assert admin.get_settings()["alerts"]["webhookUrl"] == HOOK
        (denied,) = admin.audit_log(actor=user)
        assert (denied.action, denied.project_id) == ("denied", None)


def test_an_instance_admin_changes_settings_and_reads_secrets(team: Path) -> None:
    with _as(team, "root") as root:
        root.set_setting(
            "alerts", {"webhookUrl": "http://127.0.0.1:9/new", "consecutiveFailures": 2}
        )
        assert root.get_settings()["alerts"]["webhookUrl"] == "http://127.0.0.1:9/new"
        assert alert_settings(root).consecutive_failures == 2


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("alerts", {"webhookUrl": 5}, r"webhookUrl: Input should be a valid string"),
        ("alerts", {"webhookUrl": "file:///etc/passwd"}, r"not an http\(s\) URL"),
        ("alerts", {"webhookURL": HOOK}, r"Extra inputs are not permitted.*webhookUrl"),
        ("alerts", {"consecutiveFailures": 0}, r"consecutiveFailures: Input should be greater"),
        ("alerts", "http://x/", r"must be an object of fields, got str"),
        ("sandbox", {"allowedEnv": ["NOT A NAME"]}, r"allowedEnv\.0: String should match"),
        ("webhook", {}, r"Setting 'webhook' does not exist. Known settings: alerts, dagster"),
    ],
)
def test_a_bad_setting_is_refused_when_written_and_the_old_one_stays(
    team: Path, key: str, value: object, message: str
) -> None:
    with _as(team, "root") as root:
        with pytest.raises(ConfigError, match=message):
            root.set_setting(key, value)
        assert root.get_settings()["alerts"] == {"webhookUrl": HOOK}
        assert alert_settings(root).webhook_url == HOOK


def test_secrets_in_settings_are_hidden_from_everyone_but_instance_admins(team: Path) -> None:
    for user in ("vera", "ada", "ghost"):
        with _as(team, user) as someone:
            assert someone.get_settings()["alerts"] == {"webhookUrl": HIDDEN}


def test_the_audit_log_shows_a_project_admin_only_its_projects_entries(team: Path) -> None:
    with _as(team, "ada") as ada:
        entries = ada.audit_log()
        assert entries and {e.project_id for e in entries} == {"shop"}
        text = repr(entries)
        assert "k-shop" in text and "k-other" not in text and "s3cret" not in text
        assert ada.audit_log(object_id="other/x") == []


@pytest.mark.parametrize("user", ["vera", "ghost"])
def test_the_audit_log_shows_viewers_and_strangers_nothing(team: Path, user: str) -> None:
    with _as(team, user) as someone:
        assert someone.audit_log() == []


def test_an_instance_admin_reads_the_whole_audit_log(team: Path) -> None:
    with _as(team, "root") as root:
        projects = {e.project_id for e in root.audit_log()}
        assert {"shop", "other", None} <= projects


def test_reading_a_config_and_being_refused_are_both_audited(team: Path) -> None:
    with _as(team, "vera") as vera:
        vera.get_data_source("shop", "orders")
        with pytest.raises(PermissionDeniedError):
            vera.get_data_source("other", "x")
    with _as(team, "root") as root:
        actions = [(e.action, e.object_id) for e in root.audit_log(actor="vera")]
        assert actions == [("denied", "other"), ("read_config", "shop/orders")]


def test_a_stranger_learns_nothing_of_other_projects(team: Path) -> None:
    with _as(team, "local-admin") as admin:
        admin.import_data("shop", "orders", [{"id": 1}])
        admin.import_data("other", "x", [{"id": 1}])
    with _as(team, "vera") as vera:
        assert [p.id for p in vera.list_projects()] == ["shop"]
        assert [(e.project_id, e.source_id) for e in vera.import_history()] == [("shop", "orders")]
        with pytest.raises(PermissionDeniedError, match="has no role in project 'other'"):
            vera.get_project("other")
        with pytest.raises(PermissionDeniedError):
            vera.data_file_path("other", "x")
        with pytest.raises(PermissionDeniedError):
            vera.import_history("other")
        # A source that does not exist is refused the same way: existence is not revealed.
        with pytest.raises(PermissionDeniedError):
            vera.get_data_source("other", "missing")


@pytest.mark.parametrize("user", ["", "a b", "../x", "x\n"])
def test_an_empty_or_malformed_acting_user_is_refused_not_taken_for_local_admin(
    team: Path, user: str
) -> None:
    with pytest.raises(InvalidIdError, match="Acting user id"):
        SeparatedDatabaseManager(team, user=user)


@pytest.mark.parametrize("limit", [-1, True, 1.5, "10"])
def test_limits_on_logs_history_and_audit_must_be_counts(team: Path, limit: object) -> None:
    """SQLite reads LIMIT -1 as no limit at all: a negative limit is refused, not obeyed."""
    with _as(team, "root") as root:
        root.import_data("shop", "orders", [{"id": 1}])
        for call in (
            lambda: root.get_import_logs("shop", "orders", limit=limit),  # type: ignore[arg-type]
            lambda: root.import_history(limit=limit),  # type: ignore[arg-type]
            lambda: root.audit_log(limit=limit),  # type: ignore[arg-type]
        ):
            with pytest.raises(ConfigError, match=r"is not a number of .* to show"):
                call()
        assert len(root.import_history(limit=None)) == 1
        assert root.audit_log(limit=0) == []


def test_statistics_refusals_are_audited(team: Path) -> None:
    with _as(team, "vera") as vera, pytest.raises(PermissionDeniedError):
        source_stats(vera, "other", "x")
    with _as(team, "root") as root:
        (denied, *_) = root.audit_log(actor="vera")
        assert (denied.action, denied.object_id) == ("denied", "other")


def test_internal_settings_are_shown_to_instance_admins_only(team: Path) -> None:
    """A legacy migration's ledger names every migrated project and source."""
    with _as(team, "local-admin") as admin, admin.core.writing():
        admin.core.users.put_global_setting("legacyMigration:/old.db", {"other/x": [1]})
    with _as(team, "vera") as vera:
        assert set(vera.get_settings()) == {"alerts"}
    with _as(team, "root") as root:
        assert root.get_settings()["legacyMigration:/old.db"] == {"other/x": [1]}


def test_an_empty_manifold_user_is_refused_not_taken_for_local_admin(
    team: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_USER", "")
    with pytest.raises(InvalidIdError, match="Acting user id ''"):
        SeparatedDatabaseManager(team)
    env = {**os.environ, "MANIFOLD_USER": ""}
    done = subprocess.run(
        [sys.executable, "-m", "manifold_pipelines.cli", "--home", str(team), "project", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "Acting user id ''" in done.stderr


def test_a_reused_project_id_inherits_neither_audit_entries_nor_archives(team: Path) -> None:
    """Deleting a project and creating another under its id must not hand the new
    project's admins the old one's configs (in the audit log) or records (in archives)."""
    with _as(team, "local-admin") as admin:
        admin.import_data("other", "x", [{"id": 1, "secret": "old"}])
        admin.import_data("other", "x", [{"id": 2}])
        archive, _ = admin.archive_versions("other", "x", 2)
        admin.delete_project("other", archive=True)
    with _as(team, "ada") as ada:
        ada.create_project(name="Other again", id="other")
        assert [e.action for e in ada.audit_log(object_id="other")] == ["create"]
        assert "k-other" not in repr(ada.audit_log())
        ada.create_data_source("other", name="x", type="javascript", id="x", config={"script": "1"})
        for attempt in (
            lambda: ada.list_archived("other", "x", archive),
            lambda: ada.restore_archived("other", "x", archive, 1),
        ):
            with pytest.raises(PermissionDeniedError, match="earlier Data source 'other/x'"):
                attempt()
        assert ada.list_versions("other", "x") == []
    with _as(team, "root") as root:
        assert [v.version for v in root.list_archived("other", "x", archive)] == [1]
