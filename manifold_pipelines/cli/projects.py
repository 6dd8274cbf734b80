"""`manifold project ...`: create, list, show, update and delete projects."""

from __future__ import annotations

import click

from manifold_pipelines.cli.context import CliContext, echo_json, pass_cli
from manifold_pipelines.cli.terminal import confirm, echo, echo_rows
from manifold_pipelines.paths import validate_id


@click.group()
def project() -> None:
    """Projects group data sources; each is a Dagster asset group.

    \b
    Example:
      manifold project create shop --name "Shop"
    """


@project.command("create")
@click.argument("project_id")
@click.option("--name", required=True, help="Display name.")
@click.option("--description", help="What the project is for.")
@click.option("--data-path", help="Folder for its data files (inside an allowed root).")
@pass_cli
def create(
    cli: CliContext, project_id: str, name: str, description: str | None, data_path: str | None
) -> None:
    """Create a project.

    \b
    Example:
      manifold project create shop --name "Shop" --description "Orders and stock"
    """
    created = cli.manager.create_project(
        name=name, id=project_id, description=description, data_path=data_path
    )
    echo(f"Created project {created.id}.")


@project.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def list_(cli: CliContext, as_json: bool) -> None:
    """List projects.

    \b
    Example:
      manifold project list --json
    """
    projects = cli.manager.list_projects()
    if as_json:
        echo_json([p.model_dump(mode="json") for p in projects])
        return
    echo_rows(["ID", "NAME", "DESCRIPTION"], ([p.id, p.name, p.description] for p in projects))


@project.command("show")
@click.argument("project_id")
@pass_cli
def show(cli: CliContext, project_id: str) -> None:
    """Show a project and its sources as JSON.

    \b
    Example:
      manifold project show shop
    """
    manager = cli.manager
    item = manager.get_project(project_id)
    sources = [s.id for s in manager.list_data_sources(project_id)]
    echo_json({**item.model_dump(mode="json"), "sources": sources})


@project.command("update")
@click.argument("project_id")
@click.option("--name")
@click.option("--description")
@click.option("--data-path")
@pass_cli
def update(
    cli: CliContext,
    project_id: str,
    name: str | None,
    description: str | None,
    data_path: str | None,
) -> None:
    """Change a project's name, description or data path.

    \b
    Example:
      manifold project update shop --description "Orders, stock and prices"
    """
    if name is None and description is None and data_path is None:
        raise click.UsageError("Nothing to change: give --name, --description or --data-path.")
    cli.manager.update_project(project_id, name=name, description=description, data_path=data_path)
    echo(f"Updated project {project_id}.")


@project.command("delete")
@click.argument("project_id")
@click.option("--archive", is_flag=True, help="Keep a copy of each data file in the archive.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def delete(cli: CliContext, project_id: str, archive: bool, yes: bool) -> None:
    """Delete a project, its sources and their data files.

    \b
    Example:
      manifold project delete shop --archive --yes
    """
    validate_id(project_id, "Project")  # before asking: the question repeats the id
    if not yes:
        confirm(f"Delete project {project_id} and all its data?")
    copies = cli.manager.delete_project(project_id, archive=archive)
    echo(
        f"Deleted project {project_id}." + (f" Archived {len(copies)} file(s)." if archive else "")
    )
