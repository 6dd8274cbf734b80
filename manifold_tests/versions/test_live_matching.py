"""A snapshot import matches its records against the live rows a batch at a time
(versions/live_index.py): by content hash, unchanged records keep their rows, the same record
twice is a repeated key, and a damaged row is refused before anything is written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import DiffKeyError, StorageError
from manifold_pipelines.versions import scan as scan_module
from manifold_pipelines.versions import store_writes
from manifold_pipelines.versions.live_index import LiveRows, spread_in_order
from manifold_pipelines.versions.ordering import place_rows
from manifold_tests.conftest import batches_of
from manifold_tests.raw_storage import source_sql


def _digest(high: int, low: int) -> bytes:
    return high.to_bytes(8, "big") + low.to_bytes(8, "big")


def _live(digests: list[bytes]) -> LiveRows:
    count = len(digests)
    ids = ",".join(str(100 + row) for row in range(count))
    positions = ",".join(str(1000 * (count - row)) for row in range(count))
    return LiveRows(b"".join(digests), ids, positions, "test")


def test_rows_whose_hashes_share_their_first_half_are_told_apart_by_the_second() -> None:
    """The lookup sorts by the first 8 bytes; rows sharing them must each still be found."""
    live = _live([_digest(7, 3), _digest(7, 1), _digest(9, 0), _digest(7, 2)])
    batch = live.take(_digest(7, 2) + _digest(7, 1) + _digest(7, 4) + _digest(7, 3))
    assert batch.new == [2]  # (7, 4) shares a first half with three rows but is none of them
    assert batch.kept_before == [2]
    assert batch.repeated == []
    assert live.kept() == ([1000, 3000, 4000], [103, 101, 100])
    assert live.ended_ids() == [102]


def test_a_record_taken_twice_is_repeated_within_a_batch_and_across_batches() -> None:
    first, second = _digest(1, 1), _digest(2, 2)
    live = _live([first, second])
    batch = live.take(first + _digest(3, 3) + first)
    assert (batch.new, batch.kept_before, batch.repeated) == ([1], [1], [2])
    batch = live.take(second + first)
    assert (batch.new, batch.kept_before, batch.repeated) == ([], [], [1])
    assert live.kept() == ([2000, 1000], [100, 101])
    assert live.ended_ids() == []


def test_digests_past_either_end_of_the_sorted_hashes_are_new() -> None:
    live = _live([_digest(5, 5)])
    batch = live.take(_digest(0, 0) + _digest(2**64 - 1, 0))
    assert (batch.new, batch.kept_before) == ([0, 1], [0, 0])
    assert live.ended_ids() == [100]
    empty = _live([])
    assert empty.take(_digest(5, 5)).new == [0]
    assert empty.top_position() is None


def test_rows_named_not_live_are_left_out_wherever_they_are_read() -> None:
    """The live rows are read with the ended rows among them, whose ids come apart, in any
    order: none of those may match a record or count as ended again."""
    digests = [_digest(row, row) for row in range(6)]
    ids = "10,11,12,13,14,15"
    live = LiveRows(b"".join(digests), ids, "1,2,3,4,5,6", "test", not_live="15,10,13,99")
    batch = live.take(digests[0] + digests[1] + digests[3] + digests[5])
    assert batch.new == [0, 2, 3]  # the rows of ids 10, 13 and 15 were ended
    assert live.kept() == ([2], [11])
    assert live.ended_ids() == [12, 14]
    assert live.top_position() == 5


@st.composite
def kept_and_slots(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Kept positions, mostly increasing with gaps from none to wide, and the slots of new
    rows (how many kept rows come before each), from crowded into one gap to spread out."""
    gaps = draw(st.lists(st.sampled_from([1, 2, 3, 5, 65_536]), max_size=12))
    start = draw(st.integers(-(2**40), 2**40))
    kept = [start + sum(gaps[:index]) for index in range(len(gaps))]
    if draw(st.booleans()) and len(kept) > 1:
        kept[0], kept[-1] = kept[-1], kept[0]
    slots = sorted(draw(st.lists(st.integers(0, len(kept)), max_size=20)))
    return kept, slots


@settings(max_examples=400)
@given(case=kept_and_slots())
def test_new_rows_are_spread_in_whole_arrays_exactly_as_a_row_at_a_time(
    case: tuple[list[int], list[int]],
) -> None:
    """Where nothing has to move, the array form places every new row where place_rows does;
    anywhere else it declines, and place_rows decides."""
    kept, slots = case
    expected = place_rows(kept, slots)
    placed = spread_in_order(np.array(kept, dtype=np.int64), slots)
    if kept and not expected.moved:
        assert placed == expected
    else:
        assert placed is None


def test_positions_near_the_ends_of_64_bits_are_left_to_python_ints() -> None:
    kept = np.array([-(2**63) + 1, 0], dtype=np.int64)
    assert spread_in_order(kept, [0, 0, 1]) is None
    assert spread_in_order(np.array([0, 2**63 - 1], dtype=np.int64), [1]) is None
    assert spread_in_order(np.array([-(2**62), 1], dtype=np.int64), [1]) is None
    widest = [-(2**62) + 1, 2**62 - 1]
    assert spread_in_order(np.array(widest, dtype=np.int64), [1]) == place_rows(widest, [1])


@pytest.mark.parametrize(
    ("hashes", "ids", "positions"),
    [
        (b"\0" * 15, "1", "1"),  # a hash one byte short
        (b"\0" * 32, "1", "1"),  # more hash bytes than rows
        (b"\0" * 16, "1", "1,2"),  # more positions than rows
        (b"\0" * 16, "1", "x"),  # a position that is not a number
    ],
)
def test_rows_that_do_not_read_back_whole_are_refused(
    hashes: bytes, ids: str, positions: str
) -> None:
    with pytest.raises(StorageError, match=r"the file is damaged.*restore the file from a backup"):
        LiveRows(hashes, ids, positions, "demo/api")
    with pytest.raises(StorageError, match=r"the file is damaged"):
        LiveRows(b"\0" * 16, "1", "1", "demo/api", not_live="1,x")


@pytest.mark.parametrize(("batch", "slice_ids"), [(2, 3), (10_000, 1 << 22)])
def test_unchanged_records_keep_their_rows_whatever_the_batches(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
    slice_ids: int,
) -> None:
    """Records looked up a few at a time, in live rows read a few ids at a time (the rows of
    a large source are read in slices, each under the engines' 1 GB cap on a value)."""
    batches_of(monkeypatch, batch)
    monkeypatch.setattr(store_writes, "LIVE_SLICE_IDS", slice_ids)
    first = [{"id": i, "v": i} for i in range(9)]
    manager.import_data(*source, first)
    second = [first[4], {"id": 1, "v": "changed"}, *first[5:], first[0], {"id": 20, "v": 0}]
    result = manager.import_data(*source, second)
    assert result.diff is not None
    assert result.diff.summary() == {"added": 1, "removed": 2, "modified": 1, "totalChanges": 4}
    assert manager.get_latest_data(*source).data == second
    with source_sql(home, *source) as conn:
        # first[4:] and first[0] kept their rows; only the changed, the added and the record
        # moved out of order (first[0], now after first[8]) were written again.
        written = conn.execute("SELECT count(*) FROM record_rows WHERE first_version = 2")
        assert written.fetchone()[0] == 3
    assert manager.get_data_version(*source, 1).data == first
    # live rows of both versions, with ended ones between them (a slice may hold none)
    third = manager.import_data(*source, second[2:])
    assert third.diff is not None
    assert third.diff.summary() == {"added": 0, "removed": 2, "modified": 0, "totalChanges": 2}
    assert manager.get_latest_data(*source).data == second[2:]


def test_content_a_version_ended_comes_back_as_a_change_while_history_grows(
    manager: SeparatedDatabaseManager, source: tuple[str, str]
) -> None:
    """Records take back, version after version, the content of rows earlier versions ended:
    those rows are read with the live ones while ended rows are under half the ids, and left
    out by the query once they are more. Either way an ended row never counts as kept."""
    one = [{"id": i, "v": "one"} for i in range(4)]
    two = [{"id": i, "v": "two"} for i in range(4)]
    for number, records in enumerate([one, two, one, two, one, [*one[:2], *two[2:]]], start=1):
        result = manager.import_data(*source, records)
        assert result.diff is not None
        if number > 1:
            assert result.diff.modified in (2, 4)
            assert result.diff.added == result.diff.removed == 0
        assert manager.get_latest_data(*source).data == records
    assert manager.get_data_version(*source, 3).data == one
    assert manager.get_data_diff(*source, 5, 6).summary()["modified"] == 2


@pytest.mark.parametrize("batch", [2, 10_000])
def test_the_same_record_twice_is_a_repeated_key_and_nothing_is_imported(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
) -> None:
    batches_of(monkeypatch, batch)
    first = [{"id": i} for i in range(5)]
    manager.import_data(*source, first)
    with pytest.raises(DiffKeyError, match=r"1 record has a 'id' that another.*first rows 4\)"):
        manager.import_data(*source, [*first[:4], first[1]])
    assert [version.version for version in manager.list_versions(*source)] == [1]
    assert manager.get_latest_data(*source).data == first


def test_a_row_whose_hash_is_damaged_stops_the_import_and_keeps_the_last_version(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    records = [{"id": i} for i in range(3)]
    manager.import_data(*source, records)
    with source_sql(home, *source) as conn:
        conn.execute("UPDATE record_rows SET hash = ? WHERE id = 2", (b"\x01" * 5,))
    with pytest.raises(StorageError, match=r"do not read back whole.*restore the file"):
        manager.import_data(*source, [*records, {"id": 3}])
    assert [version.version for version in manager.list_versions(*source)] == [1]
    assert manager.get_latest_data(*source).data == records


def test_a_damaged_row_of_an_older_version_does_not_stop_the_next_import(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """Ended rows are read along with the live ones; when one of them does not read back
    whole, the live rows are read again on their own, as only they are compared."""
    records = [{"id": i} for i in range(4)]
    manager.import_data(*source, records)
    changed = [*records[:3], {"id": 3, "v": 1}]
    manager.import_data(*source, changed)
    with source_sql(home, *source) as conn:
        ended = conn.execute("SELECT id FROM record_ends").fetchone()[0]
        conn.execute("UPDATE record_rows SET hash = ? WHERE id = ?", (b"\x01" * 5, ended))
    result = manager.import_data(*source, [*changed, {"id": 4}])
    assert result.diff is not None
    assert result.diff.summary() == {"added": 1, "removed": 0, "modified": 0, "totalChanges": 1}
    assert manager.get_latest_data(*source).data == [*changed, {"id": 4}]


def test_hashes_that_are_wrong_but_line_up_cost_a_rewrite_and_never_wrong_data(
    manager: SeparatedDatabaseManager, source: tuple[str, str], home: Path
) -> None:
    """Two damaged hashes of 8 and 24 bytes add up to two whole ones: every row between
    them reads a shifted hash and matches no record, so those records are written again."""
    records = [{"id": i} for i in range(4)]
    manager.import_data(*source, records)
    with source_sql(home, *source) as conn:
        conn.execute("UPDATE record_rows SET hash = ? WHERE id = 1", (b"\x01" * 8,))
        conn.execute("UPDATE record_rows SET hash = ? WHERE id = 3", (b"\x01" * 24,))
    result = manager.import_data(*source, [*records, {"id": 4}])
    assert result.diff is not None
    assert result.diff.summary() == {"added": 1, "removed": 0, "modified": 0, "totalChanges": 1}
    assert manager.get_latest_data(*source).data == [*records, {"id": 4}]
    assert manager.get_data_version(*source, 1).data == records


@pytest.mark.parametrize("batch", [2, 10_000])
@pytest.mark.parametrize("first", [True, False])
def test_records_without_a_key_are_named_by_row_across_batches(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
    first: bool,
) -> None:
    batches_of(monkeypatch, batch)
    if not first:
        manager.import_data(*source, [{"id": 0}])
    records = [{"id": 0}, {"v": 1}, {"id": 2}, {"id": None}, {"id": 4}, {"id": [1]}]
    with pytest.raises(DiffKeyError, match=r"3 records have no usable 'id'.*first rows 1, 3, 5\)"):
        manager.import_data(*source, records)
    assert len(manager.list_versions(*source)) == (0 if first else 1)


def test_a_streamed_first_import_keeps_the_first_records_for_its_details_across_batches(
    manager: SeparatedDatabaseManager, source: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    batches_of(monkeypatch, 3)
    monkeypatch.setattr(scan_module, "FIRST_IMPORT_DETAILS", 10)
    records = [{"id": i, "v": i % 2 or None} for i in range(25)]
    result = manager.import_data(*source, iter(records))
    assert result.diff is not None
    assert result.diff.added == 25
    assert result.diff.details.added == records[:10]
    assert manager.get_latest_data(*source).data == records
    completeness = next(metric for metric in result.quality if metric.field == "v")
    assert completeness.value == pytest.approx(12 / 25)  # the odd ids have a value


def _reusing_one_dict(values: list[int]) -> Iterator[dict[str, Any]]:
    """A producer that fills one dict again for each record, as some readers do."""
    record: dict[str, Any] = {}
    for value in values:
        record["id"] = value
        record["v"] = value * 10
        yield record


def _changing_after_yield(records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for record in records:
        yield record
        record["v"] = "changed after it was yielded"
        record["extra"] = {1, 2}  # not even JSON any more


@pytest.mark.parametrize("batch", [3, 10_000])
def test_records_are_stored_as_they_were_yielded_even_if_the_producer_changes_them(
    manager: SeparatedDatabaseManager,
    source: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    batch: int,
) -> None:
    """Records are read ahead a batch at a time; what is stored, keyed and diffed is each
    record as it was when yielded, never what its producer made of it afterwards."""
    batches_of(monkeypatch, batch)
    manager.import_data(*source, _reusing_one_dict([0, 1, 2, 3]))
    expected = [{"id": i, "v": i * 10} for i in range(4)]
    assert manager.get_latest_data(*source).data == expected
    second = [{"id": 0, "v": 0}, {"id": 1, "v": 5}, {"id": 4, "v": 40}]
    result = manager.import_data(*source, _changing_after_yield([dict(r) for r in second]))
    assert manager.get_latest_data(*source).data == second
    assert result.diff is not None
    assert result.diff.summary() == {"added": 1, "removed": 2, "modified": 1, "totalChanges": 4}
    (modified,) = result.diff.details.modified
    assert modified.new == {"id": 1, "v": 5}
    assert result.diff.details.added == [{"id": 4, "v": 40}]
    assert manager.get_data_version(*source, 1).data == expected


def test_the_details_cap_of_a_streamed_first_import_counts_bytes_not_characters(
    manager: SeparatedDatabaseManager, source: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each record is 105 bytes of JSON but 45 characters: a cap of 250 keeps three."""
    monkeypatch.setattr(scan_module, "FIRST_IMPORT_DETAIL_BYTES", 250)
    records = [{"id": i, "v": "日本語" * 10} for i in range(10)]
    result = manager.import_data(*source, iter(records))
    assert result.diff is not None
    assert result.diff.added == 10
    assert result.diff.details.added == records[:3]
