"""A team moves from the embedded default to PostgreSQL, and back for a local copy: every
version, diff, log, metric, publication status, relationship, user and role must read back
exactly as before, and the moved Manifold must go on from where it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.transfer import transfer
from manifold_tests.transfer.conftest import (
    assert_same_manifold,
    catalogue_of,
    records,
    sources,
    versions_of,
)


@pytest.mark.slow
def test_sqlite_to_postgresql_to_sqlite_keeps_everything(
    original: SeparatedDatabaseManager, postgres_url: str, tmp_path: Path
) -> None:
    built = versions_of(original) | catalogue_of(original)
    assert {v.status for v in built["('demo', 'orders') versions"]} == {"published", "held"}
    assert [v.version for v in built["('shop', 'items') versions"]] == [3, 4]
    assert "failed" in {log.status for log in built["('demo', 'api') logs"]}
    assert len(built["('demo', 'api') schemas"]) == 3
    assert built["alerts"] and built["relationships"] and len(built["users"]) == 2
    lines: list[str] = []
    first = transfer(original, postgres_url, progress=lines.append)
    assert first.sources_with("copied") == ["demo/api", "demo/orders", "shop/items"]
    assert first.sources_with("no data") == ["demo/never"]
    assert lines[0].startswith("Catalogue: ") and lines[1].startswith("demo/api: copied 5 ")
    with SeparatedDatabaseManager(tmp_path / "unused", database_url=postgres_url) as moved:
        assert [p.data_path for p in moved.list_projects()] == [None, None]
        assert_same_manifold(original, moved)
        back = transfer(moved, str(tmp_path / "copy"))
        assert back.sources_with("copied") == first.sources_with("copied")
        with SeparatedDatabaseManager(tmp_path / "copy") as copy:
            assert_same_manifold(moved, copy)
            assert (tmp_path / "copy" / "data-sources" / "shop" / "items.db").is_file()
    with SeparatedDatabaseManager(tmp_path / "copy") as copy:
        assert_same_manifold(original, copy, audit=False)


def test_a_second_transfer_copies_nothing(
    original: SeparatedDatabaseManager, postgres_url: str
) -> None:
    transfer(original, postgres_url)
    again = transfer(original, postgres_url)
    assert again.sources_with("already there") == ["demo/api", "demo/orders", "shop/items"]
    assert again.sources_with("copied") == []
    written = {name: table.written for name, table in again.catalogue.items() if table.written}
    assert written == {"audit_log": 1}, "only the audit entry of the second transfer itself"
    (entry, *_) = original.audit_log(limit=1)
    assert (entry.action, entry.object_type) == ("transfer", "instance")
    assert entry.details == {"to": again.destination}


def test_imports_after_a_transfer_to_postgresql_continue_the_numbering(
    original: SeparatedDatabaseManager, postgres_url: str, tmp_path: Path
) -> None:
    transfer(original, postgres_url)
    with SeparatedDatabaseManager(tmp_path / "unused", database_url=postgres_url) as moved:
        for key in sources(original):
            before = moved.list_versions(*key)
            result = moved.import_data(*key, records(7, 9))
            assert result.version == (before[-1].version + 1 if before else 1)
            assert moved.get_import_logs(*key, limit=1)[0].version == result.version
        moved.create_project(name="After", id="after")
        assert moved.audit_log(limit=1)[0].object_id == "after"
        assert len(moved.import_history(limit=None)) == len(original.import_history(limit=None)) + 4


def test_the_committed_state_goes_with_each_source(
    original: SeparatedDatabaseManager, postgres_url: str, tmp_path: Path
) -> None:
    """An incremental source's cursor is part of its data: a transfer that lost it would make
    the next run start over, and a feed that cannot replay would lose changes."""
    original.set_source_state("demo", "api", {"cursor": "2025-12-01"})
    original.create_data_source(
        "demo", name="Fresh", type="javascript", id="fresh", config={"script": "return [];"}
    )
    original.set_source_state("demo", "fresh", {"page": 3})  # its only write
    transfer(original, postgres_url)
    with SeparatedDatabaseManager(tmp_path / "unused", database_url=postgres_url) as moved:
        assert moved.get_source_state("demo", "api") == {"cursor": "2025-12-01"}
        assert moved.get_source_state("demo", "fresh") == {"page": 3}
        moved.set_source_state("demo", "api", {"cursor": "2026-01-01"})
        back = transfer(moved, str(tmp_path / "copy"))
        assert "demo/api" in back.sources_with("copied")
    with SeparatedDatabaseManager(tmp_path / "copy") as copy:
        assert copy.get_source_state("demo", "api") == {"cursor": "2026-01-01"}
