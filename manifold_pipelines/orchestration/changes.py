"""The "changes" preview on a materialization: the first records of each kind of change, each
by its key with what changed (old -> new, as JSON), how many are not shown and the command
that shows them all. The counts themselves are separate metadata entries."""

from __future__ import annotations

from typing import Any

from manifold_pipelines.orchestration.markdown import code, counted, json_value
from manifold_pipelines.orchestration.value_change import json_change
from manifold_pipelines.versions.models import DataDiff, DiffDetails, FieldChange

PREVIEW_RECORDS = 10
PREVIEW_FIELDS = 5


def changes_preview(diff: DataDiff | None, source: str, key_fields: tuple[str, ...]) -> str:
    """`source` is "project/source"; `key_fields` is empty for a source diffed by content."""
    if diff is None:
        return "Diffing is off for this source."
    if diff.total_changes == 0:
        return "No changes since the previous version."
    first = diff.from_version is None
    if first:
        span = "(first version)"
        everything = f"manifold show {source} --version {diff.to_version}"
    else:
        span = f"(version {diff.from_version} -> {diff.to_version})"
        everything = f"manifold diff {source} {diff.from_version} {diff.to_version}"
    kinds = [("added", diff.added), ("removed", diff.removed), ("modified", diff.modified)]
    sections = [f"**{', '.join(f'{n} {kind}' for kind, n in kinds if n)}** {span}"]
    for kind, total in sorted(kinds, key=lambda pair: pair[0] != "modified"):
        if total:
            more = everything if first else f"{everything} --only {kind}"
            sections.append(_section(kind, total, _lines(diff.details, kind, key_fields), more))
    if not first:
        sections.append(f"All changes: {code(everything)}")
    return "\n\n".join(sections)


def _section(kind: str, total: int, lines: list[str], command: str) -> str:
    shown = f"first {len(lines)} of {total}" if len(lines) < total else str(total)
    body = [f"**{kind.title()}** ({shown}):", *lines]
    if len(lines) < total:
        body.append(f"- and {total - len(lines):,} more: {code(command)}")
    return "\n".join(body)


def _lines(details: DiffDetails, kind: str, key_fields: tuple[str, ...]) -> list[str]:
    if kind == "modified":
        return [
            _line(item.new, key_fields, _changed_fields(item.changes))
            for item in details.modified[:PREVIEW_RECORDS]
        ]
    records = details.added if kind == "added" else details.removed
    return [_line(r, key_fields, _fields(r, key_fields)) for r in records[:PREVIEW_RECORDS]]


def _line(record: dict[str, Any], key_fields: tuple[str, ...], fields: list[str]) -> str:
    key = ", ".join(f"{code(name)} = {json_value(record.get(name))}" for name in key_fields)
    return "- " + ": ".join(part for part in (key, "; ".join(fields)) if part)


def _changed_fields(changes: dict[str, FieldChange]) -> list[str]:
    shown = [
        f"{code(name)} {_change(change)}" for name, change in list(changes.items())[:PREVIEW_FIELDS]
    ]
    return _with_rest(shown, len(changes), "changed field")


def _change(change: FieldChange) -> str:
    if change.type == "added":
        return f"(absent) -> {json_value(change.new_value)}"
    if change.type == "removed":
        return f"{json_value(change.old_value)} -> (absent)"
    return json_change(change.old_value, change.new_value)


def _fields(record: dict[str, Any], key_fields: tuple[str, ...]) -> list[str]:
    others = [(name, value) for name, value in record.items() if name not in key_fields]
    shown = [f"{code(name)} {json_value(value)}" for name, value in others[:PREVIEW_FIELDS]]
    return _with_rest(shown, len(others), "field")


def _with_rest(shown: list[str], total: int, what: str) -> list[str]:
    """`what` in the singular: "and 1 more field", "and 2 more fields"."""
    rest = total - len(shown)
    return [*shown, f"and {counted(rest, f'more {what}')}"] if rest > 0 else shown
