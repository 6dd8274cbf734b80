"""Incremental imports: records are upserts by key, deletions are explicit, and each import is
still a whole version whose diff is exactly the change it applied. An oracle (the previous
version as an ordered dict, the upserts and deletions applied to it) says what every version
must read back as; the state commits with its version and never advances on a failure."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ConfigError, DiffKeyError, RecordsError
from manifold_pipelines.versions import incremental as incremental_module
from manifold_pipelines.versions.schema import schema_from_stats, stats_of
from manifold_tests.conftest import make_source

Oracle = dict[Any, dict[str, Any]]


def _apply(oracle: Oracle, upserts: list[dict[str, Any]], deleted: list[Any]) -> Oracle:
    """What an incremental import must give: a changed key keeps its place, a new key goes
    last, a deleted key leaves."""
    result = dict(oracle)
    for record in upserts:
        result[record["id"]] = record
    for key in deleted:
        result.pop(key, None)
    return result


@pytest.fixture
def incremental(manager: SeparatedDatabaseManager) -> tuple[str, str]:
    make_source(manager, "demo", "feed", mode="incremental")
    return ("demo", "feed")


def test_upserts_replace_in_place_and_deletions_remove(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    first = [{"id": i, "v": i} for i in range(5)]
    one = manager.import_data(*incremental, first, state={"cursor": 5})
    assert (one.mode, one.upserts, one.deletions, one.state) == ("incremental", 5, 0, {"cursor": 5})
    upserts = [{"id": 1, "v": 100}, {"id": 9, "v": 9}, {"id": 2, "v": 2}]
    two = manager.import_data(*incremental, upserts, deleted=[3, 42], state={"cursor": 9})
    expected = _apply({r["id"]: r for r in first}, upserts, [3, 42])
    assert manager.get_latest_data(*incremental).data == list(expected.values())
    assert manager.get_data_version(*incremental, 1).data == first  # history untouched
    assert two.diff is not None
    assert two.diff.summary() == {"added": 1, "removed": 1, "modified": 1, "totalChanges": 3}
    assert (two.record_count, two.upserts, two.deletions, two.absent_deletions) == (5, 3, 1, 1)
    log = manager.get_import_logs(*incremental)[0].log or ""
    assert "3 upserts (1 added, 1 modified, 1 unchanged), 1 deletions" in log
    assert "1 more named keys the source did not hold" in log
    assert manager.get_source_state(*incremental) == {"cursor": 9}
    info = manager.list_versions(*incremental)[-1]
    assert (info.mode, info.upserts, info.deletions, info.state) == (
        "incremental",
        3,
        1,
        {"cursor": 9},
    )


def test_an_upsert_equal_to_the_current_record_is_no_change(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": 1, "v": 1}, {"id": 2, "v": 2}])
    same = manager.import_data(*incremental, [{"id": 2, "v": 2}])
    assert same.diff is not None and same.diff.total_changes == 0
    assert same.record_count == 2
    quality = {m.metric: m.value for m in same.quality}
    assert quality["change_rate"] == 0 and quality["record_count"] == 2


def test_quality_counts_deletions_as_removed_and_the_whole_version(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": i} for i in range(10)])
    result = manager.import_data(*incremental, [], deleted=[0, 1])
    quality = {m.metric: m.value for m in result.quality}
    assert quality["record_count"] == 8
    assert quality["removed_rate"] == pytest.approx(0.2)
    assert quality["change_rate"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("upserts", "deleted", "error", "words"),
    [
        ([{"id": 1, "v": 9}], [1], RecordsError, "key 1 is both upserted and deleted"),
        ([{"v": 1}], [], DiffKeyError, "missing"),
        ([], [[1, 2]], RecordsError, "cannot delete"),
        ([], [{"other": 1}], RecordsError, "cannot delete"),
        ([{"id": 8}, "not a record"], [], RecordsError, "not an object"),
    ],
)
def test_a_bad_incremental_import_changes_nothing_and_keeps_the_state(
    manager: SeparatedDatabaseManager,
    incremental: tuple[str, str],
    upserts: list[Any],
    deleted: list[Any],
    error: type[Exception],
    words: str,
) -> None:
    manager.import_data(*incremental, [{"id": 1, "v": 1}], state={"cursor": 1})
    with pytest.raises(error, match=words):
        manager.import_data(*incremental, upserts, deleted=deleted, state={"cursor": 2})
    assert manager.get_latest_data(*incremental).data == [{"id": 1, "v": 1}]
    assert [v.version for v in manager.list_versions(*incremental)] == [1]
    assert manager.get_source_state(*incremental) == {"cursor": 1}
    assert manager.get_import_logs(*incremental)[0].status == "failed"


def test_deletions_in_a_snapshot_import_and_a_changed_key_are_refused(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": 1, "code": "a"}])
    with pytest.raises(ConfigError, match="deletions are for mode 'incremental'"):
        manager.import_data(*incremental, [{"id": 1}], mode="snapshot", deleted=[1])
    with pytest.raises(ConfigError, match="cannot match records across a change of diff key"):
        manager.import_data(*incremental, [{"id": 2, "code": "b"}], diff_key="code")
    with pytest.raises(ConfigError, match="'sometimes' is not an import mode"):
        manager.import_data(*incremental, [], mode="sometimes")  # type: ignore[arg-type]
    assert manager.get_latest_data(*incremental).data == [{"id": 1, "code": "a"}]


def test_switching_modes_keeps_the_history_and_diffs_across(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": i} for i in range(4)])
    manager.import_data(*incremental, [{"id": 0}, {"id": 1}], mode="snapshot")
    manager.import_data(*incremental, [{"id": 5}], deleted=[0])
    assert manager.get_latest_data(*incremental).data == [{"id": 1}, {"id": 5}]
    assert [v.mode for v in manager.list_versions(*incremental)] == [
        "incremental",
        "snapshot",
        "incremental",
    ]
    diff = manager.get_data_diff(*incremental, 1, 3)
    assert (diff.added, diff.removed, diff.modified) == (1, 3, 0)


def test_a_composite_key_deletes_by_objects(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, "demo", "pairs", mode="incremental", diffKey=["a", "b"])
    manager.import_data("demo", "pairs", [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}])
    manager.import_data("demo", "pairs", [], deleted=[{"a": 1, "b": "x", "extra": 0}])
    assert manager.get_latest_data("demo", "pairs").data == [{"a": 1, "b": "y"}]
    with pytest.raises(RecordsError, match=r"an object holding its fields \(a, b\)"):
        manager.import_data("demo", "pairs", [], deleted=[1])


def test_the_state_is_reset_or_rewound_by_an_editor_and_audited(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    assert manager.get_source_state(*incremental) == {}
    manager.import_data(*incremental, [{"id": 1}], state={"cursor": "2026-02-01"})
    manager.set_source_state(*incremental, {"cursor": "2026-01-01"})
    assert manager.get_source_state(*incremental) == {"cursor": "2026-01-01"}
    entry = next(e for e in manager.audit_log(object_id="demo/feed") if e.action == "set_state")
    assert (entry.before, entry.after) == ({"cursor": "2026-02-01"}, {"cursor": "2026-01-01"})
    for bad, words in (([1], "a state is a JSON object"), ({"x": float("nan")}, "state")):
        with pytest.raises(ConfigError, match=words):
            manager.set_source_state(*incremental, bad)  # type: ignore[arg-type]
    assert manager.get_source_state(*incremental) == {"cursor": "2026-01-01"}


_KEYS = st.integers(min_value=0, max_value=30)
_VALUES = st.one_of(st.integers(min_value=0, max_value=3), st.sampled_from(["a", None]))
_IMPORT = st.tuples(
    st.lists(st.tuples(_KEYS, _VALUES), max_size=12),  # a key may come more than once
    st.lists(_KEYS, max_size=6),
    st.booleans(),  # a snapshot import in between: the source keeps its history across modes
)
_sources = itertools.count()


@pytest.mark.slow  # 40 sequences of imports: 6 s on PostgreSQL
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(imports=st.lists(_IMPORT, min_size=1, max_size=5), chunk=st.sampled_from([1, 2, 5, 10_000]))
def test_random_incremental_imports_read_back_as_the_oracle_says(
    manager: SeparatedDatabaseManager,
    monkeypatch: pytest.MonkeyPatch,
    imports: list[tuple[list[tuple[int, Any]], list[int], bool]],
    chunk: int,
) -> None:
    """Small chunks make a repeated key come back after its row was written: the row gives
    way to the newer record, or goes when the key is back to its live record. A snapshot
    import in between may reorder the rows; new keys still go after all of them."""
    monkeypatch.setattr(incremental_module, "CHUNK_ROWS", chunk)
    source_id = f"feed{next(_sources)}"
    make_source(manager, "demo", source_id, mode="incremental")
    oracle: Oracle = {}
    states: list[Oracle] = []
    for number, (pairs, deletions, snapshot) in enumerate(imports, start=1):
        upserts = [{"id": key, "v": value} for key, value in pairs]
        deleted = [key for key in deletions if key not in dict(pairs)]
        before = oracle
        if snapshot:  # every record of the version, each key once
            upserts = list(_apply({}, upserts, []).values())
            oracle, deleted = _apply({}, upserts, []), []
        else:
            oracle = _apply(oracle, upserts, deleted)
        result = manager.import_data(
            "demo",
            source_id,
            iter(upserts),
            deleted=deleted,
            mode="snapshot" if snapshot else "incremental",
        )
        states.append(oracle)
        assert result.version == number and result.record_count == len(oracle)
        assert result.diff is not None
        changed = sum(1 for k, r in oracle.items() if k in before and before[k] != r)
        assert (result.diff.added, result.diff.removed, result.diff.modified) == (
            len(oracle.keys() - before.keys()),
            len(before.keys() - oracle.keys()),
            changed,
        )
        if number > 1:  # details in the same order as the store's own diff of the pair
            stored = manager.get_data_diff("demo", source_id, number - 1, number)
            assert result.diff.to_dict() == stored.to_dict()
        else:
            assert result.diff.details.added == list(oracle.values())
        # The field statistics, kept up as rows come and go, are those of the data itself.
        data = list(oracle.values())
        expected_schema = schema_from_stats(stats_of(data, ""), len(data))
        assert manager.get_data_version("demo", source_id, number).schema == expected_schema
    for number, expected in enumerate(states, start=1):
        assert manager.get_data_version("demo", source_id, number).data == list(expected.values())


@pytest.mark.parametrize(
    ("first", "upserts", "expected", "counts"),
    [
        # changed, then back to its live record in a later chunk: no change after all
        ([{"id": 1, "v": 1}], [{"id": 1, "v": 2}, {"id": 1, "v": 1}], [{"id": 1, "v": 1}], (0, 0)),
        # equal to its live record, then changed in a later chunk
        ([{"id": 1, "v": 1}], [{"id": 1, "v": 1}, {"id": 1, "v": 3}], [{"id": 1, "v": 3}], (0, 1)),
        # new, then changed in a later chunk: added once, with its last record, in its place
        (
            [{"id": 1, "v": 1}],
            [{"id": 2, "v": 1}, {"id": 3, "v": 1}, {"id": 2, "v": "b"}],
            [{"id": 1, "v": 1}, {"id": 2, "v": "b"}, {"id": 3, "v": 1}],
            (2, 0),
        ),
    ],
)
def test_a_key_coming_back_in_a_later_chunk_replaces_what_the_import_wrote(
    manager: SeparatedDatabaseManager,
    incremental: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    first: list[dict[str, Any]],
    upserts: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    counts: tuple[int, int],
) -> None:
    manager.import_data(*incremental, first)
    monkeypatch.setattr(incremental_module, "CHUNK_ROWS", 1)
    result = manager.import_data(*incremental, iter(upserts))
    assert result.diff is not None
    assert (result.diff.added, result.diff.removed, result.diff.modified) == (
        *counts[:1],
        0,
        counts[1],
    )
    assert manager.get_latest_data(*incremental).data == expected
    assert manager.get_data_version(*incremental, 1).data == first
    expected_schema = schema_from_stats(stats_of(expected, ""), len(expected))
    assert manager.get_latest_data(*incremental).schema == expected_schema


def test_a_first_import_counts_only_the_last_record_of_a_repeated_key(
    manager: SeparatedDatabaseManager,
    incremental: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first import counts fields as records pass; a row it replaces is uncounted, whether
    its record was kept for the details or read back."""
    monkeypatch.setattr(incremental_module, "CHUNK_ROWS", 1)
    monkeypatch.setattr(incremental_module, "FIRST_IMPORT_DETAILS", 1)
    records = [{"id": 1, "v": "a"}, {"id": 2, "v": 1.5}, {"id": 2, "v": 2}, {"id": 1, "v": 1}]
    result = manager.import_data(*incremental, iter(records))
    assert manager.get_latest_data(*incremental).schema == {
        "fields": {
            "id": {"types": ["integer"], "nullable": False},
            "v": {"types": ["integer"], "nullable": False},
        }
    }
    assert result.diff is not None and result.diff.added == 2
    assert result.diff.details.added == [{"id": 1, "v": 1}]


@pytest.mark.parametrize("chunk", [1, 10_000])
def test_a_record_superseded_in_a_later_chunk_is_judged_as_in_the_same_chunk(
    manager: SeparatedDatabaseManager,
    incremental: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    """Only the records a version keeps are typed for its schema: a UUID (which orjson
    writes, but JSON has no type for) in a record the same import replaced is not refused,
    whichever chunk each record fell in."""
    monkeypatch.setattr(incremental_module, "CHUNK_ROWS", chunk)
    records = [{"id": 10, "v": uuid.uuid4()}, {"id": 10, "v": "ok"}]
    manager.import_data(*incremental, iter(records))
    assert manager.get_latest_data(*incremental).data == [{"id": 10, "v": "ok"}]
    with pytest.raises(RecordsError, match="UUID"):
        manager.import_data(*incremental, [{"id": 11, "v": uuid.uuid4()}])
    assert manager.get_latest_data(*incremental).data == [{"id": 10, "v": "ok"}]


def test_every_version_keeps_its_top_position_so_new_keys_never_share_a_place(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    """A snapshot that moves a row after its last kept one places it above every position
    it had; the next incremental import appends after that, without scanning the rows."""
    rows = [{"id": key} for key in (1, 2, 3)]
    manager.import_data(*incremental, rows, mode="snapshot")
    manager.import_data(*incremental, [rows[1], rows[2], rows[0]], mode="snapshot")
    manager.import_data(*incremental, [{"id": 4}, {"id": 5}])
    assert manager.get_latest_data(*incremental).data == [{"id": key} for key in (2, 3, 1, 4, 5)]
    project = manager.core.get_project("demo")
    with manager.backend.versions(project, "feed") as store, store.reading() as db:
        live = "NOT EXISTS (SELECT 1 FROM record_ends e WHERE e.id = r.id)"
        positions = [
            row[0] for row in db.execute(f"SELECT position FROM record_rows r WHERE {live}")
        ]
        tops = [row[0] for row in db.execute("SELECT top_position FROM data_versions")]
    assert len(set(positions)) == len(positions) == 5
    assert None not in tops and tops[-1] == max(positions)


def test_a_version_from_before_top_positions_were_kept_is_scanned_once(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": 1}, {"id": 2}], mode="snapshot")
    project = manager.core.get_project("demo")
    with manager.backend.versions(project, "feed") as store, store.writing() as db:
        db.execute("UPDATE data_versions SET top_position = NULL")
    manager.import_data(*incremental, [{"id": 3}, {"id": 1, "v": 1}])
    assert manager.get_latest_data(*incremental).data == [{"id": 1, "v": 1}, {"id": 2}, {"id": 3}]
    with manager.backend.versions(project, "feed") as store, store.reading() as db:
        assert [row[0] for row in db.execute("SELECT top_position FROM data_versions")][-1]


def _large_records(count: int, tag: int) -> Iterator[dict[str, Any]]:
    for number in range(count):
        yield {"id": number, "tag": tag, "pad": f"{number:08d}" + "x" * 4000}


@pytest.mark.slow
def test_a_streamed_incremental_import_holds_a_chunk_not_every_record(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    """50,000 records of 4 KB (200 MB of JSON) stream through in chunks, whether all new (a
    first load or backfill) or all unchanged (a feed sending everything again). Holding
    them, or their JSON, would take more than the bound: it took 1.5 GB before."""
    for tag in (0, 0):
        tracemalloc.start()
        try:
            manager.import_data(*incremental, _large_records(50_000, tag))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 120 * 2**20, f"{peak / 2**20:.0f} MB"
    assert manager.get_latest_data(*incremental).record_count == 50_000


KILLED_WRITER = """
import sys
from manifold_pipelines import SeparatedDatabaseManager
with SeparatedDatabaseManager(sys.argv[1]) as m:
    # Each run goes on from the cursor the last one committed, as a real source would.
    start = m.get_source_state("demo", "feed").get("cursor", 0) + 1
    for round in range(start, start + 1000):
        m.import_data("demo", "feed", [{"id": i, "round": round, "pad": "x" * 200}
                                       for i in range(round * 100, round * 100 + 20000)],
                      deleted=[round * 100 - 1], state={"cursor": round})
        print(round, flush=True)
"""


@pytest.mark.slow
def test_a_killed_incremental_import_leaves_the_state_with_its_last_whole_version(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str], home: Path
) -> None:
    for attempt in range(4):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(home)],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert child.stdout is not None
        child.stdout.readline()  # one import committed; the kill lands in a later one
        time.sleep(0.1 + 0.1 * attempt)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        last = manager.list_versions(*incremental)[-1]
        assert manager.get_source_state(*incremental) == last.state
        assert last.state is not None
        latest = manager.get_latest_data(*incremental)
        newest_round = max(record["round"] for record in latest.data)
        assert newest_round == last.state["cursor"]
        assert sum(1 for r in latest.data if r["round"] == newest_round) == 20000


def test_a_key_upserted_twice_in_one_import_takes_its_last_record(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    """As applying the upserts in order would: a change feed repeats a record it changed
    twice. The key keeps the place of its first record."""
    manager.import_data(*incremental, [{"id": 1, "v": 1}])
    result = manager.import_data(
        *incremental, [{"id": 2, "v": "a"}, {"id": 1, "v": 5}, {"id": 2, "v": "b"}]
    )
    assert manager.get_latest_data(*incremental).data == [{"id": 1, "v": 5}, {"id": 2, "v": "b"}]
    assert (result.upserts, result.record_count) == (3, 2)
    assert "1 records repeated a key, the last of each counts" in (
        manager.get_import_logs(*incremental)[0].log or ""
    )


def test_rolling_back_an_incremental_source_restores_the_whole_old_version(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    """A rollback is the old version whole, not upserts on top of the current one: keys
    added since must go."""
    manager.import_data(*incremental, [{"id": 1, "v": "a"}])
    manager.import_data(*incremental, [{"id": 2, "v": "b"}])
    manager.import_data(*incremental, [{"id": 1, "v": "c"}])
    back = manager.rollback(*incremental, 1)
    assert manager.get_latest_data(*incremental).data == [{"id": 1, "v": "a"}]
    assert back.mode == "snapshot" and back.diff is not None
    assert (back.diff.removed, back.diff.modified) == (1, 1)
    assert manager.get_data_diff(*incremental, 1, back.version).total_changes == 0


def test_an_upsert_in_another_field_order_is_unchanged_in_the_diff_and_the_log(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": 1, "a": 1, "b": 2}])
    again = manager.import_data(*incremental, [{"b": 2, "a": 1, "id": 1}])
    assert again.diff is not None and again.diff.total_changes == 0
    log = manager.get_import_logs(*incremental)[0].log or ""
    assert "1 upserts (0 added, 0 modified, 1 unchanged)" in log
    assert manager.get_latest_data(*incremental).data == [{"b": 2, "a": 1, "id": 1}]


@pytest.mark.parametrize(
    ("deleted", "words"),
    [
        ("ab", "deleted must be a list of keys, got str"),
        ({"id": 1}, "deleted must be a list of keys, got dict"),
        (5, "deleted must be a list of keys, got int"),
        (["\ud800"], "cannot delete"),
        ([True], "each a string or a number"),
    ],
)
def test_deletions_that_are_not_a_list_of_keys_are_refused(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str], deleted: Any, words: str
) -> None:
    manager.import_data(*incremental, [{"id": "a"}, {"id": "b"}])
    with pytest.raises(RecordsError, match=words):
        manager.import_data(*incremental, [], deleted=deleted)
    assert manager.get_latest_data(*incremental).data == [{"id": "a"}, {"id": "b"}]


def test_a_nul_in_a_field_name_is_stored_alike_on_both_engines(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": 1, "a\x00b": 1}])
    assert manager.get_latest_data(*incremental).data == [{"id": 1, "a\x00b": 1}]
    fields = {m.field for m in manager.get_quality_metrics(*incremental) if m.field}
    assert "a\\u0000b" in fields


def test_an_incremental_version_records_the_state_it_leaves_even_when_carried_over(
    manager: SeparatedDatabaseManager, incremental: tuple[str, str]
) -> None:
    manager.import_data(*incremental, [{"id": 1}], state={"cursor": 1})
    manager.import_data(*incremental, [{"id": 2}])
    manager.import_data(*incremental, [{"id": 3}], mode="snapshot")
    states = [v.state for v in manager.list_versions(*incremental)]
    assert states == [{"cursor": 1}, {"cursor": 1}, None]
