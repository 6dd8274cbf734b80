"""Schema evolution is recorded only when the shape of the data changes, and retention frees
space without breaking the versions it keeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.timestamps import to_text, utc_now
from manifold_tests.conftest import make_source


def _age(manager: SeparatedDatabaseManager, source: tuple, days_ago: dict[int, int]) -> None:
    """Backdate versions by whole days, as if they had been imported then: the time is
    computed here and written as Manifold writes it, so the same UPDATE runs on both engines."""
    with manager._open(manager.get_data_source(*source)) as store:
        for version, days in days_ago.items():
            store.db.execute(
                "UPDATE data_versions SET created_at = ? WHERE version = ?",
                (to_text(utc_now() - timedelta(days=days)), version),
            )


def test_schema_versions_are_written_only_when_the_schema_changes(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    first = manager.import_data(*source, [{"id": 1, "price": 1, "tag": "a"}])
    assert first.schema_changes == {"added": ["id", "price", "tag"], "removed": [], "retyped": {}}
    same = manager.import_data(*source, [{"id": 1, "price": 2, "tag": "b"}, {"id": 2, "price": 3}])
    assert same.schema_changes is None
    changed = manager.import_data(*source, [{"id": 1, "price": 2.5, "qty": 3}])
    assert changed.schema_changes == {
        "added": ["qty"],
        "removed": ["tag"],
        "retyped": {"price": {"from": ["integer"], "to": ["number"]}},
    }
    assert next(m for m in changed.quality if m.metric == "schema_changes").value == 3
    history = manager.get_schema_history(*source)
    assert [(s.schema_version, s.data_version) for s in history] == [(1, 1), (2, 3)]
    assert history[1].schema["fields"]["price"] == {"types": ["number"], "nullable": False}
    versions = manager.list_versions(*source)
    assert [v.schema_version for v in versions] == [1, 1, 2]
    assert manager.get_data_version(*source, 2).schema["fields"]["tag"]["nullable"] is True


def test_incremental_field_counts_match_a_recount(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": i, "v": i % 3 or None, "w": "x"} for i in range(30)])
    manager.import_data(*source, [{"id": i, "v": "s" if i % 5 else 1.5} for i in range(10, 40)])
    schema = manager.get_latest_data(*source).schema["fields"]
    assert schema["v"] == {"types": ["number", "string"], "nullable": False}
    assert "w" not in schema
    completeness = {
        m.field: m.value for m in manager.get_quality_metrics(*source) if m.metric == "completeness"
    }
    assert completeness == {"id": 1.0, "v": 1.0}


def test_declared_schema_and_metadata_are_kept(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    declared = {"fields": {"id": {"types": ["integer"]}}}
    manager.import_data(*source, [{"id": 1}], schema=declared, metadata={"source": "upload"})
    version = manager.get_latest_data(*source)
    assert version.schema == declared and version.metadata == {"source": "upload"}


def test_cleanup_keeps_the_last_versions_readable_and_diffable(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    snapshots = []
    for round_ in range(8):
        records = [
            {"id": i, "round": round_ if i < 50 else 0, "pad": "p" * 400} for i in range(400)
        ]
        snapshots.append(records)
        manager.import_data(*source, records)
    before_diff = manager.get_data_diff(*source, 6, 8).to_dict()
    result = manager.cleanup(*source, keep_versions=3)
    assert result.pruned_versions == [1, 2, 3, 4, 5]
    assert result.kept_versions == [6, 7, 8]
    assert result.rows_deleted == 5 * 50
    assert result.bytes_after < result.bytes_before
    assert [v.version for v in manager.list_versions(*source)] == [6, 7, 8]
    for number in (6, 7, 8):
        assert manager.get_data_version(*source, number).data == snapshots[number - 1]
    assert manager.get_data_diff(*source, 6, 8).to_dict() == before_diff
    assert manager.import_data(*source, snapshots[0]).version == 9
    assert manager.get_schema_history(*source)[0].data_version == 1  # still in force


def test_cleanup_never_prunes_the_latest_published_version(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, quality={"recordCount": {"fail": 1}, "blocking": ["record_count"]})
    manager.import_data("demo", "api", [{"id": 1}])
    for _ in range(3):
        assert manager.import_data("demo", "api", []).status == "held"
    result = manager.cleanup("demo", "api", keep_versions=1)
    assert result.kept_versions == [1, 2, 3, 4]
    assert manager.get_latest_data("demo", "api").data == [{"id": 1}]


def test_cleanup_uses_the_source_retention_config(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, retention={"keepVersions": 2, "keepDays": 30})
    for round_ in range(5):
        manager.import_data("demo", "api", [{"id": 1, "r": round_}])
    _age(manager, ("demo", "api"), {1: 40, 2: 40})
    result = manager.cleanup("demo", "api")
    assert result.pruned_versions == [1, 2]  # v3 is younger than 30 days: keep rules are a union
    assert manager.audit_log(object_id="demo/api")[0].details == {"pruned": [1, 2]}
    only_count = manager.cleanup("demo", "api", keep_versions=2)  # given limits replace it
    assert only_count.pruned_versions == [3]


@pytest.mark.parametrize(("keep_days", "kept"), [(1, [3]), (5, [2, 3]), (20, [1, 2, 3])])
def test_cleanup_by_age(
    manager: SeparatedDatabaseManager, source: tuple, keep_days: float, kept: list[int]
) -> None:
    for round_ in range(3):
        manager.import_data(*source, [{"id": 1, "r": round_}])
    _age(manager, source, {1: 10, 2: 3})
    result = manager.cleanup(*source, keep_days=keep_days)
    assert result.kept_versions == kept
    assert manager.get_latest_data(*source).data == [{"id": 1, "r": 2}]


@pytest.mark.parametrize(
    ("limits", "words"),
    [
        ({"keep_versions": -1}, "keep_versions=-1: keep at least 1 version"),
        ({"keep_versions": 0}, "keep_versions=0: keep at least 1 version"),
        ({"keep_versions": True}, "keep_versions=True: keep at least 1 version"),
        ({"keep_days": 0}, "keep_days=0: keep a number of days above 0"),
        ({"keep_days": -2.5}, "keep_days=-2.5: keep a number of days above 0"),
        ({"keep_days": float("inf")}, "keep_days=inf: keep a number of days above 0"),
        ({"keep_versions": 2, "keep_days": 1e9}, "keep_days=1000000000.0: keep a number"),
    ],
)
def test_cleanup_refuses_limits_that_mean_nothing_and_prunes_nothing(
    manager: SeparatedDatabaseManager, source: tuple, limits: dict, words: str
) -> None:
    for round_ in range(3):
        manager.import_data(*source, [{"id": 1, "r": round_}])
    with pytest.raises(ConfigError, match=rf"Data source 'demo/api': cannot clean up with {words}"):
        manager.cleanup(*source, **limits)
    assert [v.version for v in manager.list_versions(*source)] == [1, 2, 3]
    assert manager.get_data_version(*source, 1).data == [{"id": 1, "r": 0}]


@pytest.mark.parametrize(
    "retention", [{"keepVersions": 0}, {"keepVersions": True}, {"keepDays": -1}, {"keepDays": 1e6}]
)
def test_a_retention_config_that_means_nothing_is_refused(
    manager: SeparatedDatabaseManager, retention: dict
) -> None:
    with pytest.raises(ConfigError, match=r"invalid javascript config: 'retention\.keep"):
        make_source(manager, retention=retention)
