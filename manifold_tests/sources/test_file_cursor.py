"""A file that only grows (an export appended to, a log of changes) is read from where the last
import stopped: with `cursorField`, a csv / json / jsonl source yields only the rows past the
state's cursor and hands back the greatest value seen as the next cursor. Numbers compare as
numbers and text as text, and a row or a cursor that cannot be compared fails the run naming
it: skipping it, or letting it through, would move the cursor past data never read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines.core.source_config import dump_source_config, parse_source_config
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.sources.direct_runs import Outcome, run_to_end, start_run


def _run(home: Path, kind: str, content: str, state: dict[str, Any], **config: Any) -> Outcome:
    path = home / "feed"
    path.write_text(content, encoding="utf-8")
    return run_to_end(home, kind, {"path": str(path), **config}, state)


def _ids(outcome: Outcome) -> list[Any]:
    return [record["id"] for record in outcome.records]


def test_a_growing_csv_is_read_from_where_the_last_run_stopped(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("id,seq,total\n1,8,5\n2,9,7\n", encoding="utf-8")
    config = {"path": str(path), "cursorField": "seq", "mode": "incremental"}
    first = run_to_end(tmp_path, "csv", config, {})
    assert _ids(first) == [1, 2] and first.state == {"cursor": 9}
    with path.open("a", encoding="utf-8") as stream:
        stream.write("3,10,1\n4,11,2\n")
    assert first.state is not None
    second = run_to_end(tmp_path, "csv", config, first.state)
    assert _ids(second) == [3, 4] and second.state == {"cursor": 11}
    assert second.records[0] == {"id": 3, "seq": 10, "total": 1}
    assert second.state is not None
    third = run_to_end(tmp_path, "csv", config, second.state)
    assert third.records == [] and third.state == {"cursor": 11}
    assert third.deleted == []


def test_a_growing_json_lines_file_with_iso_dates_is_read_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "changes.jsonl"
    lines = [
        '{"id": "a", "changed": "2026-01-09T23:59:00Z"}',
        '{"id": "b", "changed": "2026-01-10T00:00:00Z"}',
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {"path": str(path), "format": "jsonl", "cursorField": "changed"}
    first = run_to_end(tmp_path, "json", config, {"cursor": "2026-01-09T12:00:00Z"})
    assert _ids(first) == ["a", "b"] and first.state == {"cursor": "2026-01-10T00:00:00Z"}
    with path.open("a", encoding="utf-8") as stream:
        stream.write('\n{"id": "c", "changed": "2026-01-10T08:00:00Z"}\n')
    assert first.state is not None
    second = run_to_end(tmp_path, "json", config, first.state)
    assert _ids(second) == ["c"] and second.state == {"cursor": "2026-01-10T08:00:00Z"}


def test_numbers_compare_as_numbers_and_declared_text_as_text(tmp_path: Path) -> None:
    """10 follows 9 as a number but comes before it as text: the column's type decides."""
    content = "id,seq\n1,9\n2,10\n"
    as_numbers = _run(tmp_path, "csv", content, {"cursor": 9}, cursorField="seq")
    assert _ids(as_numbers) == [2] and as_numbers.state == {"cursor": 10}
    declared = {"cursorField": "seq", "columns": {"seq": "string"}}
    as_text = _run(tmp_path, "csv", content, {"cursor": "9"}, **declared)
    assert as_text.records == [] and as_text.state == {"cursor": "9"}


def test_a_json_document_compares_numbers_of_either_form(tmp_path: Path) -> None:
    content = '{"data": {"rows": [{"id": 1, "v": 2.5}, {"id": 2, "v": 3}, {"id": 3, "v": 2}]}}'
    outcome = _run(
        tmp_path, "json", content, {"cursor": 2}, cursorField="v", recordsPath="data.rows"
    )
    assert _ids(outcome) == [1, 2] and outcome.state == {"cursor": 3}


def test_the_cursor_stays_and_other_state_is_kept_when_no_row_is_past_it(tmp_path: Path) -> None:
    state = {"cursor": 50, "note": "backfill done"}
    outcome = _run(tmp_path, "csv", "id,seq\n1,10\n2,50\n", state, cursorField="seq")
    assert outcome.records == [] and outcome.state == state
    empty = _run(tmp_path, "json", "[]", {}, cursorField="seq")
    assert empty.records == [] and empty.state == {}


def test_a_null_cursor_in_the_state_reads_every_row(tmp_path: Path) -> None:
    outcome = _run(tmp_path, "csv", "id,seq\n1,1\n2,2\n", {"cursor": None}, cursorField="seq")
    assert _ids(outcome) == [1, 2] and outcome.state == {"cursor": 2}


def test_without_a_cursor_field_every_row_is_read_and_the_state_left_alone(
    tmp_path: Path,
) -> None:
    outcome = _run(tmp_path, "csv", "id,seq\n1,1\n2,2\n", {"cursor": 5})
    assert _ids(outcome) == [1, 2] and outcome.state is None


@pytest.mark.parametrize(
    ("kind", "content", "state", "config", "message"),
    [
        (
            "csv",
            "id,seq\n1,1\n2,\n",
            {},
            {},
            "CSV line 3 has an empty or null 'seq', its cursorField. Every row needs a value",
        ),
        ("csv", "id,n\n1,1\n", {}, {}, "CSV line 2 has no field 'seq', its cursorField"),
        (
            "json",
            '{"id": 1, "seq": 1}\n\n{"id": 2}\n',
            {},
            {"format": "jsonl"},
            "line 3 has no field 'seq', its cursorField",
        ),
        (
            "json",
            '[{"id": 1, "seq": null}]',
            {},
            {},
            "the record at index 0 of the array has an empty or null 'seq'",
        ),
        (
            "json",
            '[{"id": 1, "seq": true}]',
            {},
            {},
            "the record at index 0 of the array: cursorField 'seq' is true, neither a number",
        ),
        ("json", "[[1, 2]]", {}, {}, "the record at index 0 of the array is not an object"),
        (
            "csv",
            "id,seq\n1,9\n2,9a\n",
            {},
            {},
            "CSV line 3: cursorField 'seq' is \"9a\" \\(text\\), but the rows before it hold"
            " numbers.*Declare the column's type in 'columns'",
        ),
        (
            "csv",
            "id,seq\n1,9\n",
            {"cursor": "abc"},
            {},
            "the state's cursor \"abc\" is text, but cursorField 'seq' holds numbers \\(CSV line"
            " 2: 9\\). Set the cursor to a number \\(manifold state --set\\) or reset the state",
        ),
        (
            "json",
            '[{"id": 1, "seq": "2026-01-10"}]',
            {"cursor": 20260109},
            {},
            "the state's cursor 20260109 is a number, but cursorField 'seq' holds text",
        ),
        (
            "csv",
            "id,seq\n1,9\n",
            {"cursor": [9]},
            {},
            "the state's cursor \\[9\\] is neither a number nor text",
        ),
    ],
    ids=[
        "empty csv cell",
        "csv without the column",
        "jsonl line without the field",
        "json null",
        "json boolean",
        "json record not an object",
        "csv column of numbers and text",
        "text cursor for a numeric column",
        "numeric cursor for a text field",
        "cursor neither number nor text",
    ],
)
def test_a_row_or_cursor_that_cannot_be_compared_fails_the_run_naming_it(
    tmp_path: Path,
    kind: str,
    content: str,
    state: dict[str, Any],
    config: dict[str, Any],
    message: str,
) -> None:
    path = tmp_path / "feed"
    path.write_text(content, encoding="utf-8")
    run = start_run(tmp_path, kind, {"path": str(path), "cursorField": "seq", **config}, state)
    try:
        with pytest.raises(SourceRunError, match=message) as raised:
            list(run.records())
        assert str(raised.value).startswith("Data source 'demo/api': ")
        assert str(raised.value).endswith("Nothing was imported.")
        with pytest.raises(RuntimeError, match="records\\(\\) ran to its end"):
            run.final_state()
    finally:
        run.close()


def test_cursor_field_is_a_config_key_of_every_file_source() -> None:
    config = parse_source_config(
        "json", {"path": "x.jsonl", "format": "jsonl", "cursorField": "at"}, where="'demo/api'"
    )
    assert dump_source_config(config)["cursorField"] == "at"
    with pytest.raises(ConfigError, match="cursorField 'ok' is declared boolean in columns"):
        parse_source_config(
            "csv",
            {"path": "x.csv", "cursorField": "ok", "columns": {"ok": "boolean"}},
            where="'demo/api'",
        )
    with pytest.raises(ConfigError, match="'cursorField'"):
        parse_source_config("csv", {"path": "x.csv", "cursorField": ""}, where="'demo/api'")
