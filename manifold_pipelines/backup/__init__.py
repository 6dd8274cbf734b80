"""Backups of a whole home, and restoring them: `create_backup` copies core.db and the data
files changed since the last backup; `restore_backup` puts one back, trusting nothing in it."""

from manifold_pipelines.backup.create import BackupReport, create_backup
from manifold_pipelines.backup.restore import restore_backup

__all__ = ["BackupReport", "create_backup", "restore_backup"]
