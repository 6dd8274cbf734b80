"""Reading CSV text into records: the one parser behind CSV sources and `manifold import`,
so the same file gives the same records either way.

Each value is read on its own, never from other rows or files, so the same text is the same
value in every row and every version; and only plain ASCII decimal forms are numbers
(`str.isdigit` and `float()` also take '²', '١٢', '1_000' and ' 7')."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from manifold_pipelines.core.source_config import ColumnType, CsvConfig
from manifold_pipelines.errors import RecordsError


class CsvFormatError(RecordsError):
    """A CSV line that does not fit its header, or a value that is not its column's type."""


def csv_rows(
    text: str,
    *,
    delimiter: str = ",",
    columns: Mapping[str, ColumnType] | None = None,
    infer_types: bool = True,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a CSV text with a header row, each with the number of the line it ends on.
    An empty cell is null; a declared column converts or names the bad value; other values
    are typed each on its own (`infer_types`) or stay text."""
    declared = columns or {}
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    for row in reader:
        if None in row:
            raise CsvFormatError(
                f"CSV line {reader.line_num} has more fields than the header. Check the"
                f" delimiter ({delimiter!r}) and quoting."
            )
        yield (
            reader.line_num,
            {
                name: _cell(value, declared.get(name), infer_types, name, reader.line_num)
                for name, value in row.items()
            },
        )


def csv_records(
    text: str,
    *,
    delimiter: str = ",",
    columns: Mapping[str, ColumnType] | None = None,
    infer_types: bool = True,
) -> Iterator[dict[str, Any]]:
    """Records of a CSV text with a header row, read as `csv_rows` reads them."""
    rows = csv_rows(text, delimiter=delimiter, columns=columns, infer_types=infer_types)
    return (record for _, record in rows)


def csv_source_rows(text: str, config: CsvConfig) -> Iterator[tuple[int, dict[str, Any]]]:
    """Records of a CSV text, with their line numbers, as the CSV source with `config`
    reads its file."""
    return csv_rows(
        text, delimiter=config.delimiter, columns=config.columns, infer_types=config.infer_types
    )


def csv_source_records(text: str, config: CsvConfig) -> Iterator[dict[str, Any]]:
    """Records of a CSV text read as the CSV source with `config` reads its file."""
    return (record for _, record in csv_source_rows(text, config))


def _cell(value: str | None, declared: ColumnType | None, infer: bool, name: str, line: int) -> Any:
    if value is None or value == "":
        return None
    if declared is None:
        return inferred_value(value) if infer else value
    try:
        return declared_value(value, declared)
    except ValueError as exc:
        article = "an" if declared[:1] in "aeiou" else "a"
        raise CsvFormatError(
            f"CSV line {line} column {name!r}: {value!r} is not {article} {declared}. Fix the"
            " value or the column's declared type."
        ) from exc


CsvValue = str | int | float | bool

# Read without a declared type: JSON's own number forms, so no leading zeros (postcodes and
# ids such as 007 stay text) and no '+' (phone numbers stay text).
_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# A declared column asks for its type, so a sign and leading zeros are read too.
_DECLARED_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECLARED_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Records are stored as JSON through orjson, which holds 64-bit integers.
_INT64 = range(-(2**63), 2**63)
_BOOLEANS = {"true": True, "false": False}
_DECLARED_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def inferred_value(text: str) -> CsvValue:
    """An integer literal within 64 bits is an int, a decimal or exponent literal a finite
    float, `true`/`false` (any case) a bool, and anything else stays the text as written."""
    if _INTEGER.fullmatch(text):
        integer = int(text)
        return integer if integer in _INT64 else text
    if _DECIMAL.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else text
    return _BOOLEANS.get(text.lower(), text)


def declared_value(text: str, declared: ColumnType) -> CsvValue:
    """`text` as the column's declared type; ValueError when it is not one."""
    if declared == "string":
        return text
    if declared == "integer" and _DECLARED_INTEGER.fullmatch(text):
        integer = int(text)
        if integer in _INT64:
            return integer
    if declared == "number" and _DECLARED_NUMBER.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    if declared == "boolean" and text.lower() in _DECLARED_BOOLEANS:
        return _DECLARED_BOOLEANS[text.lower()]
    raise ValueError(text)
