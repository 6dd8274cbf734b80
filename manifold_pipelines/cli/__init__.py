"""The `manifold` command: set Manifold up and look at your data without writing Python.

Each command opens the manager and calls one method; errors a user can cause print as one
line (exit 1), bad usage exits 2, and `--debug` shows the traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from manifold_pipelines.cli.admin import admin_commands
from manifold_pipelines.cli.context import CliContext
from manifold_pipelines.cli.data import data_commands
from manifold_pipelines.cli.projects import project
from manifold_pipelines.cli.sources import source
from manifold_pipelines.cli.terminal import echo
from manifold_pipelines.errors import ManifoldError, cap_error_text


class ManifoldGroup(click.Group):
    """Turns ManifoldError into one line and exit code 1, unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ManifoldError as exc:
            if ctx.obj is not None and ctx.obj.debug:
                raise
            echo(f"Error: {cap_error_text(str(exc))}", err=True)
            sys.exit(1)


@click.group(cls=ManifoldGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    envvar="MANIFOLD_HOME",
    type=click.Path(file_okay=False),
    help="Where core.db and the data files live [env MANIFOLD_HOME; ./manifold_home].",
)
@click.option(
    "--database-url",
    envvar="MANIFOLD_DATABASE_URL",
    metavar="URL",
    help="Keep everything in PostgreSQL instead: postgresql://user:password@host:port/dbname"
    " [env MANIFOLD_DATABASE_URL].",
)
@click.option("--user", envvar="MANIFOLD_USER", help="Who acts, for roles and the audit log.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.pass_context
def main(
    ctx: click.Context, home: str | None, database_url: str | None, user: str | None, debug: bool
) -> None:
    """Versioned data imports: every import a version, every version diffed.

    \b
    Example:
      manifold init --demo && manifold run demo/api && manifold versions demo/api
    """
    ctx.obj = CliContext(home=home, database_url=database_url, user=user, debug=debug)
    ctx.call_on_close(ctx.obj.close)


main.add_command(project)
main.add_command(source)
for command in (*data_commands, *admin_commands):
    main.add_command(command)
