"""Fetched bodies, held by the sandbox child so that records a script only passes from
`r.json()` to `emit()` reach the host as the bytes it fetched, parsed once by orjson there,
instead of being parsed by QuickJS, serialised again and sent as text.

The child keeps the bodies it handed the script, the latest few within a byte budget. When the
script asks for a body's JSON, the child parses it and answers its envelope: the value with
each list of records in it (the body itself, or a list one or two objects deep) left out and
numbered, which the prelude (fetched.js) turns into an array standing for those records
until the script looks inside it. Emitting such an untouched array sends the body, with the
path to the list, to the host. A body takes this path only when orjson reads exactly the
values JSON.parse then JSON.stringify would hand the host: no number JavaScript would change
(an integral float, an integer beyond 2**53) and no key it would move (an array index).
Every other body takes the ordinary path, as all did before.

The child loads this module from its own folder: it imports nothing of Manifold.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple

import orjson

# Integers JavaScript holds exactly: JSON.parse rounds any other.
_EXACT = 2**53


class RecordList(NamedTuple):
    fetch: int
    path: tuple[str, ...]
    length: int


# Bodies held at most: a script pages through them one by one, or emits a few fetched
# together; each one held is memory the script cannot use.
HELD_BODIES = 4


class FetchedBodies:
    """The bodies a run fetched, the latest HELD_BODIES within `budget` bytes, and the record
    lists found in them. Bodies are held as bytes only: parsed, they would take several times
    the memory."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._bodies: OrderedDict[int, bytes] = OrderedDict()
        self._held = 0
        self._fetches = 0
        self._lists: list[RecordList] = []

    def keep(self, body: bytes) -> int:
        """Hold `body`, dropping the oldest past the budget; the number the script gets."""
        self._fetches += 1
        self._bodies[self._fetches] = body
        self._held += len(body)
        while self._held > self.budget or len(self._bodies) > HELD_BODIES:
            _, oldest = self._bodies.popitem(last=False)
            self._held -= len(oldest)
        return self._fetches

    def envelope(self, fetch: int) -> dict[str, Any] | None:
        """The body's JSON with null for each of its record lists, and each list's number,
        path and length; None when the body takes the ordinary path."""
        body = self._bodies.get(fetch)
        if body is None:
            return None
        try:
            value = orjson.loads(body)
            if not _same_in_javascript(value):
                return None
        except (orjson.JSONDecodeError, RecursionError, MemoryError):
            return None
        found = _take_record_lists(value)
        if not found:
            return None
        lists = []
        for path, records in found:
            self._lists.append(RecordList(fetch, path, len(records)))
            lists.append([len(self._lists), list(path), len(records)])
        return {"value": None if found[0][0] == () else value, "lists": lists}

    def taken(self, number: int) -> tuple[RecordList, bytes] | None:
        """The list numbered `number` and the body holding it; None once the body was
        dropped (the script's own copy of the records is then sent instead)."""
        if not 0 < number <= len(self._lists):
            raise ValueError(f"no record list numbered {number}")
        found = self._lists[number - 1]
        body = self._bodies.get(found.fetch)
        return None if body is None else (found, body)


def _take_record_lists(value: Any) -> list[tuple[tuple[str, ...], list[Any]]]:
    """Each list of objects in `value` (the value itself, or a value of an object one or two
    levels deep) with its path, left out of `value` (null in its place)."""
    paths = _record_list_paths(value)
    if paths == [()]:
        return [((), value)]
    found = []
    for path in paths:
        holder = value
        for key in path[:-1]:
            holder = holder[key]
        found.append((path, holder[path[-1]]))
        holder[path[-1]] = None
    return found


def _record_list_paths(value: Any) -> list[tuple[str, ...]]:
    """Where the lists of objects are: the value itself, or a value of an object one or two
    levels deep."""
    if isinstance(value, list):
        return [()] if _records(value) else []
    paths: list[tuple[str, ...]] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list) and _records(inner):
                paths.append((key,))
            elif isinstance(inner, dict):
                paths.extend(
                    (key, deeper_key)
                    for deeper_key, deeper in inner.items()
                    if isinstance(deeper, list) and _records(deeper)
                )
    return paths


def _records(items: list[Any]) -> bool:
    return bool(items) and all(type(item) is dict for item in items)


def _same_in_javascript(value: Any) -> bool:
    """Whether JSON.parse then JSON.stringify give back what orjson read: every number one
    JavaScript keeps as it is (an integer it holds exactly, a float with a fraction), and no
    key it would move ahead of the others (an array index). Strings, booleans and null are
    tested first: they are most of any body."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_EXACT < value < _EXACT)
    if kind is float:
        return not value.is_integer()
    if kind is list:
        return all(map(_same_in_javascript, value))
    for key, inner in value.items():
        if key.isdigit() and key.isascii():
            return False
        kind = type(inner)
        if kind is str or kind is bool or inner is None:
            continue
        if not _same_in_javascript(inner):
            return False
    return True
