"""How one CSV cell's text becomes a value. Each value is read on its own, never from other
rows or files, so the same text is the same value in every row and every version; and only
plain ASCII decimal forms are numbers (`str.isdigit` and `float()` also take '²', '١٢',
'1_000' and ' 7')."""

from __future__ import annotations

import math
import re

from manifold_pipelines.core.source_config import ColumnType

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
