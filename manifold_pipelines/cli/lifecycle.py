"""Commands on a source's versions over time: one record's history, publishing, rolling
back and pruning."""

from __future__ import annotations

import click
import orjson

from manifold_pipelines.cli.context import (
    CliContext,
    change_sides,
    echo_json,
    pass_cli,
    split_source,
)
from manifold_pipelines.cli.terminal import echo, echo_rows
from manifold_pipelines.errors import NotFoundError

SOURCE = click.argument("name_path", metavar="PROJECT/SOURCE")


@click.command("history")
@SOURCE
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def history(cli: CliContext, name_path: str, key: str, as_json: bool) -> None:
    """Every change of one record across versions: when a value changed, and from what.

    KEY is the record's diff key as JSON (42, "abc", or ["eu", 7] for a composite key);
    text that is not JSON is taken as a string.

    \b
    Example:
      manifold history demo/api 42
    """
    try:
        value = orjson.loads(key)
    except orjson.JSONDecodeError:
        value = key
    steps = cli.manager.record_history(*split_source(name_path), value)
    if not steps:
        raise NotFoundError(
            f"{name_path} has no record with key {key} in the versions kept. Check the key"
            ' (as JSON: 42, "abc", ["eu", 7]) against `manifold show`.'
        )
    if as_json:
        echo_json([step.model_dump(mode="json", by_alias=True) for step in steps])
        return
    rows: list[list[object]] = []
    for step in steps:
        when = f"{step.created_at:%Y-%m-%d %H:%M:%S}" if step.created_at else "(pruned)"
        rows.append([step.version, when, step.change, "", ""])
        for name, change in step.changes.items():
            old, new = change_sides(change)  # as JSON: "42" -> 42 is a change
            rows.append(["", "", "", name, f"{old} -> {new}"])
    echo_rows(["VERSION", "AT", "CHANGE", "FIELD", "OLD -> NEW"], rows)


@click.command("publish")
@SOURCE
@click.argument("version", type=click.IntRange(min=1))
@pass_cli
def publish(cli: CliContext, name_path: str, version: int) -> None:
    """Publish a version held back by a blocking quality check.

    \b
    Example:
      manifold publish demo/api 7
    """
    cli.manager.publish_version(*split_source(name_path), version)
    echo(f"Published {name_path} version {version}.")


@click.command("rollback")
@SOURCE
@click.argument("version", type=click.IntRange(min=1))
@pass_cli
def rollback(cli: CliContext, name_path: str, version: int) -> None:
    """Make an earlier version current again, as a new version.

    \b
    Example:
      manifold rollback demo/api 4
    """
    result = cli.manager.rollback(*split_source(name_path), version)
    echo(f"Version {result.version} restores version {version} of {name_path}.")


@click.command("cleanup")
@click.argument("name_path", metavar="[PROJECT/SOURCE]", required=False)
@click.option("--keep-versions", type=click.IntRange(min=1))
@click.option("--keep-days", type=click.FloatRange(min=0, min_open=True))
@pass_cli
def cleanup(
    cli: CliContext, name_path: str | None, keep_versions: int | None, keep_days: float | None
) -> None:
    """Prune old versions by retention (the source's config, or the limits given).

    \b
    Examples:
      manifold cleanup
      manifold cleanup demo/api --keep-versions 30
    """
    manager = cli.manager
    targets = (
        [split_source(name_path)] if name_path else [s.key for s in manager.list_data_sources()]
    )
    for project_id, source_id in targets:
        result = manager.cleanup(project_id, source_id, keep_versions, keep_days)
        freed = result.bytes_before - result.bytes_after
        echo(
            f"{project_id}/{source_id}: pruned {len(result.pruned_versions)} version(s),"
            f" kept {len(result.kept_versions)}, freed {freed:,} bytes"
        )


lifecycle_commands = [history, publish, rollback, cleanup]
