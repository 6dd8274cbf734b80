"""Backups, transfers to another engine or place, archives of old versions, and the migration
from the legacy single-file layout."""

from __future__ import annotations

from pathlib import Path

import click

from manifold_pipelines.backup import create_backup, restore_backup
from manifold_pipelines.cli.context import CliContext, echo_json, pass_cli, split_source
from manifold_pipelines.cli.terminal import echo, echo_rows
from manifold_pipelines.legacy import migrate_legacy
from manifold_pipelines.settings import Settings
from manifold_pipelines.transfer import transfer as transfer_to


@click.command("backup")
@click.argument("destination", type=click.Path(file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def backup(cli: CliContext, destination: Path, as_json: bool) -> None:
    """Back up core.db and the data files changed since the last backup into DESTINATION.

    A SQLite home only: back a PostgreSQL database up with pg_dump.

    \b
    Example:
      manifold backup /mnt/backups/manifold
    """
    report = create_backup(cli.manager, destination)
    if as_json:
        echo_json(report.model_dump())
        return
    echo(
        f"Backup in {report.folder}: {len(report.copied)} data file(s) copied,"
        f" {len(report.unchanged)} unchanged since the last backup."
    )


@click.command("restore-backup")
@click.argument("backup_folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing core.db and data files.")
@pass_cli
def restore_backup_(cli: CliContext, backup_folder: Path, force: bool) -> None:
    """Put a backup (one folder made by `manifold backup`) back into MANIFOLD_HOME.

    A SQLite home only: restore a PostgreSQL database from pg_dump with pg_restore.

    \b
    Example:
      manifold --home ./restored restore-backup /mnt/backups/manifold/20261128T101500000000Z
    """
    home = Settings.load(cli.home).home
    restored = restore_backup(
        backup_folder, home, force=force, user=cli.user, database_url=cli.database_url
    )
    echo(f"Restored core.db and {len(restored)} data file(s) into {home}.")


@click.command("transfer")
@click.argument("destination")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def transfer(cli: CliContext, destination: str, as_json: bool) -> None:
    """Copy everything into DESTINATION: a folder, or a postgresql:// URL.

    Projects, sources, users, roles, settings, the audit log, import history, alerts and every
    version, each verified against the original. Safe to run again: after a stop it finishes
    the job, and it never copies anything twice. Needs an instance admin.

    \b
    Examples:
      manifold transfer postgresql://manifold:secret@db.example.com:5432/manifold
      manifold --database-url postgresql://manifold:secret@db.example.com/manifold transfer ./copy
    """
    report = transfer_to(cli.manager, destination, progress=lambda line: echo(line, err=True))
    if as_json:
        echo_json(report.model_dump())
        return
    echo(report.describe())


@click.command("migrate")
@click.argument("legacy_db", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--drop-legacy", is_flag=True, help="After verification, drop the snapshots table.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_cli
def migrate(cli: CliContext, legacy_db: Path, drop_legacy: bool, as_json: bool) -> None:
    """Turn a legacy single-file database's snapshots into versions (safe to run again).

    Needs an instance admin: the migration keeps its ledger in a global setting.

    \b
    Example:
      manifold migrate old-manifold.db && manifold migrate old-manifold.db --drop-legacy
    """
    report = migrate_legacy(
        cli.manager,
        legacy_db,
        drop_legacy=drop_legacy,
        progress=lambda line: echo(line, err=True),
    )
    if as_json:
        echo_json(report.model_dump() | {"verified": report.verified})
    else:
        for item in report.sources:
            state = "verified" if item.verified else "NOT VERIFIED"
            echo(
                f"{item.source}: {item.snapshots} snapshots, {item.imported} imported now,"
                f" {item.already_present} already there, {state}"
            )
            for change in item.changes:
                echo(f"{item.source}: changed: {change}")
        if report.orphan_snapshots:
            echo(
                f"{report.orphan_snapshots} snapshot(s) belong to no legacy data source"
                " and were not migrated."
            )
        if report.dropped_legacy:
            echo("Dropped the legacy snapshots table.")
    if not report.verified:
        raise SystemExit(1)


@click.command("archive")
@click.argument("name_path", metavar="PROJECT/SOURCE")
@click.option(
    "--before",
    type=click.IntRange(min=2),
    required=True,
    help="Archive every version older than this one.",
)
@pass_cli
def archive(cli: CliContext, name_path: str, before: int) -> None:
    """Export old versions to a compressed file, then remove them from the live file.

    \b
    Example:
      manifold archive demo/api --before 100
    """
    path, result = cli.manager.archive_versions(*split_source(name_path), before)
    echo(
        f"Archived {len(result.pruned_versions)} version(s) to {path};"
        f" freed {result.bytes_before - result.bytes_after:,} bytes."
    )


@click.command("restore")
@click.argument("name_path", metavar="PROJECT/SOURCE")
@click.argument("archive_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--version",
    type=click.IntRange(min=1),
    help="Make this archived version current again; without it, list the archive.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON.")
@pass_cli
def restore(
    cli: CliContext, name_path: str, archive_file: Path, version: int | None, as_json: bool
) -> None:
    """Read an archive back: list its versions, or restore one as a new version.

    \b
    Examples:
      manifold restore demo/api archive/demo/api-before-v100-20261128T101500Z.jsonl.gz
      manifold restore demo/api archive/demo/api-before-v100-20261128T101500Z.jsonl.gz --version 42
    """
    if version is None:
        entries = cli.manager.list_archived(*split_source(name_path), archive_file)
        if as_json:
            echo_json([entry.model_dump(mode="json") for entry in entries])
            return
        echo_rows(
            ["VERSION", "STATUS", "MODE", "RECORDS", "CREATED"],
            ([e.version, e.status, e.mode, e.record_count, e.created_at] for e in entries),
        )
        return
    result = cli.manager.restore_archived(*split_source(name_path), archive_file, version)
    echo(f"Version {result.version} of {name_path} restores archived version {version}.")


maintenance_commands = [backup, restore_backup_, transfer, migrate, archive, restore]
