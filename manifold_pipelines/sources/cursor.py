"""A file source's `cursorField`: the rows past the committed cursor, and the next cursor.

A cursor is a number or a text, and one field compares one way: numbers as numbers (so 10
follows 9), text character by character (so ISO dates and times sort in time order). A row
without a value there is refused, not skipped or let through: either would move the cursor
past data that was never read, or read it again at every import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

from manifold_pipelines.errors import ManifoldError

Kind = Literal["number", "text"]
_PLURAL = {"number": "numbers", "text": "text"}
_ONE = {"number": "a number", "text": "text"}


class CursorError(ManifoldError):
    """A row or a committed cursor that cannot be compared by the source's cursorField."""


def _shown(value: Any) -> str:
    """A value as the file and the state hold it: JSON."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def kind_of(value: Any) -> Kind | None:
    """ "number" or "text", or None for a value that cannot be a cursor (bool, null, list)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    return None


class CursorField:
    """Decides row by row whether a record is past the committed cursor, and keeps the
    greatest value seen. `hint` ends a refusal of a row whose value is not of the field's
    kind (how to fix it for this source type)."""

    def __init__(self, field: str, state: Mapping[str, Any], hint: str) -> None:
        self.field = field
        self.hint = hint
        self.start = state.get("cursor")
        self.kind: Kind | None = None
        if self.start is not None:
            self.kind = kind_of(self.start)
            if self.kind is None:
                raise CursorError(
                    f"the state's cursor {_shown(self.start)} is neither a number nor text, so"
                    f" rows cannot be compared with it by cursorField {field!r}. Set the cursor"
                    " to a value of that field (manifold state --set) or reset the state."
                )
        self.greatest = self.start
        self.read = 0
        self.passed = 0

    def passes(self, record: Any, where: str) -> bool:
        """Whether `record` (found at `where`, such as "CSV line 7") is past the cursor."""
        if not isinstance(record, dict):
            raise CursorError(
                f"{where} is not an object, so it has no cursorField {self.field!r}. Each"
                " record must be an object."
            )
        value = record.get(self.field)
        if value is None:
            missing = "no field" if self.field not in record else "an empty or null"
            raise CursorError(
                f"{where} has {missing} {self.field!r}, its cursorField. Every row needs a value"
                " there to be compared with the cursor: fill it in, or choose a field that every"
                " row has."
            )
        kind = kind_of(value)
        if kind is None:
            raise CursorError(
                f"{where}: cursorField {self.field!r} is {_shown(value)}, neither a number nor"
                f" text. {self.hint}"
            )
        if self.kind is None:
            self.kind = kind
        elif kind != self.kind:
            raise self._mixed(value, kind, self.kind, where)
        self.read += 1
        if self.greatest is None or value > self.greatest:
            self.greatest = value
        if self.start is not None and not value > self.start:
            return False
        self.passed += 1
        return True

    def _mixed(self, value: Any, kind: Kind, expected: Kind, where: str) -> CursorError:
        """A value of another kind than the committed cursor's, or than the rows before it."""
        if self.read == 0:
            return CursorError(
                f"the state's cursor {_shown(self.start)} is {_ONE[expected]}, but"
                f" cursorField {self.field!r} holds {_PLURAL[kind]} ({where}: {_shown(value)})."
                f" Set the cursor to {_ONE[kind]} (manifold state --set) or reset the state to"
                " read every row."
            )
        return CursorError(
            f"{where}: cursorField {self.field!r} is {_shown(value)} ({kind}), but the rows"
            f" before it hold {_PLURAL[expected]}; one cursor field compares one way."
            f" {self.hint}"
        )

    def final_state(self, state: Mapping[str, Any]) -> dict[str, Any]:
        """`state` with the greatest value seen as its cursor (unchanged when no row was
        read)."""
        if self.greatest is None:
            return dict(state)
        return {**state, "cursor": self.greatest}

    def summary(self) -> str:
        return (
            f"cursorField {self.field!r}: {self.passed:,} of {self.read:,} rows past cursor"
            f" {_shown(self.start)}; cursor now {_shown(self.greatest)}"
        )
