"""Setting Manifold up and looking after it: init, users, settings, the Dagster workspace,
audit, stats, backup, migrate."""

from __future__ import annotations

import json
from pathlib import Path

import click

from manifold_pipelines.cli.context import CliContext, echo_json, pass_cli, split_source
from manifold_pipelines.cli.maintenance import maintenance_commands
from manifold_pipelines.cli.terminal import echo, echo_rows
from manifold_pipelines.code_locations import DEFAULT_SOURCES_PER_LOCATION, workspace_yaml
from manifold_pipelines.core.global_settings import SETTING_MODELS
from manifold_pipelines.demo import ensure_demo
from manifold_pipelines.stats import all_stats, source_stats


@click.command("init")
@click.option("--demo", is_flag=True, help="Also create the demo project.")
@pass_cli
def init(cli: CliContext, demo: bool) -> None:
    """Create MANIFOLD_HOME and core.db (and the demo project with --demo).

    \b
    Example:
      manifold init --demo
    """
    manager = cli.manager
    if demo:
        ensure_demo(manager)
    echo(
        f"Manifold data: {manager.backend.describe()}"
        + (" (with the demo project)" if demo else "")
    )


@click.group("user")
def user() -> None:
    """Users and their role per project (viewer, editor, admin).

    \b
    Example:
      manifold user create ana --name "Ana" && manifold user grant ana shop editor
    """


@user.command("create")
@click.argument("user_id")
@click.option("--name")
@click.option("--email")
@pass_cli
def user_create(cli: CliContext, user_id: str, name: str | None, email: str | None) -> None:
    """Create a user.

    \b
    Example:
      manifold user create ana --email ana@example.com
    """
    cli.manager.create_user(user_id, name=name, email=email)
    echo(f"Created user {user_id}.")


@user.command("grant")
@click.argument("user_id")
@click.argument("project_id")
@click.argument("role", type=click.Choice(["viewer", "editor", "admin"]))
@pass_cli
def user_grant(cli: CliContext, user_id: str, project_id: str, role: str) -> None:
    """Give a user a role on a project.

    \b
    Example:
      manifold user grant ana shop editor
    """
    cli.manager.set_role(user_id, project_id, role)  # type: ignore[arg-type]
    echo(f"{user_id} is now {role} of {project_id}.")


@user.command("revoke")
@click.argument("user_id")
@click.argument("project_id")
@pass_cli
def user_revoke(cli: CliContext, user_id: str, project_id: str) -> None:
    """Take a user's role on a project away.

    \b
    Example:
      manifold user revoke ana shop
    """
    cli.manager.set_role(user_id, project_id, None)
    echo(f"{user_id} has no role in {project_id} any more.")


@user.command("instance-admin")
@click.argument("user_id")
@click.option("--revoke", is_flag=True, help="Take the instance-wide admin role back.")
@pass_cli
def user_instance_admin(cli: CliContext, user_id: str, revoke: bool) -> None:
    """Make a user admin of every project and of the global settings (or revoke it).

    \b
    Example:
      manifold user instance-admin ana
    """
    cli.manager.set_instance_role(user_id, None if revoke else "admin")
    echo(f"{user_id} is {'no longer' if revoke else 'now'} an instance admin.")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def user_list(cli: CliContext, as_json: bool) -> None:
    """List users.

    \b
    Example:
      manifold user list
    """
    users = cli.manager.list_users()
    if as_json:
        echo_json([u.model_dump(mode="json") for u in users])
        return
    echo_rows(
        ["ID", "NAME", "EMAIL", "INSTANCE ROLE"],
        ([u.id, u.name, u.email, u.instance_role] for u in users),
    )


@click.group("settings")
def settings() -> None:
    """Manifold-wide settings: alerts, dagster, sandbox (instance admins change them).

    \b
    Example:
      manifold settings set sandbox '{"allowedEnv": ["API_TOKEN"]}'
    """


@settings.command("show")
@pass_cli
def settings_show(cli: CliContext) -> None:
    """Print every setting as JSON; secrets only for instance admins.

    \b
    Example:
      manifold settings show
    """
    echo_json(cli.manager.get_settings())


@settings.command("set")
@click.argument("key", type=click.Choice(sorted(SETTING_MODELS)))
@click.argument("value")
@pass_cli
def settings_set(cli: CliContext, key: str, value: str) -> None:
    """Replace one setting with a JSON object; it is validated before it is stored.

    \b
    Example:
      manifold settings set alerts '{"webhookUrl": "https://hooks.example.com/T0/B0/x"}'
    """
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON ({exc})", param_hint="VALUE") from exc
    cli.manager.set_setting(key, parsed)
    echo(f"Setting {key} saved.")


@click.command("workspace")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option(
    "--sources-per-location",
    type=click.IntRange(min=1),
    default=DEFAULT_SOURCES_PER_LOCATION,
    show_default=True,
    help="Most enabled sources a code location loads; 1 gives each project its own.",
)
@pass_cli
def workspace(cli: CliContext, output: Path | None, sources_per_location: int) -> None:
    """Spread the projects over Dagster code locations and write the workspace file that
    lists them (to stdout without OUTPUT). Each location loads only its projects, so each
    reloads fast however large the catalogue; needs an instance admin.

    \b
    Example:
      manifold workspace locations.yaml && dagster dev -w locations.yaml
    """
    plan = cli.manager.plan_code_locations(sources_per_location)
    if output is None:
        echo(workspace_yaml(plan), nl=False)
        return
    output.write_text(workspace_yaml(plan))
    echo_rows(
        ["LOCATION", "PROJECTS", "SOURCES"],
        ([name, len(projects), plan.sources[name]] for name, projects in plan.projects.items()),
    )
    echo(f"Wrote {output}: start Dagster with `dagster dev -w {output}`.")


@click.command("audit")
@click.option("--source", "source_name", help="Only this project or PROJECT/SOURCE.")
@click.option("--user", "actor", help="Only what this user did.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def audit(
    cli: CliContext, source_name: str | None, actor: str | None, limit: int, as_json: bool
) -> None:
    """Who changed or read what, and when (newest first).

    \b
    Example:
      manifold audit --source demo/api --user ana
    """
    entries = cli.manager.audit_log(object_id=source_name, actor=actor, limit=limit)
    if as_json:
        echo_json([e.model_dump(mode="json") for e in entries])
        return
    echo_rows(
        ["AT", "ACTOR", "ACTION", "TYPE", "OBJECT"],
        (
            [f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.object_type, e.object_id]
            for e in entries
        ),
    )


@click.command("stats")
@click.argument("name_path", metavar="[PROJECT/SOURCE]", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def stats(cli: CliContext, name_path: str | None, as_json: bool) -> None:
    """Import success rate, durations (median, p95), records, versions, storage, quality.

    \b
    Example:
      manifold stats demo/api
    """
    manager = cli.manager
    figures = [source_stats(manager, *split_source(name_path))] if name_path else all_stats(manager)
    if as_json:
        total = sum(f.storage_bytes for f in figures)
        echo_json({"sources": [f.model_dump(mode="json") for f in figures], "storageBytes": total})
        return

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.0%}"

    def sec(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}s"

    echo_rows(
        ["SOURCE", "IMPORTS", "OK", "MEDIAN", "P95", "RECORDS", "VERSIONS", "BYTES", "QUALITY"],
        (
            [
                f.source,
                f.imports,
                pct(f.success_rate),
                sec(f.median_seconds),
                sec(f.p95_seconds),
                "-" if f.last_records is None else f.last_records,
                f.versions,
                f"{f.storage_bytes:,}",
                f"{f.quality_pass}/{f.quality_warning}/{f.quality_fail}",
            ]
            for f in figures
        ),
    )
    echo(f"total storage: {sum(f.storage_bytes for f in figures):,} bytes")
    echo(
        "QUALITY counts imports as pass/warning/fail by the worst of their quality checks;"
        " OK is the share of imports that completed."
    )


admin_commands = [init, user, settings, workspace, audit, stats, *maintenance_commands]
