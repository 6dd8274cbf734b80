"""Commands on a source's data: run, import, versions, show, diff, history, publish,
rollback and cleanup."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import RenderableType
from rich.table import Table

from manifold_pipelines.cli.context import (
    CliContext,
    change_sides,
    echo_json,
    echo_json_lines,
    json_text,
    key_text,
    pass_cli,
    plain_text,
    split_source,
)
from manifold_pipelines.cli.lifecycle import lifecycle_commands
from manifold_pipelines.cli.record_files import read_records
from manifold_pipelines.cli.state import state
from manifold_pipelines.cli.terminal import (
    echo,
    echo_rows,
    print_table,
    text,
)
from manifold_pipelines.core.source_config import CsvConfig, SourceConfig
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.reports.compare import compare_report
from manifold_pipelines.reports.html import render_html
from manifold_pipelines.versions.models import DataDiff, DiffDetails, ImportResult

SOURCE = click.argument("name_path", metavar="PROJECT/SOURCE")


def _print_incremental(result: ImportResult) -> None:
    """What an incremental import applied, and the state it commits."""
    if result.mode == "incremental":
        echo(
            f"  incremental: {result.upserts} upserts, {result.deletions} deletions"
            + (f" ({result.absent_deletions} of keys not there)" if result.absent_deletions else "")
            + f", state {json_text(result.state or {})}"
        )


def _print_result(result: ImportResult, as_json: bool) -> None:
    if as_json:
        echo_json(
            result.model_dump(mode="json", exclude={"diff"})
            | {"diff": result.diff.summary() if result.diff else None}
        )
        return
    if result.diff is None:
        changes = "diff off"
    else:
        d = result.diff
        changes = f"{d.added} added, {d.removed} removed, {d.modified} modified"
    echo(f"Version {result.version} ({result.status}): {result.record_count} records, {changes}")
    _print_incremental(result)
    for metric in result.quality:
        if metric.status != "pass":
            field = f"[{metric.field}]" if metric.field else ""
            echo(f"  {metric.status}: {metric.metric}{field} = {metric.value}")


@click.command("run")
@SOURCE
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def run(cli: CliContext, name_path: str, dry_run: bool, as_json: bool) -> None:
    """Run a source and import what it returns as a new version.

    \b
    Examples:
      manifold run demo/api
      manifold run demo/api --dry-run
    """
    project_id, source_id = split_source(name_path)
    if not dry_run:
        _print_result(cli.manager.run_data_source(project_id, source_id), as_json)
        return
    result = cli.manager.preview_data_source(project_id, source_id)
    preview = result.preview
    version = preview.version
    if as_json:
        echo_json(
            {
                "records": result.record_count,
                "version": version,
                "status": preview.status,
                "mode": preview.mode,
                "upserts": preview.upserts,
                "deletions": preview.deletions,
                "absent_deletions": preview.absent_deletions,
                "state": preview.state,
                "diff": result.diff.to_dict() if result.diff else None,
            }
        )
        return
    echo(
        f"Dry run: {result.record_count} records would become version {version}"
        f" ({preview.status}). Nothing was written."
    )
    _print_incremental(preview)
    if result.diff is not None:
        config = cli.manager.get_data_source(project_id, source_id).config
        before = result.diff.from_version
        title = f"{name_path}: {f'v{before}' if before else 'nothing'} -> v{version} (dry run)"
        _diff_table(result.diff, config, title)


@click.command("import")
@SOURCE
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def import_(cli: CliContext, name_path: str, file: Path, as_json: bool) -> None:
    """Import a JSON, JSON Lines or CSV file as a new version of a source.

    Into a CSV source, a CSV file is read with that source's settings (delimiter, columns,
    encoding, inferTypes), as its runs read it.

    \b
    Example:
      manifold import demo/api export.jsonl
    """
    project_id, source_id = split_source(name_path)
    csv_config = None
    if file.suffix.lower() == ".csv":  # only then is the source's config needed (and read)
        config = cli.manager.get_data_source(project_id, source_id).config
        csv_config = config if isinstance(config, CsvConfig) else None
    records = read_records(file, csv_config)
    _print_result(
        cli.manager.import_data(
            project_id, source_id, records, metadata={"importedFrom": file.name}
        ),
        as_json,
    )


@click.command("versions")
@SOURCE
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def versions(cli: CliContext, name_path: str, as_json: bool) -> None:
    """List a source's versions, oldest first.

    \b
    Example:
      manifold versions demo/api --json
    """
    infos = cli.manager.list_versions(*split_source(name_path))
    if as_json:
        echo_json([info.model_dump(mode="json") for info in infos])
        return
    echo_rows(
        [
            *("VERSION", "STATUS", "MODE", "RECORDS", "ADDED", "REMOVED", "MODIFIED"),
            *("UPSERTS", "DELETIONS", "CURSOR", "CREATED"),
        ],
        (
            [
                info.version,
                info.status,
                info.mode,
                info.record_count,
                *((info.diff or {}).get(kind, 0) for kind in ("added", "removed", "modified")),
                "" if info.upserts is None else info.upserts,
                "" if info.deletions is None else info.deletions,
                _cursor(info.state),
                f"{info.created_at:%Y-%m-%d %H:%M:%S}",
            ]
            for info in infos
        ),
    )


def _cursor(state: dict[str, Any] | None) -> str:
    """A version's committed cursor, or its whole state when it keeps no `cursor`."""
    if state is None:
        return ""
    return json_text(state.get("cursor", state))


@click.command("show")
@SOURCE
@click.option("--version", type=click.IntRange(min=1), help="A version; default the latest.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "jsonl", "csv"]),
    default="table",
    show_default=True,
)
@pass_cli
def show(cli: CliContext, name_path: str, version: int | None, fmt: str) -> None:
    """Print a version's records.

    \b
    Examples:
      manifold show demo/api
      manifold show demo/api --version 3 --format csv > v3.csv
    """
    project_id, source_id = split_source(name_path)
    manager = cli.manager
    data = (
        manager.get_data_version(project_id, source_id, version)
        if version
        else manager.get_latest_data(project_id, source_id)
    )
    if fmt == "json":
        echo_json(data.data)
    elif fmt == "jsonl":
        echo_json_lines(data.data)
    elif fmt == "csv":
        columns = list(dict.fromkeys(k for r in data.data for k in r))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for record in data.data:
            writer.writerow(
                {
                    k: v if isinstance(v, str) or v is None else orjson.dumps(v).decode()
                    for k, v in record.items()
                }
            )
        echo(out.getvalue(), nl=False)
    else:
        columns = list(dict.fromkeys(k for r in data.data for k in r))
        table = Table(title=text(f"{name_path} v{data.version} ({data.record_count} records)"))
        for column in columns:
            table.add_column(text(column))
        for record in data.data:
            table.add_row(*(_cell(record.get(c)) for c in columns))
        print_table(table)


def _cell(value: Any) -> RenderableType:
    """A record table's cell: data as people read it, never parsed for rich markup."""
    return text(plain_text(value))


def _only(diff: DataDiff, only: str | None) -> DataDiff:
    if only is None:
        return diff
    details = DiffDetails.model_construct(
        added=diff.details.added if only == "added" else [],
        removed=diff.details.removed if only == "removed" else [],
        modified=diff.details.modified if only == "modified" else [],
    )
    return diff.model_copy(update={"details": details})


@click.command("diff")
@SOURCE
@click.argument("from_version", type=int)
@click.argument("to_version", type=int)
@click.option("--only", type=click.Choice(["added", "removed", "modified"]))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "html", "report"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where --format html writes the report.",
)
@pass_cli
def diff(
    cli: CliContext,
    name_path: str,
    from_version: int,
    to_version: int,
    only: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Show what changed between two versions (any two, either direction).

    \b
    Examples:
      manifold diff demo/api 4 5
      manifold diff demo/api 1 5 --only modified --format json
      manifold diff demo/api 4 5 --format html --output diff.html
      manifold diff demo/api 4 5 --format report
    """
    project_id, source_id = split_source(name_path)
    manager = cli.manager
    source = manager.get_data_source(project_id, source_id)
    key_fields = source.config.diff_key_fields
    if fmt == "report":
        if source.config.keyless_diff:
            raise ConfigError(
                f"{name_path} is diffed without a key; the column report joins versions on one."
                " Use --format table or json."
            )
        old = manager.get_data_version(project_id, source_id, from_version)
        new = manager.get_data_version(project_id, source_id, to_version)
        echo(compare_report(old, new, key_fields))
        return
    changes = _only(manager.get_data_diff(project_id, source_id, from_version, to_version), only)
    if fmt == "json":
        echo_json(changes.to_dict())
    elif fmt == "html":
        target = output or Path(f"diff-{project_id}-{source_id}-{from_version}-{to_version}.html")
        title = f"{name_path}: version {from_version} -> {to_version}"
        target.write_text(
            render_html(changes, title=title, key_fields=key_fields), encoding="utf-8"
        )
        echo(f"Wrote the HTML diff report to {target.resolve()}; open it in a browser.")
    else:
        _diff_table(changes, source.config, f"{name_path}: v{from_version} -> v{to_version}")


def _diff_table(changes: DataDiff, config: SourceConfig, title: str) -> None:
    """Values as JSON, keys as `manifold history` takes them: a change never looks like
    no change."""
    key_fields = () if config.keyless_diff else config.diff_key_fields
    table = Table(title=text(f"{title}  (+{changes.added} -{changes.removed} ~{changes.modified})"))
    for column in ("change", "key", "field", "old", "new"):
        table.add_column(column)

    def key(record: dict[str, Any]) -> RenderableType:
        return text(key_text(record, key_fields))

    for item in changes.details.modified:
        for name, change in item.changes.items():
            old, new = change_sides(change)
            table.add_row(
                "modified", key(item.new), text(name), text(old, "red"), text(new, "green")
            )
    for record in changes.details.added:
        table.add_row(text("added", "green"), key(record), "", "", text(json_text(record), "green"))
    for record in changes.details.removed:
        table.add_row(text("removed", "red"), key(record), "", text(json_text(record), "red"), "")
    print_table(table)


data_commands = [run, import_, versions, show, diff, state, *lifecycle_commands]
