"""The alert rules (consecutive failures, slow imports, storage limits, quality failures),
read from core.db's import history and the files' sizes only.

Each rule returns candidate alerts with a dedup key, so a condition that persists raises one
alert (per failure streak, per slow import, per day over a storage limit), not one per tick.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from manifold_pipelines.alerts.models import AlertKind, AlertSettings
from manifold_pipelines.core.models import ImportHistoryEntry


@dataclass(frozen=True)
class Candidate:
    kind: AlertKind
    project_id: str
    source_id: str
    dedup_key: str
    details: dict[str, Any]


History = Sequence[ImportHistoryEntry]
"""A source's recent imports, newest first."""


def consecutive_failures(
    source: tuple[str, str], history: History, settings: AlertSettings
) -> Candidate | None:
    streak = 0
    for entry in history:
        if entry.status != "failed":
            break
        streak += 1
    if streak < settings.consecutive_failures:
        return None
    # The streak's N-th failure names it: a longer streak does not raise it again.
    anchor = history[streak - settings.consecutive_failures]
    return Candidate(
        "consecutive_failures",
        *source,
        dedup_key=f"consecutive_failures:{'/'.join(source)}:{anchor.import_log_id}",
        details={
            "failures": streak,
            "threshold": settings.consecutive_failures,
            "lastError": history[0].error,
        },
    )


def slow_import(
    source: tuple[str, str], history: History, settings: AlertSettings
) -> Candidate | None:
    completed = [entry for entry in history if entry.status == "completed"]
    if not completed:
        return None
    latest, earlier = completed[0], completed[1:11]
    seconds = latest.duration_ms / 1000
    median = statistics.median(e.duration_ms / 1000 for e in earlier) if len(earlier) >= 3 else None
    over_limit = seconds > settings.slow_import_seconds
    over_median = (
        median is not None
        and seconds >= settings.slow_import_min_seconds
        and seconds > settings.slow_import_factor * median
    )
    if not (over_limit or over_median):
        return None
    return Candidate(
        "slow_import",
        *source,
        dedup_key=f"slow_import:{'/'.join(source)}:{latest.import_log_id}",
        details={
            "seconds": seconds,
            "limitSeconds": settings.slow_import_seconds,
            "recentMedianSeconds": median,
            "factor": settings.slow_import_factor,
            "version": latest.version,
        },
    )


def quality_failure(
    source: tuple[str, str], history: History, settings: AlertSettings
) -> Candidate | None:
    completed = [entry for entry in history if entry.status == "completed"]
    if not completed or completed[0].quality_status != "fail":
        return None
    latest = completed[0]
    return Candidate(
        "quality_failure",
        *source,
        dedup_key=f"quality_failure:{'/'.join(source)}:{latest.import_log_id}",
        details={"version": latest.version, "versionStatus": latest.version_status},
    )


HISTORY_RULES: dict[AlertKind, Callable[..., Candidate | None]] = {
    "consecutive_failures": consecutive_failures,
    "slow_import": slow_import,
    "quality_failure": quality_failure,
}


def storage_limits(
    sizes: dict[tuple[str, str], int], settings: AlertSettings, today: date
) -> list[Candidate]:
    """Sources over the per-source limit, and the total over its limit, once a day each.
    `sizes` are `data_file_size` figures: what imports report and `manifold stats` shows."""
    found = []
    if settings.storage_limit_bytes is not None:
        for (project_id, source_id), size in sorted(sizes.items()):
            if size > settings.storage_limit_bytes:
                found.append(
                    Candidate(
                        "storage_limit",
                        project_id,
                        source_id,
                        dedup_key=f"storage_limit:{project_id}/{source_id}:{today.isoformat()}",
                        details={"bytes": size, "limitBytes": settings.storage_limit_bytes},
                    )
                )
    total = sum(sizes.values())
    if (
        settings.total_storage_limit_bytes is not None
        and total > settings.total_storage_limit_bytes
    ):
        found.append(
            Candidate(
                "storage_limit",
                "*",
                "*",
                dedup_key=f"storage_limit:total:{today.isoformat()}",
                details={"bytes": total, "limitBytes": settings.total_storage_limit_bytes},
            )
        )
    return found
