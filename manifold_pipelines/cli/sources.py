"""`manifold source ...`: create, list, show, update, delete, enable, disable, link sources."""

from __future__ import annotations

from typing import Any

import click
import orjson

from manifold_pipelines.cli.config_file import load_config_file
from manifold_pipelines.cli.context import CliContext, echo_json, pass_cli, split_source
from manifold_pipelines.cli.templates import TEMPLATES
from manifold_pipelines.cli.terminal import confirm, echo, echo_rows
from manifold_pipelines.core.source_config import SOURCE_CONFIG_TYPES, dump_source_config
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.paths import validate_id


@click.group()
def source() -> None:
    """Data sources: a script, a CSV or a JSON file, each versioned in its own SQLite file.

    \b
    Example:
      manifold source create demo/api --name "API" --template rest-api
    """


def _edit(config: dict[str, Any]) -> dict[str, Any]:
    """Open the config in $EDITOR; an unchanged or emptied file changes nothing."""
    text = click.edit(orjson.dumps(config, option=orjson.OPT_INDENT_2).decode(), extension=".json")
    if text is None or not text.strip():
        return config
    try:
        edited = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(
            f"The edited config is not valid JSON: {exc}. Nothing was saved."
        ) from exc
    if not isinstance(edited, dict):
        raise ConfigError("The edited config must be a JSON object. Nothing was saved.")
    return edited


@source.command("create")
@click.argument("name_path", metavar="PROJECT/SOURCE")
@click.option("--name", required=True, help="Display name.")
@click.option(
    "--type",
    "source_type",
    type=click.Choice(sorted(SOURCE_CONFIG_TYPES)),
    help="Source type (implied by --template).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Config as a .json or .yaml file.",
)
@click.option("--template", type=click.Choice(sorted(TEMPLATES)), help="Start from a template.")
@click.option("--sync-interval", type=click.IntRange(min=1), help="Minutes between imports.")
@click.option("--edit", is_flag=True, help="Open the config in $EDITOR before saving.")
@pass_cli
def create(
    cli: CliContext,
    name_path: str,
    name: str,
    source_type: str | None,
    config_file: str | None,
    template: str | None,
    sync_interval: int | None,
    edit: bool,
) -> None:
    """Create a data source.

    \b
    Examples:
      manifold source create demo/api --name "API" --template rest-api --sync-interval 60
      manifold source create demo/stock --name "Stock" --type csv --config stock.yaml
    """
    project_id, source_id = split_source(name_path)
    config: dict[str, Any] = {}
    if template is not None:
        template_type, template_config = TEMPLATES[template]
        if source_type is not None and source_type != template_type:
            raise click.UsageError(
                f"--template {template} makes a {template_type} source, not {source_type}."
            )
        source_type, config = template_type, dict(template_config)
    if config_file is not None:
        config.update(load_config_file(config_file))
    if source_type is None:
        raise click.UsageError("Give --type, or a --template that implies it.")
    if edit:
        config = _edit(config)
    created = cli.manager.create_data_source(
        project_id,
        name=name,
        type=source_type,
        id=source_id,
        config=config,
        sync_interval=sync_interval,
    )
    echo(f"Created data source {created.qualified_id} ({created.type}).")


@source.command("list")
@click.argument("project_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_(cli: CliContext, project_id: str | None, as_json: bool) -> None:
    """List data sources, of one project or all.

    \b
    Example:
      manifold source list demo
    """
    sources = cli.manager.list_data_sources(project_id)
    if as_json:
        echo_json([_summary(s) for s in sources])
        return
    echo_rows(
        ["SOURCE", "TYPE", "STATUS", "SCHEDULE", "NAME"],
        (
            [
                s.qualified_id,
                s.type,
                s.status,
                f"every {s.sync_interval} min" if s.sync_interval else "manual",
                s.name,
            ]
            for s in sources
        ),
    )


def _summary(item: Any) -> dict[str, Any]:
    return {
        "source": item.qualified_id,
        "name": item.name,
        "type": item.type,
        "enabled": item.enabled,
        "status": item.status,
        "syncInterval": item.sync_interval,
        "lastSyncAt": item.last_sync_at.isoformat() if item.last_sync_at else None,
        "config": dump_source_config(item.config),
    }


@source.command("show")
@click.argument("name_path", metavar="PROJECT/SOURCE")
@pass_cli
def show(cli: CliContext, name_path: str) -> None:
    """Show a source's settings and config as JSON.

    \b
    Example:
      manifold source show demo/api
    """
    echo_json(_summary(cli.manager.describe_data_source(*split_source(name_path))))


@source.command("update")
@click.argument("name_path", metavar="PROJECT/SOURCE")
@click.option("--name")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Replace the config with this .json or .yaml file.",
)
@click.option("--sync-interval", type=click.IntRange(min=1))
@click.option("--edit", is_flag=True, help="Edit the current config in $EDITOR.")
@pass_cli
def update(
    cli: CliContext,
    name_path: str,
    name: str | None,
    config_file: str | None,
    sync_interval: int | None,
    edit: bool,
) -> None:
    """Change a source's name, config or sync interval.

    \b
    Examples:
      manifold source update demo/api --config api.json
      EDITOR=nano manifold source update demo/api --edit
    """
    project_id, source_id = split_source(name_path)
    manager = cli.manager
    config = load_config_file(config_file) if config_file else None
    if edit:
        # Refuse before the editor opens: the config must not be shown to who cannot save it.
        manager.check_access("update_data_source", project_id)
        current = dump_source_config(manager.get_data_source(project_id, source_id).config)
        config = _edit(config if config is not None else current)
    if name is None and config is None and sync_interval is None:
        raise click.UsageError(
            "Nothing to change: give --name, --config, --sync-interval or --edit."
        )
    manager.update_data_source(
        project_id, source_id, name=name, config=config, sync_interval=sync_interval
    )
    echo(f"Updated data source {project_id}/{source_id}.")


@source.command("delete")
@click.argument("name_path", metavar="PROJECT/SOURCE")
@click.option("--archive", is_flag=True, help="Keep a copy of the data file in the archive.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def delete(cli: CliContext, name_path: str, archive: bool, yes: bool) -> None:
    """Delete a source and its data file.

    \b
    Example:
      manifold source delete demo/api --archive --yes
    """
    project_id, source_id = split_source(name_path)
    validate_id(project_id, "Project")
    validate_id(source_id, "Data source")  # before asking: the question repeats the ids
    if not yes:
        confirm(f"Delete {name_path} and every version of its data?")
    copy = cli.manager.delete_data_source(project_id, source_id, archive=archive)
    echo(f"Deleted data source {name_path}." + (f" Archived to {copy}." if copy else ""))


def _toggle(enabled: bool) -> click.Command:
    verb = "enable" if enabled else "disable"

    @click.command(verb)
    @click.argument("name_path", metavar="PROJECT/SOURCE")
    @pass_cli
    def toggle(cli: CliContext, name_path: str) -> None:
        cli.manager.update_data_source(*split_source(name_path), enabled=enabled)
        echo(f"{verb.title()}d data source {name_path}.")

    toggle.help = (
        f"{verb.title()} a source: {'it becomes' if enabled else 'it stops being'} a Dagster"
        f" asset and scheduled.\n\n\b\nExample:\n  manifold source {verb} demo/api"
    )
    return toggle


source.add_command(_toggle(True))
source.add_command(_toggle(False))


@source.command("link")
@click.argument("upstream", metavar="UPSTREAM")
@click.argument("downstream", metavar="DOWNSTREAM")
@click.option("--remove", is_flag=True, help="Remove the relationship instead.")
@pass_cli
def link(cli: CliContext, upstream: str, downstream: str, remove: bool) -> None:
    """Make UPSTREAM feed DOWNSTREAM (a Dagster dependency; `inputs.<id>` in its script).

    \b
    Example:
      manifold source link demo/customers demo/report
    """
    split_source(upstream), split_source(downstream)
    if remove:
        cli.manager.remove_relationship(upstream, downstream)
        echo(f"{upstream} no longer feeds {downstream}.")
    else:
        cli.manager.add_relationship(upstream, downstream)
        echo(f"{upstream} now feeds {downstream}.")
