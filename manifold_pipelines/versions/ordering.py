"""Keeping every version in the order it was imported, through the rows' `position`.

A version reads back as its rows sorted by position. Rows an import leaves unchanged are
shared with older versions, so their positions never move: new rows get positions between
their kept neighbours (spaced POSITION_GAP apart, so there is room to insert), and a kept row
that the import moved elsewhere is rewritten at its new place as if it had changed. Positions
only need to be distinct within one version, so a new row may take the place of an ended one.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from heapq import merge
from itertools import groupby, islice

POSITION_GAP = 1 << 16
"""Room between the rows of a first import: 16 insertions at one spot before a neighbour has
to be rewritten to make more."""

ID_BITS = 63
_ID_MASK = (1 << ID_BITS) - 1


def pack(position: int, row_id: int) -> int:
    """A live row as one int that sorts by position: the scan keeps one per record, and an int
    costs less memory and time than a tuple."""
    return position << ID_BITS | row_id


def position_of(packed: int) -> int:
    return packed >> ID_BITS


def row_id_of(packed: int) -> int:
    return packed & _ID_MASK


@dataclass
class Placement:
    """Where an import's new rows go. `moved` are indices into the kept rows that must be
    rewritten at `moved_positions`; `positions` maps the index of a new row to its position,
    for the new rows whose provisional position (after every live row) is not final."""

    moved: list[int] = field(default_factory=list)
    moved_positions: list[int] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)


def place_rows(kept: list[int], slots: list[int]) -> Placement:
    """Place an import's rows. `kept` are the positions of the live rows it kept (distinct,
    as within any version), in import order;
    `slots[i]` is how many of them came before new row i (so it is non-decreasing).

    New rows after the last kept row keep their provisional positions, so an import that
    only appends or changes nothing in place writes no position at all.
    """
    if not kept:
        return Placement()
    in_order = _increasing(kept)
    if in_order and not slots:
        return Placement()
    moved = [] if in_order else _out_of_order(kept)
    while True:
        placement = _try_place(kept, slots, moved)
        if isinstance(placement, Placement):
            return placement
        moved = sorted({*moved, placement})  # no room before this kept row: rewrite it too


def _increasing(kept: list[int]) -> bool:
    return all(map(operator.lt, kept, islice(kept, 1, None)))


def _out_of_order(kept: list[int]) -> list[int]:
    """Indices outside one longest increasing run of positions: the fewest rows to rewrite."""
    tails: list[int] = []
    tail_index: list[int] = []
    previous = [-1] * len(kept)
    for index, value in enumerate(kept):
        at = bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[at] = value
            tail_index[at] = index
        previous[index] = tail_index[at - 1] if at else -1
    in_order = set()
    index = tail_index[-1]
    while index != -1:
        in_order.add(index)
        index = previous[index]
    return [index for index in range(len(kept)) if index not in in_order]


_Item = tuple[int, int, int]
"""(place among the kept rows, 0 for a new row or 1 for a moved one, its index)."""


def _try_place(kept: list[int], slots: list[int], moved: list[int]) -> Placement | int:
    """Positions for every new and moved row, or the index of a kept row that leaves no room
    before it (then it is moved too and placement starts again)."""
    moving = set(moved)
    anchors = [index for index in range(len(kept)) if index not in moving] if moved else None
    placement = Placement(moved=moved, moved_positions=[0] * len(moved))
    moved_rank = {index: rank for rank, index in enumerate(moved)}

    def anchor_after(place: int) -> int:
        """Rank of the first kept-in-place row at or after `place` among the kept rows."""
        return place if anchors is None else bisect_left(anchors, place)

    def anchor_position(rank: int) -> int | None:
        if rank < 0 or rank >= (len(kept) if anchors is None else len(anchors)):
            return None
        return kept[rank if anchors is None else anchors[rank]]

    items: Iterator[_Item] = merge(
        ((slot, 0, index) for index, slot in enumerate(slots)),
        ((index, 1, index) for index in moved),
    )
    for rank, run in groupby(items, key=lambda item: anchor_after(item[0])):
        group = list(run)
        low, high = anchor_position(rank - 1), anchor_position(rank)
        if high is None and all(kind == 0 for _, kind, _ in group):
            continue  # after the last kept row: the provisional positions are in order
        positions = _spread(low, high, len(group))
        if positions is None:
            return anchors[rank] if anchors is not None else rank
        for (_, kind, index), position in zip(group, positions, strict=True):
            if kind == 0:
                placement.positions[index] = position
            else:
                placement.moved_positions[moved_rank[index]] = position
    return placement


def _spread(low: int | None, high: int | None, count: int) -> list[int] | None:
    """`count` positions strictly between `low` and `high` (either may be open), or None."""
    if high is None:
        start = -POSITION_GAP if low is None else low
        return [start + POSITION_GAP * (step + 1) for step in range(count)]
    if low is None:
        return [high - POSITION_GAP * (count - step) for step in range(count)]
    if high - low - 1 < count:
        return None
    step = (high - low) // (count + 1)
    return [low + step * (index + 1) for index in range(count)]
