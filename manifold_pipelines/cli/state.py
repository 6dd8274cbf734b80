"""`manifold state`: an incremental source's committed state (its cursor), shown, rewound or
reset."""

from __future__ import annotations

import json

import click

from manifold_pipelines.cli.context import CliContext, echo_json, pass_cli, split_source
from manifold_pipelines.errors import ConfigError


@click.command("state")
@click.argument("name_path", metavar="SOURCE")
@click.option("--set", "new_state", metavar="JSON", help="Replace the state with this object.")
@click.option("--reset", is_flag=True, help="Forget the state: the next run starts from {}.")
@pass_cli
def state(cli: CliContext, name_path: str, new_state: str | None, reset: bool) -> None:
    """Show a source's state (what its last import committed), or change it to backfill.

    \b
    Examples:
      manifold state demo/feed
      manifold state demo/feed --set '{"cursor": "2026-01-01"}'
      manifold state demo/feed --reset
    """
    project_id, source_id = split_source(name_path)
    if new_state is not None and reset:
        raise click.UsageError("Give --set or --reset, not both.")
    if reset:
        echo_json(cli.manager.set_source_state(project_id, source_id, {}))
    elif new_state is not None:
        try:  # the standard parser keeps integers whole; the state check refuses huge ones
            parsed = json.loads(new_state)
        except ValueError as exc:
            raise ConfigError(
                f"--set {new_state[:200]!r} is not JSON ({exc}). Give an object, e.g."
                ' \'{"cursor": "2026-01-01"}\'.'
            ) from None
        echo_json(cli.manager.set_source_state(project_id, source_id, parsed))
    else:
        echo_json(cli.manager.get_source_state(project_id, source_id))
