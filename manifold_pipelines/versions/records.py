"""Turning user records into stored rows: validation, JSON encoding, content hash and key.

Every record is serialised once with orjson (which refuses lone surrogates, non-string
field names, integers past 64 bits and nesting deeper than 254) and hashed with xxh3-128.
orjson writes NaN and Infinity as null, so records whose JSON holds `null` are checked for
non-finite floats; that keeps the check off the hot path for most records, and batches that
cannot hold one (records orjson parsed, or whose floats add up to a finite number, see
record_batches.py) skip it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson
import xxhash

from manifold_pipelines.errors import DiffKeyError, RecordsError

_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
MAX_RECORD_BYTES = 1024 * 1024


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


dumps_record = partial(orjson.dumps, default=_refuse, option=_OPTIONS)
"""orjson with Manifold's options, as a C-level partial: the hot loop calls it per record and
runs `check_encoded` only when the JSON is large or holds more nulls than the record has
top-level None values, in a batch that could hold a NaN at all (see record_batches.py)."""


def encode(record: Any, row: int, where: str) -> bytes:
    """The record's JSON as stored; refuses anything JSON would not give back unchanged."""
    if type(record) is not dict:
        raise not_an_object(record, row, where)
    try:
        blob = dumps_record(record)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise not_json(exc, row, where, record) from exc
    if b"null" in blob or len(blob) > MAX_RECORD_BYTES:
        check_encoded(record, blob, row, where)
    return blob


def not_an_object(record: Any, row: int, where: str) -> RecordsError:
    return RecordsError(
        f"{where}: row {row} is {type(record).__name__}, not an object. Every record must be"
        " a JSON object (a Python dict with string keys)."
    )


def not_json(exc: Exception, row: int, where: str, record: Any = None) -> RecordsError:
    place = _first_bad_value(record, "", 0) if record is not None else None
    problem = f"field {place[0]!r}: {place[1]}" if place else str(exc)
    return RecordsError(
        f"{where}: row {row} cannot be stored as JSON ({problem}). Convert the value to a"
        " string, number, boolean, null, list or object first."
    )


_MAX_DEPTH = 200


def _first_bad_value(value: Any, path: str, depth: int) -> tuple[str, str] | None:
    """Where orjson's refusal came from; it only runs once an import has already failed."""
    where = path or "(record)"
    if depth > _MAX_DEPTH:
        return where, f"nested more than {_MAX_DEPTH} levels deep"
    if type(value) is dict:
        for name, item in value.items():
            if type(name) is not str:
                return where, f"field name {name!r} is not a string"
            found = _first_bad_value(item, f"{path}.{name}" if path else name, depth + 1)
            if found:
                return found
        return None
    if type(value) is list:
        for index, item in enumerate(value):
            found = _first_bad_value(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
        return None
    if type(value) is int and not -(2**63) <= value < 2**64:
        return where, "integer outside the 64-bit range"
    if type(value) is str:
        try:
            value.encode()
        except UnicodeEncodeError:
            return where, "text with a lone surrogate (invalid UTF-8)"
        return None
    if value is None or type(value) in (bool, int, float):
        return None
    return where, f"{type(value).__name__} is not a JSON value"


def check_encoded(record: dict[str, Any], blob: bytes, row: int, where: str) -> None:
    """Refuse NaN/Infinity (which orjson writes as null) and oversized records.

    Each `null` in the JSON is a None, a non-finite float, or text inside a string; when the
    count of nulls equals the count of top-level None values, no float can be hiding.
    """
    if b"null" in blob and blob.count(b"null") != list(record.values()).count(None):
        _refuse_non_finite(record, row, where, "")
    if len(blob) > MAX_RECORD_BYTES:
        raise RecordsError(
            f"{where}: row {row} is {len(blob):,} bytes as JSON, over the"
            f" {MAX_RECORD_BYTES:,}-byte limit per record. Split it into smaller records."
        )


def _refuse_non_finite(value: Any, row: int, where: str, path: str) -> None:
    if type(value) is float and not math.isfinite(value):
        raise RecordsError(
            f"{where}: row {row} field {path or '(value)'!r} is {value}, which JSON cannot hold."
            " Replace it with null or a number before importing."
        )
    if type(value) is dict:
        for name, item in value.items():
            _refuse_non_finite(item, row, where, f"{path}.{name}" if path else name)
    elif type(value) is list or type(value) is tuple:  # orjson writes a tuple as an array
        for index, item in enumerate(value):
            _refuse_non_finite(item, row, where, f"{path}[{index}]")


def require_json(value: Any, what: str, where: str) -> None:
    """Refuse metadata or a declared schema that JSON cannot hold exactly (NaN included)."""
    try:
        orjson.dumps(value)  # refuses non-string keys, sets, dates...
        json.dumps(value, allow_nan=False)  # ...and this refuses NaN, which orjson writes as null
    except (TypeError, ValueError, RecursionError) as exc:
        raise RecordsError(
            f"{where}: {what} is not plain JSON ({exc}). Use strings, numbers, booleans, null,"
            " lists and objects with string keys."
        ) from exc


def require_record_list(records: object, where: str) -> None:
    """Refuse what is not a sequence of records before anything is written: a dict or a
    string would iterate as keys or characters and fail later with a confusing message."""
    if isinstance(records, (dict, str, bytes)) or not isinstance(records, Iterable):
        raise RecordsError(
            f"{where}: records must be a list (or other iterable) of objects, got"
            f" {type(records).__name__}. Wrap a single record in a list: [record]."
        )


_dumps_sorted = partial(orjson.dumps, default=_refuse, option=_OPTIONS | orjson.OPT_SORT_KEYS)


def canonical_hash(record: dict[str, Any]) -> bytes:
    """The hash of a record's content: its JSON with keys sorted at every depth, so that field
    order never makes two records differ (the stored JSON keeps the order as imported)."""
    return xxhash.xxh3_128_digest(_dumps_sorted(record))


@dataclass(frozen=True)
class KeySpec:
    """How records are matched across versions: by key fields, or by content when keyless."""

    fields: tuple[str, ...] | None

    @property
    def keyless(self) -> bool:
        return self.fields is None

    def to_json(self) -> str:
        payload = {"keyless": True} if self.fields is None else {"fields": list(self.fields)}
        return orjson.dumps(payload).decode()

    @classmethod
    def from_json(cls, text: str) -> KeySpec:
        payload = orjson.loads(text)
        return cls(None if payload.get("keyless") else tuple(payload["fields"]))

    def describe(self) -> str:
        return "content hash" if self.fields is None else "+".join(self.fields)


def number_copies(
    pairs: Iterable[tuple[str, dict[str, Any]]],
) -> list[tuple[str, dict[str, Any]]]:
    """Keyless keys made unique: the n-th record with the same content hash gets `#n`, so a
    version is a multiset and copies are counted rather than refused. Numbering each side of
    a diff on its own is enough: rows both sides share cancel out of a multiset difference."""
    copies: dict[str, int] = {}
    numbered = []
    for key, record in pairs:
        count = copies.get(key, 0) + 1
        copies[key] = count
        numbered.append((key if count == 1 else f"{key}#{count}", record))
    return numbered


KeyFunction = Callable[[dict[str, Any]], str | None]


def key_text(value: Any) -> str | None:
    """One key value as JSON text, or None when it cannot be a key.

    JSON has one number type, so numerically equal numbers are one key: 1, 1.0 and 1e0 are
    all "1"; `"1"` stays a string and `true` is no key at all (it is not the number 1).
    """
    cls = value.__class__
    if cls is int:
        return str(value)
    if cls is str:
        return orjson.dumps(value).decode()
    if cls is float and math.isfinite(value):
        return str(int(value)) if value.is_integer() else orjson.dumps(value).decode()
    return None


def key_of_value(value: Any) -> str | None:
    """The key text of a key value as a user names it: a list for a composite key."""
    if value.__class__ is list:
        parts = [key_text(part) for part in value]
        return None if None in parts else f"[{','.join(parts)}]"  # type: ignore[arg-type]
    return key_text(value)


def key_function(spec: KeySpec) -> KeyFunction:
    """A function from record to key text (JSON of the key value), or None when unusable.

    The key text is JSON so that `1` and `"1"` stay distinct keys and a plain SQL reader can
    still make sense of it.
    """
    if spec.fields is None:
        raise ValueError("keyless specs derive keys from content hashes")
    if len(spec.fields) == 1:
        (field,) = spec.fields

        def single(record: dict[str, Any]) -> str | None:
            value = record.get(field)
            return str(value) if value.__class__ is int else key_text(value)  # ints: most keys

        return single
    fields = spec.fields

    def composite(record: dict[str, Any]) -> str | None:
        return key_of_value([record.get(field) for field in fields])

    return composite


def _records(count: int) -> str:
    return "1 record has" if count == 1 else f"{count} records have"


def bad_key_error(
    spec: KeySpec,
    where: str,
    missing: list[int],
    duplicates: list[int],
    consequence: str = "Nothing was imported.",
) -> DiffKeyError:
    """One message naming the first offending rows and the two ways out."""
    key = spec.describe()
    parts = []
    missing, duplicates = sorted(missing), sorted(duplicates)
    if missing:
        rows = ", ".join(str(row) for row in missing[:5])
        parts.append(
            f"{_records(len(missing))} no usable {key!r} (missing, null, or not a string or"
            f" number; first rows {rows})"
        )
    if duplicates:
        rows = ", ".join(str(row) for row in duplicates[:5])
        parts.append(
            f"{_records(len(duplicates))} a {key!r} that another record also has (equal"
            f" numbers such as 1 and 1.0 are one key; first rows {rows})"
        )
    return DiffKeyError(
        f"{where}: {'; '.join(parts)}. {consequence} Set diffKey to fields that identify"
        " every record uniquely, or enable keyless diffing (keylessDiff: true)."
    )


def key_records(
    records: list[dict[str, Any]], spec: KeySpec, where: str, consequence: str
) -> list[tuple[str, dict[str, Any]]]:
    """Pair every record with its key, for diffs that must compare two whole versions."""
    if spec.fields is None:
        return number_copies((canonical_hash(record).hex(), record) for record in records)
    key_of = key_function(spec)
    keys = [key_of(record) for record in records]
    missing = [row for row, key in enumerate(keys) if key is None]
    seen: set[str] = set()
    duplicates = []
    for row, key in enumerate(keys):
        if key is not None:
            if key in seen:
                duplicates.append(row)
            seen.add(key)
    if missing or duplicates:
        raise bad_key_error(spec, where, missing, duplicates, consequence)
    return list(zip(keys, records, strict=True))  # type: ignore[arg-type]
