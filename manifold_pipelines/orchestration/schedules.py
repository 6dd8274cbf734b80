"""Schedules from each source's sync interval, in minutes.

An interval that divides a day becomes exact crons: the times of day it hits, grouped by
minute, one cron per distinct minute (90 minutes -> `0 0,3,..,21 * * *` and
`30 1,4,..,22 * * *`; `*/90` would silently run hourly). Intervals that do not divide a day
get a sensor that requests one run per source per time slot, de-duplicated by run key.

Each distinct interval has one asset job selecting its sources, and its schedule targets that
job: the UI lists a schedule on an asset's page only when it targets a job holding the asset,
never when it targets the implicit `__ASSET_JOB`. A tick still requests one run per source,
so runs and failures stay per source. One job and one schedule per interval, not per source,
keeps the code location's load time flat as sources are added.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg

from manifold_pipelines.orchestration.assets import asset_key
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot, PinnedSource

MINUTES_PER_DAY = 1440


def crons_for_interval(minutes: int) -> list[str]:
    """Exact crons for an interval that divides a day."""
    if MINUTES_PER_DAY % minutes:
        raise ValueError(f"{minutes} minutes does not divide a day")
    if minutes < 60 and 60 % minutes == 0:
        return ["* * * * *"] if minutes == 1 else [f"*/{minutes} * * * *"]
    hours_by_minute: dict[int, list[int]] = {}
    for start in range(0, MINUTES_PER_DAY, minutes):
        hours_by_minute.setdefault(start % 60, []).append(start // 60)
    crons = []
    for minute, hours in sorted(hours_by_minute.items()):
        every = "*" if len(hours) == 24 else ",".join(str(h) for h in hours)
        crons.append(f"{minute} {every} * * *")
    return crons


def _run_request(source: PinnedSource, slot: str) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=f"{source.project_id}/{source.id}@{slot}",
        asset_selection=[asset_key(*source.key)],
        tags={"manifold/source": f"{source.project_id}/{source.id}"},
    )


def _selection(sources: list[PinnedSource]) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*(asset_key(*source.key) for source in sources))


def build_interval_schedule(minutes: int, sources: list[PinnedSource]) -> dg.ScheduleDefinition:
    job = dg.define_asset_job(
        f"sources_every_{minutes}_minutes",
        selection=_selection(sources),
        description=f"The sources whose sync interval is {minutes} minutes.",
    )

    @dg.schedule(
        cron_schedule=crons_for_interval(minutes),
        job=job,
        name=f"sync_every_{minutes}_minutes",
        description=f"Runs the {len(sources)} source(s) whose sync interval is {minutes} minutes.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        execution_timezone="UTC",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        slot = context.scheduled_execution_time.astimezone(UTC).isoformat()
        for source in sources:
            yield _run_request(source, slot)

    return _schedule


def build_odd_interval_sensor(sources: list[PinnedSource]) -> dg.SensorDefinition:
    job = dg.define_asset_job(
        "sources_on_odd_intervals",
        selection=_selection(sources),
        description="The sources whose sync interval does not divide a day.",
    )

    @dg.sensor(
        name="sync_odd_intervals",
        job=job,
        minimum_interval_seconds=60,
        description="Runs sources whose sync interval does not divide a day, once per interval.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
        now = datetime.now(UTC)
        minutes_since_epoch = int(now.timestamp() // 60)
        for source in sources:
            interval = source.sync_interval or MINUTES_PER_DAY
            slot_start = minutes_since_epoch - minutes_since_epoch % interval
            yield _run_request(source, f"slot-{slot_start}")

    return _sensor


def build_sync_schedules(
    snapshot: CatalogSnapshot,
) -> tuple[list[dg.ScheduleDefinition], list[dg.SensorDefinition]]:
    by_interval: dict[int, list[PinnedSource]] = {}
    for source in snapshot.sources:
        if source.sync_interval:
            by_interval.setdefault(source.sync_interval, []).append(source)
    schedules = [
        build_interval_schedule(minutes, sources)
        for minutes, sources in sorted(by_interval.items())
        if MINUTES_PER_DAY % minutes == 0
    ]
    odd = [s for m, group in sorted(by_interval.items()) if MINUTES_PER_DAY % m for s in group]
    return schedules, ([build_odd_interval_sensor(odd)] if odd else [])
