"""Field-level diffs between two sides of keyed records.

The version store hands over only the rows that changed between two versions (or, when the
diff key changed in between, both versions whole); this module decides what counts as added,
removed or modified under the source's ignore-list and numeric tolerances.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import orjson

from manifold_pipelines.errors import ConfigError
from manifold_pipelines.versions.models import (
    DataDiff,
    DiffDetails,
    FieldChange,
    ModifiedRecord,
    built,
)


@dataclass(frozen=True)
class DiffSettings:
    ignore_fields: frozenset[str] = frozenset()
    tolerance: Mapping[str, float] = field(default_factory=dict)


def _is_number(value: Any) -> bool:
    return value.__class__ is int or value.__class__ is float


def _exact(number: float) -> Fraction:
    """A number's value as JSON writes it (floats in their shortest form, ints whole), so
    that 1.1 - 1.0 is 0.1 and a 64-bit int is never rounded to the nearest float."""
    return Fraction(number) if number.__class__ is int else Fraction(repr(number))


def _same(name: str, old: Any, new: Any, settings: DiffSettings) -> bool:
    tolerance = settings.tolerance.get(name)
    if tolerance is not None and _is_number(old) and _is_number(new):
        return abs(_exact(old) - _exact(new)) <= _exact(tolerance)
    # 1, 1.0 and True (and 0.0 and -0.0) are equal in Python but distinct in JSON: compare
    # what is stored. Nested values compare by their canonical JSON, so a type change deep
    # inside counts too, while key order inside an object does not.
    if old.__class__ is not new.__class__:
        return False
    if old.__class__ in (dict, list, float):
        return _canonical(old) == _canonical(new)
    return bool(old == new)


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


_PLAIN = frozenset({str, int, bool, type(None), float})
"""Types whose values are the same exactly when Python's == says so and the types match,
but for a float zero: 0.0 == -0.0, which JSON tells apart."""
_MISSING = object()


def field_changes(
    old: dict[str, Any], new: dict[str, Any], settings: DiffSettings
) -> dict[str, FieldChange]:
    """The fields that differ. Runs once per changed record of every import, so a field whose
    value is plainly the same (no tolerance, a plain type, equal and of one class) is passed
    over first, with no other test: most fields of a changed record are."""
    ignore = settings.ignore_fields
    plain = _PLAIN if not settings.tolerance else frozenset()
    get = old.get
    changes: dict[str, FieldChange] = {}
    new_names = 0  # when every other field of `new` is one of `old`'s, none was removed
    for name, new_value in new.items():
        old_value = get(name, _MISSING)
        cls = new_value.__class__
        if (
            cls is old_value.__class__
            and cls in plain
            and old_value == new_value
            and (old_value or cls is not float or repr(old_value) == repr(new_value))
        ):
            continue
        if old_value is _MISSING:
            new_names += 1
            if name not in ignore:
                changes[name] = built(
                    FieldChange, {"type": "added", "old_value": None, "new_value": new_value}
                )
        elif name not in ignore and (
            (cls is old_value.__class__ and cls in plain)
            or not _same(name, old_value, new_value, settings)
        ):
            changes[name] = built(
                FieldChange, {"type": "modified", "old_value": old_value, "new_value": new_value}
            )
    if len(new) - new_names == len(old):
        return changes
    for name, old_value in old.items():
        if name not in new and name not in ignore:
            changes[name] = built(
                FieldChange, {"type": "removed", "old_value": old_value, "new_value": None}
            )
    return changes


def diff_sides(
    old_side: Iterable[tuple[str, dict[str, Any]]],
    new_side: Iterable[tuple[str, dict[str, Any]]],
    settings: DiffSettings,
    *,
    from_version: int | None,
    to_version: int,
    key_fields: Iterable[str] = (),
) -> DataDiff:
    """Diff keyed records. Keys on both sides are compared field by field; a key on one side
    only is added or removed. Added and modified follow the new side's order, removed the old
    side's: each side comes in the order of its version, so details are listed in import
    order whoever asks. Key fields matched, so 1 becoming 1.0 there is no change."""
    if key_fields:
        settings = replace(settings, ignore_fields=settings.ignore_fields | set(key_fields))
    old_by_key = dict(old_side)
    added: list[dict[str, Any]] = []
    modified: list[ModifiedRecord] = []
    for key, new in new_side:
        old = old_by_key.pop(key, None)
        if old is None:
            added.append(new)
            continue
        changes = field_changes(old, new, settings)
        if changes:
            modified.append(built(ModifiedRecord, {"old": old, "new": new, "changes": changes}))
    removed = list(old_by_key.values())
    return DataDiff.model_construct(
        from_version=from_version,
        to_version=to_version,
        added=len(added),
        removed=len(removed),
        modified=len(modified),
        details=DiffDetails.model_construct(added=added, removed=removed, modified=modified),
    )


def all_added(records: list[dict[str, Any]], to_version: int, total: int) -> DataDiff:
    """The diff of a first version: everything is new; `records` may be the first `total`."""
    return DataDiff.model_construct(
        from_version=None,
        to_version=to_version,
        added=total,
        removed=0,
        modified=0,
        details=DiffDetails.model_construct(added=records, removed=[], modified=[]),
    )


def check_limit(limit: object, where: str, of: str = "details") -> None:
    """Refuse a limit that is not a count: a negative one would slice from the end (and
    to SQLite, LIMIT -1 means no limit at all)."""
    if limit is not None and (type(limit) is not int or limit < 0):
        raise ConfigError(
            f"{where}: limit={limit!r} is not a number of {of} to show. Give a whole number"
            " of 0 or more, or None for every one."
        )


def no_limit_as_sql(limit: int | None) -> int:
    """A checked limit for SQL's LIMIT, every row for None: the largest 64-bit count, which
    both engines take (SQLite's -1 would be an error in PostgreSQL)."""
    return 2**63 - 1 if limit is None else limit


def limit_details(diff: DataDiff, limit: int | None) -> DataDiff:
    """Keep the counts, cut each details list to `limit` records."""
    if limit is None:
        return diff
    details = DiffDetails.model_construct(
        added=diff.details.added[:limit],
        removed=diff.details.removed[:limit],
        modified=diff.details.modified[:limit],
    )
    return diff.model_copy(update={"details": details})
