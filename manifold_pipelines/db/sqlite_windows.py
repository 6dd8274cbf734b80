"""Reading many JSON texts from SQLite a window of ids at a time (SqliteDatabase.numbered_json).

SQLite joins each window's numbers and JSON texts into two lists (both aggregates step over
the same rows in the same order), and one orjson call parses each as an array: no row tuple,
int or str is made per row. The brackets are added here, by one join: SQLite's
`'[' || ... || ']'` made two more copies of each text, each in memory fresh from the kernel
(a read of a million records took 0.04 s more CPU).

Windows are ranges of ids, so each query is a range of the primary key; paging by
`id > last ORDER BY id LIMIT n` instead costs a subquery that copies every row (0.08 s more
at a million rows). A window holds at most its width of rows (ids are unique); where rows
are sparse (ended by later versions) it widens, up to _WIDEST_WINDOW, so each query still
brings about JSON_CHUNK_ROWS, and after an empty one the next starts at the next row.

A window's ended rows, when few, are handed over with the others and named by their place:
a range of the primary key is read in id order (a plan test holds it), so where the window
holds every id of its range, an id's place is its distance from the range's start. Testing
each row instead (`NOT IN`, a descent of `record_ends`' b-tree a row) cost 0.11 s of SQLite's
CPU a million rows, and the whole read of the newest of two versions 0.06 s more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

from manifold_pipelines.db.database import Database, NumberedJson

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
    window: str  # count, numbers and texts of the rows in (:after, :after + :width]
    without_ended: str  # the same, less the rows `ended` names
    ended_in_window: str  # ids `ended` names in the window, ascending
    before_next: str  # one less than the first id after :after


def window_queries(select: str, ended: str | None) -> WindowQueries:
    with_rows = f"WITH numbered(id, number, json) AS ({select})"
    in_window = "id > :after AND id <= :after + :width"
    window = (
        f"{with_rows} SELECT count(*), CAST(group_concat(number) AS BLOB),"
        f" CAST(group_concat(json) AS BLOB) FROM numbered WHERE {in_window}"
    )
    ended_in_window = f"SELECT id FROM ({ended}) WHERE {in_window} ORDER BY id" if ended else ""
    return WindowQueries(
        window=window,
        without_ended=f"{window} AND id NOT IN ({ended_in_window})" if ended else window,
        ended_in_window=ended_in_window,
        before_next=f"{with_rows} SELECT min(id) - 1 FROM numbered WHERE id > :after",
    )


def read_in_windows(
    db: Database, select: str, params: Mapping[str, Any], ended: str | None
) -> NumberedJson:
    queries = window_queries(select, ended)
    read = NumberedJson([], [], [])
    (after,) = db.execute(queries.before_next, {**params, "after": -(1 << 63)}).fetchone()
    width = JSON_CHUNK_ROWS
    while after is not None:
        bounds = {**params, "after": after, "width": width}
        ends = [row[0] for row in db.execute(queries.ended_in_window, bounds)] if ended else []
        handed_over = len(ends) * _FEW_ENDED <= width
        count, numbers, texts = db.execute(
            queries.window if handed_over else queries.without_ended, bounds
        ).fetchone()
        if ends and handed_over and count != width:  # ids missing: places unknown
            handed_over = False
            count, numbers, texts = db.execute(queries.without_ended, bounds).fetchone()
        if count:
            if ends and handed_over:
                read.left_out.extend(map((len(read.numbers) - after - 1).__add__, ends))
            _parse_window(db, read, count, numbers, texts)
            after += width
        else:
            (after,) = db.execute(
                queries.before_next, {**bounds, "after": after + width}
            ).fetchone()
        width = min(_WIDEST_WINDOW, max(JSON_CHUNK_ROWS, width * JSON_CHUNK_ROWS // max(count, 1)))
    return read


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
