"""What every command shares: the manager, opened on first use, and output helpers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import click
import orjson

from manifold_pipelines.cli.terminal import echo, echo_json_bytes
from manifold_pipelines.manager import SeparatedDatabaseManager
from manifold_pipelines.versions.models import FieldChange


@dataclass
class CliContext:
    home: str | None
    database_url: str | None
    user: str | None
    debug: bool
    _manager: SeparatedDatabaseManager | None = field(default=None, repr=False)

    @property
    def manager(self) -> SeparatedDatabaseManager:
        if self._manager is None:
            self._manager = SeparatedDatabaseManager(
                self.home, user=self.user, database_url=self.database_url
            )
        return self._manager

    def close(self) -> None:
        """Ends every command: a catalogue change's word from the Dagster webserver (which
        locations reloaded, or why none did) goes to stderr, out of the way of --json."""
        if self._manager is not None:
            if self._manager.last_reload:
                echo(f"Dagster: {self._manager.last_reload}", err=True)
            self._manager.close()


pass_cli = click.make_pass_decorator(CliContext)

# Records a write of `manifold show --format jsonl` holds: about 2 MB of text.
JSON_LINES_BATCH = 10_000


def split_source(name: str) -> tuple[str, str]:
    """`projectId/sourceId`, as in the Dagster asset key."""
    project_id, slash, source_id = name.partition("/")
    if not slash or not project_id or not source_id:
        raise click.BadParameter(
            f"{name!r} is not PROJECT/SOURCE, e.g. demo/api", param_hint="SOURCE"
        )
    return project_id, source_id


def plain_text(value: Any) -> str:
    """A value as people read it in a table of records: strings as they are, the rest as
    JSON (`--format json` tells "42" from 42)."""
    return (
        "" if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()
    )


def json_text(value: Any) -> str:
    """A value as JSON: where changes are shown, the string "42" and the number 42 (or null
    and "") must not look alike, or a change reads as no change."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def change_sides(change: FieldChange) -> tuple[str, str]:
    """A field change's old and new value as JSON; the side without the field reads
    (absent), which no JSON value does."""
    old = "(absent)" if change.type == "added" else json_text(change.old_value)
    new = "(absent)" if change.type == "removed" else json_text(change.new_value)
    return old, new


def key_text(record: dict[str, Any], key_fields: tuple[str, ...]) -> str:
    """A record's key as `manifold history` takes it: its value as JSON, a JSON array for a
    composite key; empty for a source diffed by content, which has none."""
    values = [record.get(name) for name in key_fields]
    return json_text(values[0] if len(values) == 1 else values) if values else ""


def echo_json(value: Any) -> None:
    echo_json_bytes(
        orjson.dumps(
            value,
            option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE,
        )
    )


def echo_json_lines(values: Sequence[Any]) -> None:
    """Each value one line of JSON, written a batch at a time: a flushed, scanned `echo` per
    line made 1,000,000 records take 10.5 s, 2.4 s this way. A line joins its batch's buffer
    as soon as it is made: a batch held as 10,000 objects, all freed at once, had the allocator
    hand their memory back and take it again each batch (a million more page faults)."""
    for start in range(0, len(values), JSON_LINES_BATCH):
        batch = bytearray()
        for value in values[start : start + JSON_LINES_BATCH]:
            batch += orjson.dumps(value, option=orjson.OPT_APPEND_NEWLINE)
        echo_json_bytes(batch)
