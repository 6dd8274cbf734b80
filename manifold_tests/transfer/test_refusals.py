"""A transfer writes into somebody's folder or database and reads every project: it must
refuse, before it writes anything, a destination that is the data itself, that holds another
Manifold, or a copy that has been used since, and a user who is not an instance admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.core.permissions import PermissionDeniedError
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.transfer import transfer
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.conftest import make_source

SAME_PLACE = "is where this Manifold's data already is"
OTHER_MANIFOLD = "holds a different Manifold, or a copy of this one used on its own"


def test_the_home_itself_is_refused_however_it_is_named(
    original: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "home")
    for name in (str(tmp_path / "home"), "home", str(tmp_path / "link")):
        with pytest.raises(ConfigError, match=SAME_PLACE):
            transfer(original, name)


def test_the_database_itself_is_refused_under_another_host_name(
    postgres_url: str, tmp_path: Path
) -> None:
    with SeparatedDatabaseManager(tmp_path, database_url=postgres_url) as manager:
        manager.create_project(name="Demo", id="demo")
        with pytest.raises(ConfigError, match=SAME_PLACE):
            transfer(manager, postgres_url.replace("127.0.0.1", "localhost"))


def test_a_destination_holding_another_manifold_is_left_as_it_is(
    original: SeparatedDatabaseManager, postgres_url: str, tmp_path: Path
) -> None:
    with SeparatedDatabaseManager(tmp_path / "unused", database_url=postgres_url) as other:
        make_source(other, "demo", "api")
        other.import_data("demo", "api", [{"id": 1}])
        before = other.list_data_sources()
        with pytest.raises(ConfigError, match=f"{OTHER_MANIFOLD}.*audit entry 1 .*Nothing was"):
            transfer(original, postgres_url)
        assert other.list_data_sources() == before
        assert [v.version for v in other.list_versions("demo", "api")] == [1]


def test_a_copy_used_since_it_was_made_is_not_overwritten(
    original: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    transfer(original, str(tmp_path / "copy"))
    with SeparatedDatabaseManager(tmp_path / "copy") as copy:
        copy.get_latest_data("demo", "api")
    original.create_project(name="Late", id="late")
    with pytest.raises(ConfigError, match=f"{OTHER_MANIFOLD}.*read data_source 'demo/api'"):
        transfer(original, str(tmp_path / "copy"))
    with SeparatedDatabaseManager(tmp_path / "copy") as copy:
        assert "late" not in {project.id for project in copy.list_projects()}


def test_only_an_instance_admin_may_transfer(
    original: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    original.create_user("carol")
    for project in ("demo", "shop"):
        original.set_role("carol", project, "admin")
    for user in ("alice", "carol"):
        with (
            SeparatedDatabaseManager(tmp_path / "home", user=user) as manager,
            pytest.raises(
                PermissionDeniedError, match=f"User '{user}' cannot transfer.*instance admin"
            ),
        ):
            transfer(manager, str(tmp_path / "copy"))
        assert original.audit_log(limit=1)[0].action == "denied"
    assert not (tmp_path / "copy").exists()
    with SeparatedDatabaseManager(tmp_path / "home", user="bob") as instance_admin:
        assert transfer(instance_admin, str(tmp_path / "copy")).sources_with("copied")


def test_a_file_is_no_destination(original: SeparatedDatabaseManager, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="is a file"):
        transfer(original, str(tmp_path / "notes.txt"))


def test_the_command_says_why_it_refuses(
    original: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    result = run_manifold(tmp_path / "home", "transfer", str(tmp_path / "home"))
    assert result.returncode == 1
    assert result.stderr.startswith("Error: The transfer destination, SQLite files in")
    assert SAME_PLACE in result.stderr
