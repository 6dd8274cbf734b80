"""How a changed JSON value reads in the changes preview: old -> new, whole when both are short;
when both are long, where they first differ (the index or key path to it, an excerpt of each
side around it, or their sizes), so two long values never read as the same description."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from manifold_pipelines.orchestration.markdown import (
    code,
    is_too_long,
    json_text,
    json_value,
)

EXCERPT_CONTEXT = 40
_ABSENT = object()


def json_change(old: Any, new: Any) -> str:
    """`old -> new` as Markdown, after a note in parentheses on where they differ if needed."""
    path, old, new = _first_difference(old, new)
    if isinstance(old, str | int | float) and isinstance(new, type(old)) and is_too_long(old):
        note, old_shown, new_shown = _excerpts(old, new)
    else:
        note, old_shown, new_shown = "", _shown(old), _shown(new)
    where = f"at {code(path)}" if path else ""
    label = ": ".join(part for part in (where, note) if part)
    sides = f"{old_shown} -> {new_shown}"
    return f"({label}) {sides}" if label else sides


def _first_difference(old: Any, new: Any) -> tuple[str, Any, Any]:
    """Into two long lists (or objects) of one size as far as they differ at one index (key):
    their sizes tell apart those of different sizes, and short values are shown whole."""
    path = ""
    while _is_long(old) and _is_long(new):
        step = next(_differing_children(old, new), None)
        if step is None:
            break
        part, old, new = step
        path += part
    return path, old, new


def _differing_children(old: Any, new: Any) -> Iterator[tuple[str, Any, Any]]:
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        pairs = ((f"[{index}]", a, b) for index, (a, b) in enumerate(zip(old, new, strict=True)))
    elif isinstance(old, dict) and isinstance(new, dict) and len(old) == len(new):
        keys = [*old, *(key for key in new if key not in old)]
        pairs = ((f"[{json_text(k)}]", old.get(k, _ABSENT), new.get(k, _ABSENT)) for k in keys)
    else:
        return
    yield from (pair for pair in pairs if _canonical(pair[1]) != _canonical(pair[2]))


def _is_long(value: Any) -> bool:
    return value is not _ABSENT and is_too_long(value)


def _canonical(value: Any) -> str | None:
    """Equal for equal JSON values, whatever the order of their fields."""
    return None if value is _ABSENT else json.dumps(value, sort_keys=True)


def _shown(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json_value(value)


def _excerpts(old: str | float, new: str | float) -> tuple[str, str, str]:
    """Two long strings (or numbers) from a little before their first difference, each with
    an ellipsis wherever it is cut, and a note saying how long they are and where they part."""
    quoted = isinstance(old, str)
    old_text, new_text = (v if isinstance(v, str) else json_text(v) for v in (old, new))
    same = next(
        (i for i, (a, b) in enumerate(zip(old_text, new_text, strict=False)) if a != b),
        min(len(old_text), len(new_text)),
    )
    start = max(0, same - EXCERPT_CONTEXT)
    sizes = f"{len(old_text):,}"
    if len(new_text) != len(old_text):
        sizes += f" -> {len(new_text):,}"
    kind = "strings" if quoted else "numbers"
    note = f"{kind} of {sizes} characters, " + (
        f"alike up to character {same:,}" if same else "differing from the first character"
    )
    return note, _excerpt(old_text, start, quoted), _excerpt(new_text, start, quoted)


def _excerpt(text: str, start: int, quoted: bool) -> str:
    end = start + 2 * EXCERPT_CONTEXT
    part = json_text(text[start:end]) if quoted else text[start:end]
    return code(("…" if start else "") + part + ("…" if end < len(text) else ""))
