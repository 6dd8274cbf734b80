"""Data reaches the terminal through the CLI, and a terminal obeys control characters: a
record value holding `ESC ]0;...BEL` retitles the window, `ESC [2J` clears it, a bidi
override reorders what is read. Every command prints such characters as visible `\\uXXXX`
escapes instead, and JSON output stays valid JSON holding the same values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.cli.terminal import escape_controls
from manifold_tests.cli.conftest import run_manifold

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


def test_tabs_and_newlines_are_kept_and_other_text_is_untouched() -> None:
    assert escape_controls("a\tb\nc é 日本 👍🏽") == "a\tb\nc é 日本 👍🏽"
    assert escape_controls(HOSTILE) == SHOWN
