"""Quality metrics decide whether a version is published or held back; "latest" must only
ever mean the newest published version, and publishing or rolling back is one call."""

from __future__ import annotations

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import NotFoundError, VersionStatusError
from manifold_tests.conftest import make_source

BASE = [{"id": i, "name": f"n{i}", "email": f"e{i}@x"} for i in range(10)]


def test_metrics_are_stored_with_thresholds_and_statuses(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, BASE)
    second = [dict(r) for r in BASE[:8]]
    for record in second[:4]:
        record["email"] = None
    result = manager.import_data(*source, second)
    by_name = {(m.metric, m.field): m for m in result.quality}
    assert by_name[("record_count", None)].value == 8
    removed = by_name[("removed_rate", None)]
    assert (removed.value, removed.warn_threshold, removed.fail_threshold) == (0.2, 0.1, 0.5)
    assert removed.status == "warning" and removed.direction == "max"
    change = by_name[("change_rate", None)]
    assert change.value == pytest.approx(6 / 10) and change.status == "warning"
    completeness = by_name[("completeness", "email")]
    assert completeness.value == 0.5 and completeness.status == "pass"
    assert by_name[("key_uniqueness", None)].value == 1.0
    assert by_name[("schema_changes", None)].value == 0
    assert manager.get_quality_metrics(*source) == result.quality
    assert manager.get_quality_metrics(*source, 1)[0].metric == "record_count"


def test_first_version_has_no_rates_and_no_schema_change(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    metrics = {m.metric: m for m in manager.import_data(*source, BASE).quality}
    assert metrics["change_rate"].value is None and metrics["change_rate"].status == "pass"
    assert metrics["schema_changes"].value == 0


def test_empty_import_warns_by_default(manager: SeparatedDatabaseManager, source: tuple) -> None:
    metrics = {m.metric: m for m in manager.import_data(*source, []).quality}
    assert metrics["record_count"].status == "warning"


def test_a_blocking_failure_holds_the_version_back_until_published(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, quality={"removedRate": {"fail": 0.3}, "blocking": ["removed_rate"]})
    manager.import_data("demo", "api", BASE)
    held = manager.import_data("demo", "api", BASE[:5])
    assert held.status == "held" and held.version == 2
    assert next(m for m in held.quality if m.metric == "removed_rate").blocking
    latest = manager.get_latest_data("demo", "api")
    assert (latest.version, latest.data) == (1, BASE)
    assert manager.get_data_version("demo", "api", 2).data == BASE[:5]
    assert [v.status for v in manager.list_versions("demo", "api")] == ["published", "held"]
    third = manager.import_data("demo", "api", [*BASE, {"id": 99}])
    assert third.status == "published" and third.diff is not None
    assert third.diff.from_version == 2 and third.diff.added == 6
    assert manager.get_latest_data("demo", "api").version == 3
    info = manager.publish_version("demo", "api", 2)
    assert info.status == "published" and info.published_at is not None
    with pytest.raises(VersionStatusError, match="already published"):
        manager.publish_version("demo", "api", 2)


def test_importing_a_held_version_again_stays_held(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, quality={"removedRate": {"fail": 0.3}, "blocking": ["removed_rate"]})
    manager.import_data("demo", "api", BASE)
    assert manager.import_data("demo", "api", BASE[:5]).status == "held"
    again = manager.import_data("demo", "api", BASE[:5])
    assert (again.version, again.status) == (3, "held")
    assert again.diff is not None and again.diff.from_version == 2  # the diff reported: v2 -> v3
    assert again.diff.total_changes == 0
    removed = next(m for m in again.quality if m.metric == "removed_rate")
    assert (removed.value, removed.status) == (0.5, "fail")
    assert removed.description == "5 removed of the 10 records of published version 1"
    assert manager.get_quality_metrics("demo", "api", 3) == again.quality
    preview = manager.preview_data_source("demo", "api")
    assert preview.preview.status == "held"  # the script returns []: everything removed
    latest = manager.get_latest_data("demo", "api")
    assert (latest.version, latest.data) == (1, BASE)
    assert [v.status for v in manager.list_versions("demo", "api")] == ["published", "held", "held"]
    manager.publish_version("demo", "api", 3)
    after = manager.import_data("demo", "api", BASE[:5])
    assert after.status == "published"  # now compared with published version 3
    assert next(m for m in after.quality if m.metric == "removed_rate").value == 0


def test_completeness_threshold_per_field(manager: SeparatedDatabaseManager) -> None:
    make_source(
        manager,
        quality={"completenessFields": {"email": {"fail": 0.9}}, "blocking": ["completeness"]},
    )
    records = [{"id": 1, "email": None, "note": None}, {"id": 2, "email": "a", "note": None}]
    result = manager.import_data("demo", "api", records)
    by_field = {m.field: m for m in result.quality if m.metric == "completeness"}
    assert by_field["email"].status == "fail" and by_field["email"].fail_threshold == 0.9
    assert by_field["note"].status == "warning"
    assert result.status == "held"
    with pytest.raises(NotFoundError, match="no published version yet"):
        manager.get_latest_data("demo", "api")


def test_rollback_makes_an_old_version_current_as_a_new_version(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, BASE)
    manager.import_data(*source, BASE[:3], metadata={"run": "bad"})
    result = manager.rollback(*source, 1)
    assert result.version == 3
    assert result.diff is not None and result.diff.added == 7
    latest = manager.get_latest_data(*source)
    assert latest.data == BASE and latest.metadata["rollbackOf"] == 1
    assert latest.schema == manager.get_data_version(*source, 1).schema
    assert manager.get_data_version(*source, 2).metadata == {"run": "bad"}


def test_missing_version_says_which_exist(manager: SeparatedDatabaseManager, source: tuple) -> None:
    with pytest.raises(NotFoundError, match="has no versions yet"):
        manager.get_data_version(*source, 1)
    manager.import_data(*source, BASE)
    with pytest.raises(NotFoundError, match=r"no version 7 \(it has 1-1"):
        manager.get_data_diff(*source, 1, 7)
