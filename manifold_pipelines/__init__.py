"""Manifold: versioned data imports, one SQLite file per data source, run by Dagster."""

from manifold_pipelines.errors import ManifoldError
from manifold_pipelines.manager import SeparatedDatabaseManager
from manifold_pipelines.versions.models import DataDiff, DataVersion, ImportResult, VersionInfo

__all__ = [
    "DataDiff",
    "DataVersion",
    "ImportResult",
    "ManifoldError",
    "SeparatedDatabaseManager",
    "VersionInfo",
]
