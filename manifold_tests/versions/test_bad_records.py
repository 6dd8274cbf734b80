"""Bad input must be refused with an error that names the problem and the fix, write no
version, leave the latest good version untouched, and still be logged as a failed import."""

from __future__ import annotations

import enum
import re
from typing import Any

import pytest

from manifold_pipelines import ManifoldError, SeparatedDatabaseManager
from manifold_pipelines.errors import DiffKeyError, NotFoundError, RecordsError

GOOD = [{"id": 1, "name": "kept"}, {"id": 2, "name": "also kept"}]


def deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"id": 1}
    for _ in range(levels):
        value = {"id": 1, "child": value}
    return value


class Color(enum.Enum):
    RED = 1


class Mode(str, enum.Enum):  # noqa: UP042 - the str mixin is what is under test
    A = "a"


BAD_INPUTS: list[tuple[str, Any, type[ManifoldError], str]] = [
    ("none", None, RecordsError, "must be a list"),
    ("a dict", {"id": 1}, RecordsError, r"Wrap a single record in a list"),
    ("a string", '[{"id": 1}]', RecordsError, "got str"),
    ("not objects", [{"id": 1}, [1, 2]], RecordsError, "row 1 is list, not an object"),
    (
        "missing key",
        [{"id": 1}, {"name": "x"}, {"id": None}],
        DiffKeyError,
        r"2 records have no usable 'id' .*first rows 1, 2.*keylessDiff",
    ),
    (
        "duplicate key",
        [{"id": 1}, {"id": 2}, {"id": 1, "x": 1}],
        DiffKeyError,
        r"1 record has a 'id' that another record also has .*first rows 2\)",
    ),
    (
        "numerically equal keys",
        [{"id": 1}, {"id": 1.0}],
        DiffKeyError,
        r"1 record has a 'id' that another record also has \(equal numbers such as 1 and 1\.0"
        r" are one key; first rows 1\)",
    ),
    (
        "a float equal to a large int",
        [{"r": "eu", "id": 10**18}, {"r": "eu", "id": 1e18}],
        DiffKeyError,
        "first rows 1",
    ),
    ("a boolean key", [{"id": True}], DiffKeyError, "no usable 'id'"),
    ("duplicate identical", [{"id": 5}, {"id": 5}], DiffKeyError, "first rows 1"),
    ("object key", [{"id": {"a": 1}}], DiffKeyError, "no usable 'id'"),
    (
        "NaN",
        [{"id": 1, "score": float("nan")}],
        RecordsError,
        r"row 0 field 'score' is nan.*Replace it with null",
    ),
    (
        "nested Infinity",
        [{"id": 1, "m": {"v": [1, float("inf")]}}],
        RecordsError,
        r"field 'm.v\[1\]' is inf",
    ),
    (
        "NaN inside a tuple (orjson writes a tuple as an array)",
        [{"id": 1, "m": (1, {"v": float("nan")})}],
        RecordsError,
        r"field 'm\[1\].v' is nan",
    ),
    (
        "non-string field name",
        [{"id": 1, 5: "x"}],
        RecordsError,
        r"row 0 cannot be stored as JSON \(field '\(record\)': field name 5 is not a string\)",
    ),
    (
        "lone surrogate",
        [{"id": 1, "t": "bad \ud800"}],
        RecordsError,
        "field 't': text with a lone surrogate",
    ),
    (
        "2 MB record",
        [{"id": 1, "blob": "x" * 2_000_000}],
        RecordsError,
        r"row 0 is 2,000,\d+ bytes as JSON, over the 1,048,576-byte limit",
    ),
    ("deep nesting", [deep(300)], RecordsError, "nested more than 200 levels deep"),
    ("huge int", [{"id": 1, "n": 2**70}], RecordsError, "field 'n': integer outside the 64-bit"),
    (
        "a date",
        [{"id": 1, "d": __import__("datetime").date(2026, 1, 1)}],
        RecordsError,
        "field 'd': date is not a JSON value",
    ),
    (
        "a set",
        [{"id": 1, "s": [{"t": {1, 2}}]}],
        RecordsError,
        r"field 's\[0\].t': set is not a JSON value",
    ),
    ("an enum", [{"id": 1, "e": Color.RED}], RecordsError, "field 'e' holds a Color"),
    ("a str enum as key", [{"id": Mode.A}], DiffKeyError, "no usable 'id'"),
]


@pytest.mark.parametrize(
    ("records", "error", "message"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_records_are_refused_and_nothing_is_written(
    manager: SeparatedDatabaseManager,
    source: tuple,
    records: Any,
    error: type[ManifoldError],
    message: str,
) -> None:
    manager.import_data(*source, GOOD)
    size_before = manager.list_versions(*source)
    with pytest.raises(error, match=message) as caught:
        manager.import_data(*source, records)
    assert "Data source 'demo/api'" in str(caught.value)
    assert manager.list_versions(*source) == size_before
    assert manager.get_latest_data(*source).data == GOOD
    failed = manager.get_import_logs(*source)[0]
    assert failed.status == "failed" and failed.version is None
    assert failed.error == str(caught.value)
    assert manager.import_history("demo", "api")[0].status == "failed"
    with manager._open(manager.get_data_source(*source)) as store:
        assert store.db.execute("SELECT count(*) FROM record_history").fetchone() == (2,)
        assert store.integrity_check() == "ok"


def test_a_failed_import_is_followed_by_a_good_one(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, GOOD)
    with pytest.raises(DiffKeyError):
        manager.import_data(*source, [{"id": 1}, {"id": 1}])
    result = manager.import_data(*source, [{"id": 1, "name": "changed"}])
    assert result.version == 2
    assert result.diff is not None and (result.diff.modified, result.diff.removed) == (1, 1)
    statuses = [log.status for log in manager.get_import_logs(*source)]
    assert statuses == ["completed", "failed", "completed"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadata": {"s": {1, 2}}}, "metadata is not plain JSON"),
        ({"metadata": {"x": float("nan")}}, "metadata is not plain JSON"),
        ({"schema": {"fields": {1: "x"}}}, "the declared schema is not plain JSON"),
    ],
)
def test_bad_metadata_or_schema_is_refused(
    manager: SeparatedDatabaseManager, source: tuple, kwargs: dict, message: str
) -> None:
    with pytest.raises(RecordsError, match=message):
        manager.import_data(*source, GOOD, **kwargs)
    assert manager.list_versions(*source) == []
    assert manager.get_import_logs(*source)[0].status == "failed"


def test_an_exception_from_the_records_iterable_is_logged_as_a_failed_import(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    def records() -> Any:
        yield {"id": 1}
        raise ValueError("upstream went away")

    with pytest.raises(ValueError, match="upstream went away"):
        manager.import_data(*source, records())
    log = manager.get_import_logs(*source)[0]
    assert (log.status, log.error) == ("failed", "upstream went away")
    assert manager.import_history("demo", "api")[0].error == "upstream went away"


def test_duplicate_rows_are_named_in_order(
    manager: SeparatedDatabaseManager, source: tuple
) -> None:
    manager.import_data(*source, [{"id": i} for i in range(10)])
    records = [{"id": 0, "x": 1}, {"id": 0, "x": 2}] + [
        {"id": i} for i in range(1, 6) for _ in "ab"
    ]
    with pytest.raises(DiffKeyError, match=r"6 records .*first rows 1, 3, 5, 7, 9\)"):
        manager.import_data(*source, records)


@pytest.mark.parametrize("version", ["1", 0, -1, True, 1.0, None])
def test_a_version_must_be_a_whole_number(
    manager: SeparatedDatabaseManager, source: tuple, version: Any
) -> None:
    manager.import_data(*source, GOOD)
    words = rf"'demo/api': {re.escape(repr(version))} is not a version number"
    with pytest.raises(NotFoundError, match=words):
        manager.get_data_version(*source, version)
    with pytest.raises(NotFoundError, match=words):
        manager.get_data_diff(*source, 1, version)
