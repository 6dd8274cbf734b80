"""What every command shares: the manager, opened on first use, and output helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import click
import orjson

from manifold_pipelines.cli.terminal import echo
from manifold_pipelines.manager import SeparatedDatabaseManager


@dataclass
class CliContext:
    home: str | None
    user: str | None
    debug: bool
    _manager: SeparatedDatabaseManager | None = field(default=None, repr=False)

    @property
    def manager(self) -> SeparatedDatabaseManager:
        if self._manager is None:
            self._manager = SeparatedDatabaseManager(self.home, user=self.user)
        return self._manager

    def close(self) -> None:
        if self._manager is not None:
            self._manager.close()


pass_cli = click.make_pass_decorator(CliContext)


def split_source(name: str) -> tuple[str, str]:
    """`projectId/sourceId`, as in the Dagster asset key."""
    project_id, slash, source_id = name.partition("/")
    if not slash or not project_id or not source_id:
        raise click.BadParameter(
            f"{name!r} is not PROJECT/SOURCE, e.g. demo/api", param_hint="SOURCE"
        )
    return project_id, source_id


def plain_text(value: Any) -> str:
    """A value as people read it in a table: strings as they are, the rest as JSON."""
    return (
        "" if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()
    )


def echo_json(value: Any) -> None:
    echo(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode())
