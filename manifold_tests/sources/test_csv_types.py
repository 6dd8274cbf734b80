"""A CSV value's type comes from the value alone: the same text in the same column is the same
value in every row and every file. Otherwise one new decimal somewhere marks unchanged rows
as modified (5 -> 5.0), or re-keys the whole source. Only plain ASCII decimal forms are numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import SourceRunError


def _csv_source(manager: SeparatedDatabaseManager, path: Path, **config: object) -> None:
    manager.create_project(name="Files", id="files")
    manager.create_data_source(
        "files", name="f", type="csv", id="f", config={"path": str(path), **config}
    )


def _import(manager: SeparatedDatabaseManager, path: Path, text: str) -> None:
    path.write_text(text)
    manager.run_data_source("files", "f")


def test_a_decimal_in_another_row_leaves_unchanged_rows_unchanged(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    path = home / "t.csv"
    path.write_text("id,x\n1,5\n2,6\n")
    _csv_source(manager, path)
    manager.run_data_source("files", "f")
    _import(manager, path, "id,x\n1,5\n2,6.5\n")
    diff = manager.get_data_diff("files", "f", 1, 2)
    assert (diff.added, diff.removed, diff.modified) == (0, 0, 1)
    assert manager.get_latest_data("files", "f").data == [{"id": 1, "x": 5}, {"id": 2, "x": 6.5}]


def test_a_decimal_in_the_key_column_does_not_rekey_every_row(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    path = home / "t.csv"
    path.write_text("id,x\n1,a\n2,b\n")
    _csv_source(manager, path)
    manager.run_data_source("files", "f")
    _import(manager, path, "id,x\n1,a\n2,b\n2.5,c\n")
    diff = manager.get_data_diff("files", "f", 1, 2)
    assert (diff.added, diff.removed, diff.modified) == (1, 0, 0)


def test_only_plain_ascii_decimal_forms_are_numbers(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    values = {
        "int": ("42", 42),
        "negative": ("-7", -7),
        "zero": ("0", 0),
        "decimal": ("-0.5", -0.5),
        "exponent": ("1e3", 1000.0),
        "leading_zero": ("007", "007"),
        "plus": ("+5", "+5"),
        "underscore": ("1_000", "1_000"),
        "padded": ('" 7"', " 7"),
        "arabic_indic": ("١٢", "١٢"),
        "superscript": ("²", "²"),
        "fullwidth": ("\uff11\uff12", "\uff11\uff12"),
        "huge": ("1e400", "1e400"),
        "nan": ("nan", "nan"),
        "infinity": ("Infinity", "Infinity"),
        "hex": ("0x10", "0x10"),
        "bare_point": (".5", ".5"),
        "beyond_64_bits": ("99999999999999999999", "99999999999999999999"),
        "flag": ("true", True),
        "empty": ("", None),
    }
    path = home / "t.csv"
    path.write_text(
        "id," + ",".join(values) + "\n1," + ",".join(text for text, _ in values.values()) + "\n",
        encoding="utf-8",
    )
    _csv_source(manager, path)
    manager.run_data_source("files", "f")
    (record,) = manager.get_latest_data("files", "f").data
    got = {name: (record[name], type(record[name])) for name in values}
    assert got == {name: (value, type(value)) for name, (_, value) in values.items()}


@pytest.mark.parametrize(
    ("declared", "text"),
    [("number", "1_000"), ("number", "١٢"), ("integer", "²"), ("number", "nan")],
)
def test_a_declared_numeric_column_refuses_what_is_not_an_ascii_number(
    manager: SeparatedDatabaseManager, home: Path, declared: str, text: str
) -> None:
    path = home / "t.csv"
    path.write_text(f"id,x\n1,{text}\n", encoding="utf-8")
    _csv_source(manager, path, columns={"x": declared})
    with pytest.raises(SourceRunError, match=rf"line 2 column 'x': '{text}' is not an? {declared}"):
        manager.run_data_source("files", "f")


def test_a_declared_column_type_is_honoured_for_every_value(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    path = home / "t.csv"
    path.write_text("id,zip,price\n1,007,5\n2,010,6.5\n")
    _csv_source(manager, path, columns={"zip": "integer", "price": "number", "id": "string"})
    manager.run_data_source("files", "f")
    assert manager.get_latest_data("files", "f").data == [
        {"id": "1", "zip": 7, "price": 5.0},
        {"id": "2", "zip": 10, "price": 6.5},
    ]
