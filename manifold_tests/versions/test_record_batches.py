"""Records are read a batch at a time (versions/record_batches.py): a list by C-level calls over
a slice, a stream record by record. Both must take the same from every record, refuse the same
first bad row with the same error, and store the same version."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import RecordsError
from manifold_pipelines.sources.base import RecordChunks, SourceRunError
from manifold_pipelines.versions import record_batches
from manifold_pipelines.versions.columns import Columns
from manifold_pipelines.versions.record_batches import read_batches
from manifold_pipelines.versions.records import KeySpec, key_function
from manifold_pipelines.versions.schema import (
    FieldStats,
    Shapes,
    apply_counts,
    count_shapes,
    shape_counts,
)
from manifold_tests.conftest import batches_of, make_source
from manifold_tests.raw_storage import source_sql

Feed = Callable[[list[Any]], Iterable[Any]]


def _generator(records: list[Any]) -> Iterator[Any]:
    yield from records


def _chunks(records: list[Any]) -> RecordChunks:
    """In lists of uneven sizes, one empty, as a source run hands them over."""
    cuts = [0, 1, 1, 5, 7, 20, 21, len(records)]
    return RecordChunks(iter([records[a:b] for a, b in itertools.pairwise(cuts)]))


def _parsed(records: list[Any]) -> RecordChunks:
    """As a source run hands over what orjson parsed: its NaN check is skipped."""
    parsed = orjson.loads(orjson.dumps(records))
    cuts = [0, 3, len(parsed)]
    return RecordChunks(iter([parsed[a:b] for a, b in itertools.pairwise(cuts)]), parsed=True)


FEEDS: dict[str, Feed] = {
    "list": list,
    "tuple": tuple,
    "generator": _generator,
    "chunks": _chunks,
}
GOOD_FEEDS: dict[str, Feed] = {**FEEDS, "parsed": _parsed}
"""For records JSON can hold: `parsed` promises that orjson parsed them."""


def _records() -> list[dict[str, Any]]:
    """Shapes that differ in names, order and types, nulls, nesting and text that is not
    ASCII (its JSON is longer in bytes than in characters), growing to 40 KB a record."""
    records: list[dict[str, Any]] = []
    for i in range(60):
        record: dict[str, Any] = {"id": i, "name": f"nom {i} é ✓", "pad": "x" * (i * i * 10)}
        if i % 3 == 0:
            record["note"] = None
        if i % 4 == 0:
            record = {"tags": [i, {"deep": None}], **record, "id": i}
        if i % 5 == 0:
            record["name"] = i * 1.5
        records.append(record)
    return records


@pytest.mark.parametrize("ahead", [300, 2**23])
def test_a_list_and_a_stream_give_the_same_batches_contents(
    monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    monkeypatch.setattr(record_batches, "READ_AHEAD_BYTES", ahead)
    key_of = key_function(KeySpec(fields=("id",)))
    taken: dict[str, tuple[list[Any], ...]] = {}
    counted: dict[str, Shapes] = {}
    for name, feed in GOOD_FEEDS.items():
        shapes: Shapes = Counter()
        parts: tuple[list[Any], ...] = ([], [], [], [], [])
        for batch in read_batches(feed(_records()), "test", key_of, shapes):
            for part, values in zip(parts, batch, strict=True):
                part.extend(values)
        taken[name], counted[name] = parts, shapes
    assert taken["list"] == taken["tuple"] == taken["generator"] == taken["chunks"]
    assert taken["parsed"] == taken["list"]
    fields = {name: shape_counts(shapes) for name, shapes in counted.items()}
    assert fields["list"] == fields["tuple"] == fields["generator"] == fields["chunks"]
    assert fields["parsed"] == fields["list"]
    records, digests, texts, sizes, keys = taken["list"]
    assert records == _records()
    assert sizes == [len(text.encode()) for text in texts] != [len(text) for text in texts]
    assert len(set(digests)) == 60 and keys == [str(i) for i in range(60)]
    assert sum(counted["generator"].values()) == 60 and len(counted["generator"]) > 4
    assert fields["list"][("id", int)] == 60 and fields["list"][("note", type(None))] == 20


def test_a_list_is_read_in_slices_of_about_the_read_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first slice is FIRST_SLICE_ROWS records; each next one holds about READ_AHEAD_BYTES
    of JSON at the size of the records before it, and at most BATCH_ROWS records."""
    monkeypatch.setattr(record_batches, "READ_AHEAD_BYTES", 10_000)
    monkeypatch.setattr(record_batches, "FIRST_SLICE_ROWS", 4)
    monkeypatch.setattr(record_batches, "BATCH_ROWS", 50)
    small = [{"id": i, "pad": "s" * 80} for i in range(1000, 1400)]  # 100 bytes of JSON
    large = [{"id": i, "pad": "l" * 980} for i in range(1000, 1204)]  # 1,000 bytes
    batches = list(read_batches(small + large, "test"))
    # 4 records; 100 bytes a record is 100 records to the 10,000 bytes, capped at 50; then a
    # mixed slice of 8,600 bytes and one of large records; then 10 at a time
    assert [len(batch.records) for batch in batches] == [4] + [50] * 8 + [10] * 20
    assert {sum(batch.sizes) for batch in batches[-20:]} == {10_000}


def test_a_slice_ends_where_larger_records_reach_the_read_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Records much larger than those before them do not make a slice hold more: it ends with
    the record that brings its JSON to READ_AHEAD_BYTES, and the next goes on from there."""
    monkeypatch.setattr(record_batches, "READ_AHEAD_BYTES", 10_000)
    small = [{"id": i, "pad": "s" * 80} for i in range(16)]  # 97 or 98 bytes of JSON
    large = [{"id": i, "pad": "l" * 4981} for i in range(100, 200)]  # 5,000 bytes
    batches = list(read_batches(small + large, "test"))
    assert [len(batch.records) for batch in batches] == [16] + [2] * 50
    assert max(sum(batch.sizes) for batch in batches) == 10_000
    assert [record for batch in batches for record in batch.records] == small + large
    # a record whose JSON starts one character short of the read-ahead is taken whole
    third = [{"id": i, "pad": "t" * 3314} for i in range(100, 200)]  # 3,333 bytes
    batches = list(read_batches(small + third, "test"))
    assert [len(batch.records) for batch in batches] == [16, 4] + [3] * 32
    assert batches[1].sizes == [3333] * 4


class _ClaimsToBeADict:
    """An object that says its class is dict: refused by its type, as `encode` refuses it."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return dict


BAD_ROWS: list[tuple[str, dict[int, Any], str]] = [
    ("an object claiming dict", {6: _ClaimsToBeADict()}, "row 6 is _ClaimsToBeADict, not an"),
    (
        "NaN before a list",
        {5: {"id": 5, "x": float("nan")}, 6: [6]},
        r"row 5 field 'x' is nan",
    ),
    ("a list before NaN", {5: [5], 6: {"id": 6, "x": float("nan")}}, "row 5 is list, not an"),
    ("a dict subclass", {7: Counter(id=7)}, "row 7 is Counter, not an object"),
    (
        "a set before a large record",
        {4: {"id": 4, "s": {1}}, 5: {"id": 5, "b": "x" * 2**21}},
        r"row 4 cannot be stored as JSON \(field 's': set is not a JSON value\)",
    ),
    (
        "a large record before a set",
        {4: {"id": 4, "b": "x" * 2**21}, 5: {"id": 5, "s": {1}}},
        "row 4 is 2,097,1.. bytes as JSON, over the 1,048,576-byte limit",
    ),
    ("infinity after nulls", {8: {"id": 8, "n": None, "x": [float("-inf")]}}, r"'x\[0\]' is -inf"),
]


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("first", [True, False], ids=["first import", "against live"])
@pytest.mark.parametrize(
    ("bad", "message"), [case[1:] for case in BAD_ROWS], ids=[case[0] for case in BAD_ROWS]
)
def test_the_first_bad_row_is_named_however_records_come(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    feed: str,
    first: bool,
    bad: dict[int, Any],
    message: str,
) -> None:
    """In batches of 3, so that the bad rows fall in a later one (test_bad_records.py has the
    default batches)."""
    batches_of(monkeypatch, 3)
    good = [{"id": i, "note": None if i % 2 else "n"} for i in range(10)]
    if not first:
        manager.import_data(*source, good)
    records = [bad.get(row, record) for row, record in enumerate(good)]
    with pytest.raises(RecordsError, match=message):
        manager.import_data(*source, FEEDS[feed](records))
    assert [v.version for v in manager.list_versions(*source)] == ([] if first else [1])
    if not first:
        assert manager.get_latest_data(*source).data == good


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({7: {"id": 7, "note": float("nan")}}, "row 7 field 'note' is nan"),
        ({4: {"id": 4, "note": float("-inf")}}, "row 4 field 'note' is -inf"),
    ],
    ids=["NaN", "infinity among text and nulls"],
)
def test_a_nan_in_a_field_every_record_has_is_refused_on_a_first_import(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    bad: dict[int, Any],
    message: str,
) -> None:
    """Records that share their names are read as columns on a first import, and their JSON
    is searched for nulls only when their floats do not add up to a finite number."""
    batches_of(monkeypatch, 3)
    good = [{"id": i, "note": None if i % 2 else "n"} for i in range(10)]
    records = [bad.get(row, record) for row, record in enumerate(good)]
    with pytest.raises(RecordsError, match=message):
        manager.import_data(*source, records)
    assert manager.list_versions(*source) == []


def test_records_orjson_parsed_are_still_refused_over_the_size_limit(
    manager: SeparatedDatabaseManager, source: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the NaN check is skipped for what orjson parsed: a record over the limit, in a
    later batch, is named at its row and nothing is imported."""
    batches_of(monkeypatch, 3)
    records = [{"id": i, "note": None} for i in range(10)]
    records[7] = {"id": 7, "b": "x" * 2**21}
    with pytest.raises(RecordsError, match=r"row 7 is 2,097,1.. bytes as JSON, over the"):
        manager.import_data(*source, _parsed(records))
    assert manager.list_versions(*source) == []


@pytest.mark.parametrize("batch", [3, 10_000])
def test_a_list_and_a_stream_store_the_same_versions(
    manager: SeparatedDatabaseManager, home: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    """The same records as a list and as a generator, first import and then a changed
    snapshot: the same rows, field counts, schema and diffs."""
    batches_of(monkeypatch, batch)
    monkeypatch.setattr(record_batches, "FIRST_SLICE_ROWS", 2)
    first = _records()
    second = [*first[5:40], {**first[2], "pad": "changed"}, *first[45:], {"id": 99}]
    stored = {}
    for name, feed in GOOD_FEEDS.items():
        make_source(manager, source_id=name)
        diffs = []
        for records in (first, second):
            result = manager.import_data("demo", name, feed(records))
            assert result.diff is not None
            diffs.append(result.diff.summary())
        with source_sql(home, "demo", name) as conn:
            rows = conn.execute("SELECT key, hash, record, position FROM record_rows").fetchall()
            versions = conn.execute(
                "SELECT record_count, field_stats, schema FROM data_versions ORDER BY version"
            ).fetchall()
        stored[name] = (diffs, rows, versions)
        assert manager.get_latest_data("demo", name).data == second
        assert manager.get_data_version("demo", name, 1).data == first
    assert stored["list"] == stored["tuple"] == stored["generator"] == stored["chunks"]
    assert stored["parsed"] == stored["list"]
    assert stored["list"][0] == [
        {"added": 60, "removed": 0, "modified": 0, "totalChanges": 60},
        {"added": 1, "removed": 9, "modified": 1, "totalChanges": 11},
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(["null", "nul", "l", "n", "ull", '"x"', ","]), max_size=8),
            st.integers(min_value=0, max_value=3),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_the_records_to_check_are_found_in_the_joined_json(
    parts: list[tuple[list[str], int]],
) -> None:
    """Records whose JSON holds more nulls than their top-level None values, or is over the
    limit (12 bytes here), and no other: a null at either end of a record, two in one, none
    at all, and batches where most nulls are None values (counted over the batch at once)."""
    texts = ["{" + "".join(text) + ",null" * nones + "}" for text, nones in parts]
    chunk = [{f"k{i}": None for i in range(nones)} for _, nones in parts]
    sizes = list(map(len, texts))
    expected = [
        offset
        for offset, (text, record) in enumerate(zip(texts, chunk, strict=True))
        if text.count("null") != len(record) or len(text) > 12
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(record_batches, "MAX_RECORD_BYTES", 12)
        suspects = record_batches._null_suspects(chunk, texts, "".join(texts))
        assert record_batches._to_check(suspects, sizes) == expected


@pytest.mark.parametrize("feed", [list, iter])
def test_a_nan_among_records_that_all_hold_a_none_is_refused_at_its_row(
    feed: Callable[[list[dict[str, Any]]], Iterable[dict[str, Any]]],
) -> None:
    """Every record holds a null, so the batch's nulls are counted as a whole; nulls beyond its
    None values (nested ones, and a NaN, which orjson writes as null) send the records that
    hold them to their own check."""
    records: list[dict[str, Any]] = [
        {"id": i, "note": None, "tags": [None] if i % 10 == 3 else []} for i in range(200)
    ]
    assert sum(len(batch.records) for batch in read_batches(feed(records), "src")) == 200
    records[157]["score"] = {"nested": math.nan}
    with pytest.raises(RecordsError, match=r"row 157 field 'score.nested' is nan"):
        for _ in read_batches(feed(records), "src"):
            pass


def test_chunks_are_read_once_enough_records_are_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's lists are read as they come once CHUNKED_SLICE_ROWS records are held (so that the
    run answers its script between batches), up to a slice's worth; small lists wait for more."""
    monkeypatch.setattr(record_batches, "CHUNKED_SLICE_ROWS", 10)
    monkeypatch.setattr(record_batches, "FIRST_SLICE_ROWS", 1000)
    records = [{"id": i} for i in range(100)]
    pulled: list[int] = []

    def handed_over() -> Iterator[list[Any]]:
        for size, start in ((3, 0), (4, 3), (4, 7), (30, 11), (59, 41)):
            pulled.append(start + size)
            yield records[start : start + size]

    seen = []
    for batch in read_batches(RecordChunks(handed_over()), "test"):
        seen.append((pulled[-1], len(batch.records)))
    # 3 and 4 wait; 11 held are read; 30 are read as they come; 59 too
    assert seen == [(11, 11), (41, 30), (100, 59)]
    assert [record for batch in read_batches(records, "test") for record in batch.records] == (
        records
    )


def _failing_run(records: list[Any], error: Exception) -> Iterator[list[Any]]:
    yield records
    raise error


def test_what_a_run_handed_over_is_read_before_its_failure() -> None:
    """A run that fails after handing over records: a bad row among them is the error, as
    when records came one by one; if they are good, they are read, then the run's error."""
    failure = SourceRunError("the script threw")
    bad = RecordChunks(_failing_run([{"id": 0}, [1]], failure))
    with pytest.raises(RecordsError, match="row 1 is list, not an object"):
        list(read_batches(bad, "test"))
    good = RecordChunks(_failing_run([{"id": 0}, {"id": 1}], failure))
    read: list[Any] = []
    with pytest.raises(SourceRunError, match="the script threw"):
        for batch in read_batches(good, "test"):
            read.extend(batch.records)
    assert read == [{"id": 0}, {"id": 1}]


def test_chunks_go_on_from_the_first_record_not_yet_iterated() -> None:
    chunks = RecordChunks(iter([[{"id": 0}, {"id": 1}, {"id": 2}], [], [{"id": 3}]]))
    assert next(chunks) == {"id": 0}
    rest = [record for batch in read_batches(chunks, "test") for record in batch.records]
    assert rest == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert list(RecordChunks(iter([[], [{"id": 4}], []]))) == [{"id": 4}]


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.sampled_from("abc"), _VALUES), max_size=3),
        min_size=1,
        max_size=12,
    )
)
def test_a_batch_counted_a_field_at_a_time_gives_the_counts_of_a_shape_a_record(
    records_fields: list[list[tuple[str, Any]]],
) -> None:
    """Batches whose records share their names (counted down each field) and batches whose
    records do not (a shape a record): the same field stats, names and types listed in the
    order they first occur."""
    records = [dict(fields) for fields in records_fields]
    names = list(records[0])
    padded = ([value for _, value in fields] + [None] * 3 for fields in records_fields)
    shared = [dict(zip(names, values, strict=False)) for values in padded]  # types vary
    for batch in (records, shared):
        by_field: Shapes = Counter()
        count_shapes(by_field, batch, Columns.of(batch))
        by_record: Shapes = Counter(
            (tuple(record), tuple(map(type, record.values()))) for record in batch
        )
        assert shape_counts(by_field) == shape_counts(by_record)
        stats: list[FieldStats] = [{}, {}]
        apply_counts(stats[0], shape_counts(by_field), 1)
        apply_counts(stats[1], shape_counts(by_record), 1)
        assert orjson.dumps(stats[0]) == orjson.dumps(stats[1])  # in the same order too
