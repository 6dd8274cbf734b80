"""Statements written once for both engines, in psycopg's placeholders.

The SQL above the engine layer takes `?` and `:name` parameters, as sqlite3 does; psycopg
takes `%s` and `%(name)s`, and reads every other `%` as the start of one.
"""

from __future__ import annotations

import re
from functools import lru_cache

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|:([A-Za-z_]\w*)|\?|%")


@lru_cache(maxsize=1024)
def translate(statement: str) -> str:
    """A statement written for both engines (`?` and `:name` parameters) in psycopg's
    placeholders; quoted text and `::` casts are left alone, and a literal % is doubled."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if match.group(1) is not None:
            return f"%({match.group(1)})s"
        return token

    return _TOKENS.sub(replace, statement)
