"""`deleteRecords(keys)` is how an incremental script says a record is gone: a change feed
reports deletions next to changes, any number of times, between `emit` batches. The host gets
every key in order, exactly as the script gave it; anything that is not a key value or an
object of key fields is refused at the call, naming the item, so a bad key never reaches the
import; and the keys count against the run's output bound like records."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.sources.direct_runs import run_script


def test_key_values_and_objects_of_key_fields_reach_the_host_as_given(tmp_path: Path) -> None:
    script = """
    deleteRecords([1, "b", 2.5]);
    deleteRecords([{ region: "eu", id: 7 }, { id: 8, toJSON() { return { id: 9 }; } }]);
    deleteRecords([]);
    return [];
    """
    outcome = run_script(tmp_path, script)
    assert outcome.deleted == [1, "b", 2.5, {"region": "eu", "id": 7}, {"id": 9}]


def test_deletions_and_emitted_batches_interleave_in_any_order(tmp_path: Path) -> None:
    script = """
    emit([{ id: 1 }]);
    deleteRecords([10]);
    await new Promise(resolve => setTimeout(resolve, 5));
    emit([{ id: 2 }, { id: 3 }]);
    deleteRecords([11, 12]);
    setTimeout(() => deleteRecords([13]), 5);
    """
    outcome = run_script(tmp_path, script, mode="incremental")
    assert [record["id"] for record in outcome.records] == [1, 2, 3]
    assert outcome.deleted == [10, 11, 12, 13]


def test_many_deletions_arrive_complete_and_in_order(tmp_path: Path) -> None:
    script = """
    for (let start = 0; start < 25000; start += 5000) {
      const keys = [];
      for (let i = start; i < start + 5000; i++) keys.push(i % 2 ? `k${i}` : { id: i });
      deleteRecords(keys);
    }
    return [{ id: -1 }];
    """
    outcome = run_script(tmp_path, script)
    assert outcome.deleted == [f"k{i}" if i % 2 else {"id": i} for i in range(25000)]


def test_deletions_count_against_the_output_limit(tmp_path: Path) -> None:
    script = """
    const long = "k".repeat(1000);
    for (let i = 0; i < 1e6; i++) deleteRecords([long + i]);
    """
    with pytest.raises(SourceRunError, match="sent more than 1 MB \\(maxOutputMb\\)"):
        run_script(tmp_path, script, maxOutputMb=1)


KEY_KINDS = "Give a key value \\(a string or number\\) or an object holding the key fields"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("deleteRecords(5)", "deleteRecords\\(\\) expects an array of keys, .*got a number"),
        ("deleteRecords({ id: 1 })", "expects an array of keys, .*got an object"),
        ("deleteRecords()", "expects an array of keys, .*got undefined"),
        ("deleteRecords([1, null])", f"keys\\[1\\] is null. {KEY_KINDS}"),
        ("deleteRecords([true])", f"keys\\[0\\] is a boolean. {KEY_KINDS}"),
        ("deleteRecords([[1, 2]])", f"keys\\[0\\] is an array. {KEY_KINDS}"),
        ("deleteRecords([{}])", f"keys\\[0\\] is an object without fields. {KEY_KINDS}"),
        (
            "deleteRecords([NaN])",
            f"keys\\[0\\]: the key is NaN, which JSON cannot hold. {KEY_KINDS}",
        ),
        ("deleteRecords([undefined])", "keys\\[0\\]: the key is undefined"),
        ("deleteRecords([() => 1])", "keys\\[0\\]: the key is a function, not data"),
        ("deleteRecords([new Map()])", "keys\\[0\\]: the key is a Map"),
        ("deleteRecords([{ id: { n: 1 } }])", "keys\\[0\\] field 'id' is an object; a key field"),
        ("deleteRecords([{ id: null }])", "keys\\[0\\] field 'id' is null; a key field"),
        ("deleteRecords([{ id: undefined }])", "keys\\[0\\]: field 'id' is undefined"),
        ("deleteRecords([{ id: [1] }])", "keys\\[0\\] field 'id' is an array"),
        (
            "deleteRecords(new Proxy([], { get: (t, k) => k === 'length' ? 1e300 : undefined }))",
            "the array's length is 1e\\+300, not a count of keys",
        ),
    ],
)
def test_a_call_with_anything_but_keys_is_refused_naming_the_item(
    tmp_path: Path, call: str, message: str
) -> None:
    with pytest.raises(SourceRunError, match=f"the script threw TypeError: .*{message}"):
        run_script(tmp_path, f"{call}; return [];")


def test_a_refused_call_that_the_script_catches_sent_nothing(tmp_path: Path) -> None:
    """A script that catches the error and goes on has deleted what its valid calls gave."""
    script = """
    deleteRecords([1]);
    try { deleteRecords([2, null]); } catch (e) { console.log("refused"); }
    deleteRecords([3]);
    return [];
    """
    assert run_script(tmp_path, script).deleted == [1, 3]


def test_a_refused_call_deletes_none_of_its_keys(tmp_path: Path) -> None:
    """The keys are checked before any is sent, in every chunk the call sends."""
    script = """
    const keys = Array.from({ length: 5000 }, (_, i) => i);
    keys.push(null);
    try { deleteRecords(keys); } catch (e) { console.log("refused"); }
    deleteRecords(["after"]);
    return [];
    """
    assert run_script(tmp_path, script).deleted == ["after"]
