"""The diff and history tables exist to show what changed, so a change must never print as
no change: the string "42" and the number 42 are different values (the diff counts the
record modified), and so are null and a missing field. Their values print as JSON, a
missing side as (absent), and keys as `manifold history` takes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.cli.conftest import run_manifold, table_rows
from manifold_tests.conftest import make_source


@pytest.fixture
def changed_types(home: Path) -> Path:
    with SeparatedDatabaseManager(home) as manager:
        make_source(manager)
        manager.import_data("demo", "api", [{"id": 1, "code": 42, "note": None, "gone": ""}])
        manager.import_data("demo", "api", [{"id": 1, "code": "42", "note": "", "new": 0}])
    return home


def _manifold(home: Path, *args: str) -> str:
    done = run_manifold(home, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_diff_table_tells_a_string_from_a_number(changed_types: Path) -> None:
    output = _manifold(changed_types, "diff", "demo/api", "1", "2")
    rows = {
        cells[2]: (cells[1], cells[3], cells[4])
        for line in output.splitlines()
        if (cells := [cell.strip() for cell in line.split("│")[1:-1]]) and cells[0] == "modified"
    }
    assert rows == {
        "code": ("1", "42", '"42"'),
        "note": ("1", "null", '""'),
        "gone": ("1", '""', "(absent)"),
        "new": ("1", "(absent)", "0"),
    }


def test_the_history_table_tells_a_string_from_a_number(changed_types: Path) -> None:
    rows = table_rows(_manifold(changed_types, "history", "demo/api", "1"))
    changes = {row["FIELD"]: row["OLD -> NEW"] for row in rows if row["FIELD"]}
    assert changes == {
        "code": '42 -> "42"',
        "note": 'null -> ""',
        "gone": '"" -> (absent)',
        "new": "(absent) -> 0",
    }


def test_a_key_in_the_diff_table_is_written_as_history_takes_it(home: Path) -> None:
    with SeparatedDatabaseManager(home) as manager:
        make_source(manager, diffKey=["region", "n"])
        manager.import_data("demo", "api", [{"region": "eu", "n": 7, "v": 1}])
        manager.import_data("demo", "api", [{"region": "eu", "n": 7, "v": 2}])
    output = _manifold(home, "diff", "demo/api", "1", "2")
    assert '│ modified │ ["eu",7] │ v     │ 1   │ 2   │' in output
    history = table_rows(_manifold(home, "history", "demo/api", '["eu",7]'))
    assert [row["OLD -> NEW"] for row in history if row["FIELD"]] == ["1 -> 2"]
