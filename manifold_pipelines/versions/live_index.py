"""The previous version's rows as arrays, probed by an import's content hashes a batch at a time.

A snapshot import asks of every record whether its content hash is a live row's. As a dict
of a million 16-byte keys that cost 0.73 s to build from the rows (a tuple, a bytes object
and two ints per row) and about 0.4 s more of cache misses to probe: over half of an import
that changes 1% of a million records. Here the rows come from one aggregate query as three
concatenated values that become arrays with no Python object per row (0.3 s), and a batch of
digests is looked up at once by binary search over the hashes' first halves, sorted once.
The rows read may include ended ones, named apart (see VersionWrites.live_rows_concatenated),
which are left out of the search.

numpy is imported here, and this module only when a snapshot import has a version to
compare with, so that starting the `manifold` command does not pay for it.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from manifold_pipelines.errors import StorageError
from manifold_pipelines.versions.ordering import POSITION_GAP, Placement

DIGEST_BYTES = 16
_POSITION_LIMIT = 1 << 62

Indexes = NDArray[np.intp]


class Batch(NamedTuple):
    """Offsets into a batch of records: the `new` ones (not live rows), how many records of
    the whole import were kept before each of those, and those `repeated`."""

    new: list[int]
    kept_before: list[int]
    repeated: list[int]


class LiveRows:
    """The rows of the newest version: id, position and content hash, in one row order
    (with the ended rows read among them, which no lookup finds); `take` marks the rows an
    import keeps, so that the rest are the rows it ended."""

    def __init__(
        self, hashes: bytes, ids: str, positions: str, where: str, not_live: str = ""
    ) -> None:
        """`hashes` are the rows' digests end to end; `ids` and `positions` their integers
        as comma-separated text, in the same order; `not_live` the ids of rows among them to
        leave out (rows a version ended), in any order. A hash is a row's content's, kept so as
        not to hash every row again: rows whose hashes are wrong (damaged, or of a file in
        another text encoding) match no record, so their records are written again as new
        rows, and what is stored and diffed stays right; rows that do not line up at all are
        refused."""
        try:
            self.ids, self.positions = _integers(ids), _integers(positions)
            dropped = _integers(not_live)
        except ValueError:
            whole = False
        else:
            count = len(self.ids)
            whole = len(hashes) == DIGEST_BYTES * count and len(self.positions) == count
        if not whole:
            raise StorageError(
                f"{where}: the newest version's rows do not read back whole (a row's hash is"
                " not 16 bytes, or its id or position not an integer): the file is damaged."
                " Nothing was imported; restore the file from a backup."
            )
        high, self._low = _halves(hashes)
        # Rows not live stay in the arrays (taking them out of four cost 0.04 s a million),
        # but out of the search order, and count as taken: never matched, never ended again.
        self._not_live = np.isin(self.ids, dropped)
        self._order = np.argsort(high)
        if len(dropped):
            self._order = self._order[~self._not_live[self._order]]
        self._sorted_high = high[self._order]
        self._taken = self._not_live.copy()
        self._kept: list[Indexes] = []
        self._kept_count = 0

    def top_position(self) -> int | None:
        live = self.positions[~self._not_live]
        return int(live.max()) if len(live) else None

    def take(self, digests: bytes) -> Batch:
        """Look up a batch of records by their concatenated `digests`, in import order: the
        live rows they match are kept, unless an earlier record took the same row (the same
        record twice, so its key repeats); the others are new."""
        rows = self._find(*_halves(digests))
        hits = np.flatnonzero(rows >= 0)
        hit_rows = rows[hits]
        again = self._taken[hit_rows] | _repeated(hit_rows)
        self._taken[hit_rows] = True
        kept_at = hits[~again]
        self._kept.append(hit_rows[~again])
        new = np.flatnonzero(rows < 0)
        batch = Batch(
            new=new.tolist(),
            kept_before=(np.searchsorted(kept_at, new) + self._kept_count).tolist(),
            repeated=hits[again].tolist(),
        )
        self._kept_count += len(kept_at)
        return batch

    def _find(self, high: NDArray[np.uint64], low: NDArray[np.uint64]) -> Indexes:
        """The row of each digest, or -1."""
        rows = np.full(len(high), -1, dtype=np.intp)
        if not len(self._sorted_high):
            return rows
        # in ascending order each search starts where the last one ended: 3 times faster
        ascending = np.argsort(high)
        at = np.empty(len(high), dtype=np.intp)
        at[ascending] = np.searchsorted(self._sorted_high, high[ascending])
        inside = at < len(self._sorted_high)
        at[~inside] = 0
        same_high = inside & (self._sorted_high[at] == high)
        candidates = self._order[at]
        found = same_high & (self._low[candidates] == low)
        rows[found] = candidates[found]
        for index in np.flatnonzero(same_high & ~found):
            rows[index] = self._shared_high(int(at[index]), high[index], low[index])
        return rows

    def _shared_high(self, at: int, high: np.uint64, low: np.uint64) -> int:
        """The row whose hash is (`high`, `low`) among the rows from `at` on that share its
        first half (two hashes of a million rows share one with odds of 1 in 3.7e7), or -1."""
        while at < len(self._sorted_high) and self._sorted_high[at] == high:
            row = int(self._order[at])
            if self._low[row] == low:
                return row
            at += 1
        return -1

    def ended_ids(self) -> list[int]:
        """The ids of the rows no record took."""
        return self.ids[~self._taken].tolist()  # type: ignore[no-any-return]

    def kept(self) -> tuple[list[int], list[int]]:
        """The positions and ids of the rows the import kept, in import order."""
        rows = self._kept_rows()
        return self.positions[rows].tolist(), self.ids[rows].tolist()

    def place_in_order(self, slots: list[int]) -> Placement | None:
        """Where the import's new rows go (see spread_in_order), or None when that takes
        ordering.place_rows."""
        return spread_in_order(self.positions[self._kept_rows()], slots)

    def _kept_rows(self) -> Indexes:
        return np.concatenate(self._kept) if self._kept else np.zeros(0, np.intp)


def spread_in_order(kept: NDArray[np.int64], slots: list[int]) -> Placement | None:
    """ordering.place_rows in whole-array steps, for the common case: the kept rows' positions
    `kept` (in import order) increase, and each gap between two of them has room for the new
    rows that go there (new row i after `slots[i]` kept rows). Then nothing moves, and the
    new rows before the last kept row get the positions `_spread` gives them: spread evenly
    over their gap, or POSITION_GAP apart below the first kept row. A row at a time, that cost
    3 us a new row (0.05 s for 15,000), after making a list of the million kept positions
    (0.04 s). None in any other case."""
    if not len(kept) or not bool(np.all(kept[1:] > kept[:-1])):
        return None
    if kept[0] <= -_POSITION_LIMIT or kept[-1] >= _POSITION_LIMIT:
        return None  # two positions could be 2**63 apart, which int64 wraps; Python's ints do not
    slot = np.asarray(slots, dtype=np.int64)
    placed = np.flatnonzero(slot < len(kept))  # after the last kept row they stay as they are
    slot = slot[placed]
    if not len(slot):
        return Placement()
    starts = np.r_[True, slot[1:] != slot[:-1]]  # each gap's new rows are a run: slots ascend
    first = np.flatnonzero(starts)
    group = np.cumsum(starts) - 1
    count = np.diff(np.r_[first, len(slot)])[group]
    rank = np.arange(len(slot)) - first[group]
    high = kept[slot]
    low = kept[np.maximum(slot - 1, 0)]
    inner = slot > 0
    if bool(np.any(inner & (high - low - 1 < count))):
        return None
    step = (high - low) // (count + 1)
    positions = np.where(inner, low + step * (rank + 1), high - POSITION_GAP * (count - rank))
    return Placement(positions=dict(zip(placed.tolist(), positions.tolist(), strict=True)))


def _repeated(rows: Indexes) -> NDArray[np.bool_]:
    """Which of `rows` an earlier one in the list names too."""
    repeated = np.zeros(len(rows), dtype=np.bool_)
    ordered = np.sort(rows)
    if len(rows) and (ordered[1:] == ordered[:-1]).any():  # np.unique sorts again: rarely
        _, first = np.unique(rows, return_index=True)
        repeated[:] = True
        repeated[first] = False
    return repeated


def _halves(digests: bytes) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """The digests' first and second halves, each read as an integer in the machine's byte
    order. Their order is not the bytes' order, and need not be: the halves are only searched
    and compared for equality, on one machine. Big-endian halves cost a byte swap at every
    comparison (sorting a million took four times as long), and converting them to native
    ones 0.03 s a million."""
    halves = np.frombuffer(digests, dtype=np.uint64).reshape(-1, 2)
    return halves[:, 0].copy(), halves[:, 1].copy()


def _integers(text: str) -> NDArray[np.int64]:
    """Comma-separated integers; ValueError for anything else (numpy only warns, and stops
    at the first value it cannot read)."""
    if not text:
        return np.zeros(0, np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=np.int64, sep=",")
        except DeprecationWarning as exc:
            raise ValueError(str(exc)) from exc
