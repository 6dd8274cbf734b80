"""What an import is given, checked or trimmed before it is written: a state, the first
records a preview keeps, and a source's diff settings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from manifold_pipelines.core.models import DataSource
from manifold_pipelines.errors import ConfigError, RecordsError
from manifold_pipelines.sources.base import MAX_STATE_BYTES
from manifold_pipelines.versions.diff import DiffSettings
from manifold_pipelines.versions.records import dumps_record, require_json

PREVIEW_RECORDS = 1_000
PREVIEW_BYTES = 16 * 2**20


def check_state(state: object, where: str) -> None:
    """A state is a JSON object of at most MAX_STATE_BYTES: it is read and written whole at
    every import."""
    if not isinstance(state, dict):
        raise ConfigError(
            f"{where}: a state is a JSON object (a dict), not {type(state).__name__}."
            " Give e.g. {'cursor': '2026-01-01'}, or {} to reset it."
        )
    try:
        require_json(state, "the state", where)
    except RecordsError as exc:
        raise ConfigError(str(exc)) from None
    size = len(orjson.dumps(state))
    if size > MAX_STATE_BYTES:
        raise ConfigError(
            f"{where}: the state is {size:,} bytes of JSON, over the {MAX_STATE_BYTES:,}-byte"
            " limit. Keep a cursor in it, not data."
        )


def keeping_first(records: Iterable[Any], first: list[Any]) -> Iterator[Any]:
    """Every record, passed on as it comes, and the first ones kept in `first`: at most
    PREVIEW_RECORDS of them, and PREVIEW_BYTES of JSON. A preview's diff and counts cover the
    whole run, but keeping every record would hold a source of any size in memory."""
    size = 0
    for record in records:
        if len(first) < PREVIEW_RECORDS and size < PREVIEW_BYTES:
            # A record that is not JSON is kept unmeasured: the import names what is wrong.
            with contextlib.suppress(TypeError, orjson.JSONEncodeError):
                size += len(dumps_record(record))
            first.append(record)
        yield record


def diff_settings(source: DataSource) -> DiffSettings:
    return DiffSettings(
        ignore_fields=frozenset(source.config.diff_ignore_fields),
        tolerance=dict(source.config.diff_tolerance),
    )
