"""Reading many JSON texts from SQLite a window of ids at a time (SqliteDatabase.numbered_json).

SQLite joins each window's numbers and JSON texts into two lists (both aggregates step over
the same rows in the same order), and one orjson call parses each as an array: no row tuple,
int or str is made per row. The brackets are added here, by one join: SQLite's
`'[' || ... || ']'` made two more copies of each text, each in memory fresh from the kernel
(a read of a million records took 0.04 s more CPU).

Windows are ranges of ids, so each query is a range of the primary key; paging by
`id > last ORDER BY id LIMIT n` instead costs a subquery that copies every row (0.08 s more
at a million rows). A window holds at most its width of rows (ids are unique); where rows
are sparse (a version's ended rows left out, rows that retention deleted) it widens, up to
_WIDEST_WINDOW, so each query still brings about JSON_CHUNK_ROWS, and after an empty one the
next starts at the next row.

A window's ended rows, when few, are handed over with the others and named by their place:
a range of the primary key is read in id order (a plan test holds it), so where the window
holds every id from its start to its greatest, an id's place is its distance from the start. Testing
each row instead (`NOT IN`, a descent of `record_ends`' b-tree a row) cost 0.11 s of SQLite's
CPU a million rows, and the whole read of the newest of two versions 0.06 s more. A window
with many ended rows, or after one with ids missing (as after retention), is read without
its ended rows; so is one found to miss ids, or to hold a row that does not read back (an
ended row may be damaged without harming the version), read again.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from manifold_pipelines.db.database import Database, NumberedJson
from manifold_pipelines.errors import StorageError

JSON_CHUNK_ROWS = 2048
"""Rows whose JSON SQLite joins into one list per query. A million rows fetched as tuples
(fetchmany) cost 0.45 s more CPU than in such chunks; chunks of 1,024 to 4,096 rows cost the
same, and at 32,768 (7 MB texts) each chunk's buffers come fresh from the kernel (60% more
page faults)."""
_WIDEST_WINDOW = 16 * JSON_CHUNK_ROWS
_FEW_ENDED = 8
"""A window's ended rows are handed over when at most one in this many: parsing more rows
than that costs more than testing each."""


class WindowQueries(NamedTuple):
    window: str  # count, greatest id, numbers and texts of the rows in (:after, :after + :width]
    without_ended: str  # the same, less the rows `ended` names
    ended_in_window: str  # ids `ended` names in the window, ascending, up to :most + 1
    before_next: str  # one less than the first id after :after


def window_queries(select: str, ended: str | None) -> WindowQueries:
    with_rows = f"WITH numbered(id, number, json) AS NOT MATERIALIZED ({select})"
    in_window = "id > :after AND id <= :after + :width"
    # The greatest id by a descent from the window's end: max(id) over every row cost 0.02 s
    # a million rows. Named twice, the rows would be copied whole into a temporary table for
    # each window, but for NOT MATERIALIZED (the plan test holds it).
    greatest = f"SELECT id FROM numbered WHERE {in_window} ORDER BY id DESC LIMIT 1"
    window = (
        f"{with_rows} SELECT count(*), ({greatest}), CAST(group_concat(number) AS BLOB),"
        f" CAST(group_concat(json) AS BLOB) FROM numbered WHERE {in_window}"
    )
    ended_ids = f"SELECT id FROM ({ended}) WHERE {in_window}" if ended else ""
    return WindowQueries(
        window=window,
        without_ended=f"{window} AND id NOT IN ({ended_ids})" if ended else window,
        ended_in_window=f"{ended_ids} ORDER BY id LIMIT :most + 1" if ended else "",
        before_next=f"{with_rows} SELECT min(id) - 1 FROM numbered WHERE id > :after",
    )


def read_in_windows(
    db: Database, select: str, params: Mapping[str, Any], ended: str | None
) -> NumberedJson:
    queries = window_queries(select, ended)
    read = NumberedJson([], [], [])
    (after,) = db.execute(queries.before_next, {**params, "after": -(1 << 63)}).fetchone()
    width = JSON_CHUNK_ROWS
    dense = True  # the last window held every id up to its greatest, as the next likely does
    while after is not None:
        bounds = {**params, "after": after, "width": width, "most": width // _FEW_ENDED}
        ends = [row[0] for row in db.execute(queries.ended_in_window, bounds)] if ended else []
        hand_over = bool(ends) and dense and len(ends) <= bounds["most"]
        left_out = bool(ends) and not hand_over
        count, last, numbers, texts = db.execute(
            queries.without_ended if left_out else queries.window, bounds
        ).fetchone()
        span = last - after if count else 0  # ids from the window's start to its greatest
        if len(ends) <= bounds["most"]:  # all of them: how many ids are missing is known
            dense = count + (len(ends) if left_out else 0) >= span
        ends = ends[: bisect_right(ends, after + span)]  # those past the greatest name no row
        hand_over = hand_over and bool(ends)
        if hand_over and count and (count != span or not _parsed(db, read, count, numbers, texts)):
            # ids missing, so places unknown; or a row does not read back, perhaps an ended one
            hand_over = False
            count, last, numbers, texts = db.execute(queries.without_ended, bounds).fetchone()
        if hand_over and count:
            read.left_out.extend(map((len(read.numbers) - count - after - 1).__add__, ends))
        elif count:
            _parse_window(db, read, count, numbers, texts)
        if count:
            after += width
        else:
            (after,) = db.execute(
                queries.before_next, {**bounds, "after": after + width}
            ).fetchone()
        width = min(_WIDEST_WINDOW, max(JSON_CHUNK_ROWS, width * JSON_CHUNK_ROWS // max(count, 1)))
    return read


def _parsed(db: Database, read: NumberedJson, count: int, numbers: bytes, texts: bytes) -> bool:
    try:
        _parse_window(db, read, count, numbers, texts)
    except StorageError:
        return False
    return True


def _parse_window(
    db: Database, read: NumberedJson, count: int, numbers: bytes, texts: bytes
) -> None:
    """Appends the window's numbers and parsed texts to `read`, refusing a window whose texts
    do not read back as exactly `count` values (a stored text holding a comma would shift
    every row after it against its number)."""
    try:
        window_numbers = orjson.loads(b"".join((b"[", numbers, b"]")))
        window_values = orjson.loads(b"".join((b"[", texts, b"]")))
    except orjson.JSONDecodeError as exc:
        raise db.damaged(f"a stored text is not JSON: {exc}") from exc
    if len(window_numbers) != count or len(window_values) != count:
        raise db.damaged("a stored text holds more than one JSON value")
    read.numbers.extend(window_numbers)
    read.values.extend(window_values)
