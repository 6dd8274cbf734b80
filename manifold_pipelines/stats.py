"""Monitoring figures, per source and in total, from core.db's import history and
the files' sizes: import success rate, durations, records, versions, storage, quality."""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from manifold_pipelines.manager import SeparatedDatabaseManager


class SourceStats(BaseModel):
    source: str
    imports: int
    success_rate: float | None
    median_seconds: float | None
    p95_seconds: float | None
    last_records: int | None
    versions: int
    storage_bytes: int
    # Imports counted by the worst status among their quality checks: one warning among six
    # passing checks makes that import a "warning".
    quality_pass: int
    quality_warning: int
    quality_fail: int


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def source_stats(manager: SeparatedDatabaseManager, project_id: str, source_id: str) -> SourceStats:
    manager.check_access("list_versions", project_id)
    entries = manager.import_history(project_id, source_id, limit=None)
    completed = [e for e in entries if e.status == "completed"]
    seconds = [e.duration_ms / 1000 for e in completed]
    rated = [e for e in completed if e.quality_status is not None]
    size = manager.data_size(project_id, source_id)
    return SourceStats(
        source=f"{project_id}/{source_id}",
        imports=len(entries),
        success_rate=len(completed) / len(entries) if entries else None,
        median_seconds=statistics.median(seconds) if seconds else None,
        p95_seconds=_p95(seconds),
        last_records=completed[0].records_processed if completed else None,
        versions=len(manager.list_versions(project_id, source_id)) if size else 0,
        storage_bytes=size,
        quality_pass=sum(e.quality_status == "pass" for e in rated),
        quality_warning=sum(e.quality_status == "warning" for e in rated),
        quality_fail=sum(e.quality_status == "fail" for e in rated),
    )


def all_stats(manager: SeparatedDatabaseManager) -> list[SourceStats]:
    """Every source the acting user may read."""
    return [source_stats(manager, *source.key) for source in manager.list_data_sources()]
