"""Backups, archives and the legacy migration (filled in by later commits)."""

from __future__ import annotations

import click

maintenance_commands: list[click.Command] = []
