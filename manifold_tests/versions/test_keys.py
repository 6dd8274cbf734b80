"""A key says which records are the same record. JSON has one number type, so 1 and 1.0 name
one record, within a version and across versions; "1" and true name other things."""

from __future__ import annotations

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import DiffKeyError
from manifold_tests.conftest import make_source


def test_a_key_written_as_1_0_later_is_the_same_record(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}])
    second = [{"id": 1.0, "v": "a"}, {"id": 2.0, "v": "B"}, {"id": 3, "v": "c"}]
    result = manager.import_data(*source, second)
    assert result.diff is not None
    assert (result.diff.added, result.diff.removed, result.diff.modified) == (0, 0, 1)
    (change,) = result.diff.details.modified
    assert change.new == {"id": 2.0, "v": "B"} and list(change.changes) == ["v"]
    assert manager.get_data_diff(*source, 1, 2).to_dict() == result.diff.to_dict()
    assert manager.get_data_diff(*source, 2, 1).modified == 1
    back = manager.get_latest_data(*source).data
    assert back == second and [type(r["id"]) for r in back] == [float, float, int]
    history = manager.record_history(*source, 2.0)
    assert [(h.version, h.change) for h in history] == [(1, "added"), (2, "modified")]


def test_composite_keys_match_equal_numbers_and_keep_strings_apart(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, diffKey=["region", "id"])
    manager.import_data("demo", "api", [{"region": "eu", "id": 7, "v": 1}])
    result = manager.import_data(
        "demo", "api", [{"region": "eu", "id": 7.0, "v": 1}, {"region": "eu", "id": "7", "v": 1}]
    )
    assert result.diff is not None
    assert (result.diff.added, result.diff.removed, result.diff.modified) == (1, 0, 0)
    assert result.diff.details.added == [{"region": "eu", "id": "7", "v": 1}]


@pytest.mark.parametrize(
    "records",
    [
        [{"id": 1}, {"id": "1"}],
        [{"id": 2**53 + 1}, {"id": 2.0**53}],
        [{"id": 0.1}, {"id": 0.10000000000000002}],
    ],
)
def test_keys_that_are_different_values_stay_distinct(
    manager: SeparatedDatabaseManager, source: tuple, records: list[dict]
) -> None:
    assert manager.import_data(*source, records).record_count == 2


def test_a_boolean_is_not_the_number_1(manager: SeparatedDatabaseManager, source: tuple) -> None:
    manager.import_data(*source, [{"id": 1, "v": 1}])
    with pytest.raises(DiffKeyError, match=r"1 record has no usable 'id'.*first rows 1\)"):
        manager.import_data(*source, [{"id": 1, "v": 1}, {"id": True, "v": 2}])
    assert manager.get_latest_data(*source).data == [{"id": 1, "v": 1}]
