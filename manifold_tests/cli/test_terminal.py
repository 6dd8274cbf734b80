"""Data reaches the terminal through the CLI, and a terminal obeys control characters: a
record value holding `ESC ]0;...BEL` retitles the window, `ESC [2J` clears it, a bidi
override reorders what is read. Every command prints such characters as visible `\\uXXXX`
escapes instead, and JSON output stays valid JSON holding the same values."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.cli.context import JSON_LINES_BATCH
from manifold_pipelines.cli.terminal import escape_controls
from manifold_tests.cli.conftest import Invoke, run_manifold
from manifold_tests.conftest import make_source

HOSTILE = "\x1b]0;pwned\x07 \x1b[2J\x9b31m\u202egnp.exe\x7f"
SHOWN = "\\u001b]0;pwned\\u0007 \\u001b[2J\\u009b31m\\u202egnp.exe\\u007f"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\x7f")


@pytest.fixture
def hostile_home(home: Path) -> Path:
    with SeparatedDatabaseManager(home) as manager:
        manager.create_project(name=f"Name {HOSTILE}", id="demo", description=HOSTILE)
        manager.create_data_source(
            "demo",
            name=f"API {HOSTILE}",
            type="javascript",
            id="api",
            config={"script": f"throw new Error({json.dumps(HOSTILE)});"},
        )
        manager.import_data("demo", "api", [{"id": 1, "note": "plain", HOSTILE: 1}])
        manager.import_data("demo", "api", [{"id": 1, "note": HOSTILE, HOSTILE: 2}])
    return home


def _manifold(home: Path, *args: str, code: int = 0) -> str:
    done = run_manifold(home, *args)
    assert done.returncode == code, done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("show", "demo/api"),
        ("show", "demo/api", "--format", "csv"),
        ("diff", "demo/api", "1", "2"),
        ("diff", "demo/api", "1", "2", "--format", "report"),
        ("history", "demo/api", "1"),
        ("project", "list"),
        ("source", "list"),
    ],
    ids=["show", "show-csv", "diff", "diff-report", "history", "project-list", "source-list"],
)
def test_control_characters_in_data_are_printed_as_escapes(
    hostile_home: Path, args: tuple[str, ...]
) -> None:
    output = _manifold(hostile_home, *args)
    assert not any(char in output for char in RAW), repr(output)
    assert "\\u001b]0;pwned" in output


def test_an_error_message_holding_data_is_escaped(hostile_home: Path) -> None:
    output = _manifold(hostile_home, "run", "demo/api", code=1)
    assert output.startswith("Error: ") and SHOWN in output
    assert not any(char in output for char in RAW)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_output_stays_valid_json_with_the_same_values(hostile_home: Path, fmt: str) -> None:
    output = _manifold(hostile_home, "show", "demo/api", "--format", fmt)
    assert not any(char in output for char in RAW)
    records = json.loads(output) if fmt == "json" else [json.loads(output)]
    assert records == [{"id": 1, "note": HOSTILE, HOSTILE: 2}]


def test_json_lines_are_written_in_batches_each_escaped_as_a_line_alone(
    home: Path, cli: Invoke
) -> None:
    """Lines go out a batch at a time, and only a batch holding a byte of a control is
    scanned: the output must still be each record's own escaped line, in order."""
    records = [{"id": n, "note": "café “quoted” 👍🏽"} for n in range(JSON_LINES_BATCH + 5)]
    records[3]["note"] = HOSTILE  # in the first batch
    records[JSON_LINES_BATCH + 2]["note"] = f"tail {HOSTILE}"  # in the last
    records[JSON_LINES_BATCH - 1]["note"] = "plain ascii"
    with SeparatedDatabaseManager(home) as manager:
        make_source(manager)
        manager.import_data("demo", "api", records)
    shown = cli("show", "demo/api", "--format", "jsonl").stdout_bytes
    expected = "".join(escape_controls(orjson.dumps(r).decode()) + "\n" for r in records)
    assert shown == expected.encode()
    assert [json.loads(line) for line in shown.splitlines()] == records


def test_tabs_and_newlines_are_kept_and_other_text_is_untouched() -> None:
    assert escape_controls("a\tb\nc é 日本 👍🏽") == "a\tb\nc é 日本 👍🏽"
    assert escape_controls(HOSTILE) == SHOWN


def test_a_file_name_in_the_progress_label_is_escaped(home: Path, tmp_path: Path) -> None:
    with SeparatedDatabaseManager(home) as manager:
        make_source(manager)
    records = tmp_path / f"{HOSTILE}.json"
    records.write_text('[{"id": 1}]')
    done = run_manifold(home, "import", "demo/api", str(records))
    assert done.returncode == 0, done.stderr
    assert f"Reading {SHOWN}.json" in done.stderr
    assert not any(char in done.stdout + done.stderr for char in RAW)


def test_a_file_name_in_a_usage_error_is_escaped(home: Path, tmp_path: Path) -> None:
    with SeparatedDatabaseManager(home) as manager:
        make_source(manager)
    records = tmp_path / f"{HOSTILE}.txt"
    records.write_text('[{"id": 1}]')
    done = run_manifold(home, "import", "demo/api", str(records))
    assert done.returncode == 2
    assert f"{SHOWN}.txt: use a .json, .jsonl or .csv file" in done.stderr
    assert not any(char in done.stdout + done.stderr for char in RAW)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("source", "delete", f"demo/{HOSTILE}"), "Data source id '\\x1b]0;pwned"),
        (("project", "delete", HOSTILE), "Project id '\\x1b]0;pwned"),
    ],
    ids=["source", "project"],
)
def test_a_delete_checks_the_id_before_asking_and_never_echoes_it_raw(
    home: Path, args: tuple[str, ...], words: str
) -> None:
    """The question used to print the id raw, before anything checked it."""
    with SeparatedDatabaseManager(home) as manager:
        make_source(manager)
    done = run_manifold(home, *args, input="y\n")
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"Error: {words}") and "is not allowed" in done.stderr
    assert "Delete" not in done.stdout
    assert not any(char in done.stdout + done.stderr for char in RAW)


def test_the_delete_question_still_guards_a_valid_id(home: Path) -> None:
    with SeparatedDatabaseManager(home) as manager:
        make_source(manager)
    kept = run_manifold(home, "source", "delete", "demo/api", input="n\n")
    assert kept.returncode == 1
    assert kept.stdout.startswith("Delete demo/api and every version of its data? [y/N]")
    with SeparatedDatabaseManager(home) as manager:
        assert [s.id for s in manager.list_data_sources()] == ["api"]


def test_a_key_that_was_never_there_is_named_escaped(hostile_home: Path) -> None:
    output = _manifold(hostile_home, "history", "demo/api", HOSTILE, code=1)
    assert output.startswith(f"Error: demo/api has no record with key {SHOWN} in the versions")
    assert not any(char in output for char in RAW)
