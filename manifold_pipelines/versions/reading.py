"""Reading a whole version back: its records, exactly as imported, in the order imported.

What a read cannot avoid is making the records' Python objects (orjson, ~0.7 s and most of
the page faults at a million records); everything else is kept to a few C-level calls: the
engine hands back all positions and parsed records at once (`Database.numbered_json`), and
they are put in position order (`in_position_order`).
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import compress, count, islice, repeat
from operator import gt
from typing import Any, TypeVar

from manifold_pipelines.db.database import Database

_ROWS_OF_VERSION = (
    "SELECT r.id, r.position, r.record FROM record_rows r LEFT JOIN record_ends e ON e.id = r.id"
    " WHERE r.first_version <= :v AND (e.last_version IS NULL OR e.last_version >= :v)"
)
_ROWS_IF_NONE_ENDED = "SELECT id, position, record FROM record_rows WHERE first_version <= :v"
"""The rows of a version when no row ended before it (a first version, any version of a
source whose imports only ever added): no row needs a probe of `record_ends`. Reading the
first of two versions of a million records took 1.20 s of CPU this way, 1.42 s before (with
the sort below)."""
_ROWS_IF_NONE_ENDS_LATER = (
    "SELECT r.id, r.position, r.record FROM record_rows r WHERE r.first_version <= :v AND {}"
)
"""The rows of a version when none of its rows ends later (the newest version, or one after
which imports only added): only whether a row ended matters, which SQLite tells from the
primary key alone (`Database.not_an_id_of`), 0.02 s a million rows less than joining the end
to read its version."""
_ENDS = (
    "SELECT EXISTS (SELECT 1 FROM record_ends WHERE last_version < :v),"
    " EXISTS (SELECT 1 FROM record_ends WHERE last_version >= :v)"
)
_SHORT_TAIL = 8
"""A tail out of order is merged into the ordered rows before it when it is at most an eighth
as long as they are; longer tails are sorted with the rest."""

_RUN_ROWS = 4096
"""Positions checked for order at a time (see _first_descent)."""

Item = TypeVar("Item")


def read_records(db: Database, version: int) -> list[Any]:
    """The records of `version`, inside the caller's read snapshot."""
    ended_before, ends_later = db.execute(_ENDS, {"v": version}).fetchone()
    if not ended_before:
        select = _ROWS_IF_NONE_ENDED
    elif ends_later:
        select = _ROWS_OF_VERSION
    else:
        select = _ROWS_IF_NONE_ENDS_LATER.format(db.not_an_id_of("r.id", "record_ends"))
    positions, records = db.numbered_json(select, {"v": version})
    try:
        return in_position_order(positions, records)
    except TypeError as exc:  # a position that is not a number
        raise db.damaged(f"a stored position is not a number: {exc}") from exc


def in_position_order(positions: list[int], items: list[Item]) -> list[Item]:
    """`items` sorted stably by their `positions`. SQLite hands rows over in id order, and
    ids grow with each import, so a version's rows are its oldest rows in order, then the few
    that later imports wrote (changed records, new ones): the ordered rows before the first
    descent are kept as they are, and only that tail is sorted and merged in by binary
    search. A million rows with 1.5% of them in the tail took 0.105 s to sort whole (a key
    call a row), and 0.048 s this way; with none out of order, 0.075 s and 0.013 s."""
    descent = _first_descent(positions)
    if descent is None:
        return items
    if (len(positions) - descent) * _SHORT_TAIL > descent:
        order = sorted(range(len(positions)), key=positions.__getitem__)
        return [items[index] for index in order]
    tail = sorted(range(descent, len(positions)), key=positions.__getitem__)
    # after the ordered rows of an equal position, as a stable sort puts the tail's later ids
    places = map(
        bisect_right,
        repeat(positions),
        map(positions.__getitem__, tail),
        repeat(0),
        repeat(descent),
    )
    merged: list[Item] = []
    done = 0
    for place, index in zip(places, tail, strict=True):
        merged += items[done:place]
        merged.append(items[index])
        done = place
    merged += items[done:descent]
    return merged


def _first_descent(positions: list[int]) -> int | None:
    """The index of the first position lower than the one before it, or None. A run of
    _RUN_ROWS is in order when it equals itself sorted, which the sort, C-level and near one
    comparison a row on ordered input, tells in a third of the time of comparing each pair
    through `map`; only the run that is not is looked into pair by pair."""
    for start in range(0, len(positions), _RUN_ROWS):
        if start and positions[start - 1] > positions[start]:
            return start
        run = positions[start : start + _RUN_ROWS]
        if run != sorted(run):
            return start + next(compress(count(1), map(gt, run, islice(run, 1, None))))
    return None
