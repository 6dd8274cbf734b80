"""build_definitions: the Dagster surface of one catalogue snapshot (a code location's slice)."""

from __future__ import annotations

import dagster as dg

from manifold_pipelines.orchestration.assets import build_source_assets
from manifold_pipelines.orchestration.executor import build_executor
from manifold_pipelines.orchestration.retention import build_retention
from manifold_pipelines.orchestration.schedules import build_sync_schedules
from manifold_pipelines.orchestration.sensors import build_alert_sensors
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot


def build_definitions(snapshot: CatalogSnapshot) -> dg.Definitions:
    """Assets, checks and sync schedules of the snapshot's sources, on the environment's
    executor; the alert sensors and the retention job too when the snapshot is the
    instance-wide one, so that across code locations each exists once."""
    schedules, sensors = build_sync_schedules(snapshot)
    jobs: list[dg.JobDefinition] = []
    if snapshot.instance_wide:
        retention_job, retention_schedule = build_retention(snapshot.home)
        schedules.append(retention_schedule)
        sensors += build_alert_sensors(snapshot.home)
        jobs.append(retention_job)
    return dg.Definitions(
        assets=build_source_assets(snapshot),
        schedules=schedules,
        sensors=sensors,
        jobs=jobs,
        executor=build_executor(),
    )
