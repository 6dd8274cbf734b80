"""One record's history: every state of the record with one key, across the kept versions.

Rows rewritten only to move a record, or to write its key 1 as 1.0, are no change of it.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson

from manifold_pipelines.timestamps import from_text
from manifold_pipelines.versions.diff import DiffSettings, field_changes
from manifold_pipelines.versions.models import RecordChange
from manifold_pipelines.versions.store import VersionStore

Change = Literal["added", "modified", "removed"]


def key_history(store: VersionStore, key: str, key_fields: tuple[str, ...]) -> list[RecordChange]:
    """Every state of the record with this key, and when it changed, oldest first."""
    with store.reading():
        rows = store.key_rows(key)
        times = store.version_times()
        newest = store.latest_version(published_only=False)
    changes: list[RecordChange] = []
    previous: dict[str, Any] | None = None
    previous_last: int | None = None
    for first, last, text in rows:
        record = orjson.loads(text)
        if previous is not None and previous_last is not None and first > previous_last + 1:
            changes.append(_change(previous_last + 1, times, "removed", previous, None, ()))
            previous = None
        kind: Change = "added" if previous is None else "modified"
        change = _change(first, times, kind, record, previous, key_fields)
        if kind == "added" or change.changes:  # not a row rewritten only to move it
            changes.append(change)
        previous, previous_last = record, last
    if previous is not None and previous_last is not None and newest and previous_last < newest:
        changes.append(_change(previous_last + 1, times, "removed", previous, None, ()))
    return changes


def _change(
    version: int,
    times: dict[int, str],
    kind: Change,
    record: dict[str, Any],
    before: dict[str, Any] | None,
    key_fields: tuple[str, ...],
) -> RecordChange:
    settings = DiffSettings(ignore_fields=frozenset(key_fields))
    changes = field_changes(before, record, settings) if kind == "modified" and before else {}
    created = times.get(version)
    return RecordChange(
        version=version,
        change=kind,
        record=record,
        changes=changes,
        created_at=from_text(created) if created else None,
    )
