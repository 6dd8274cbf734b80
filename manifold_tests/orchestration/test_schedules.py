"""Schedules honour any sync interval: exact crons when it divides a day, a slot sensor when
it does not; each tick asks for one run per source, keyed so a slot never runs twice, in the
interval's own job (which is what shows the schedule on each asset's page)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import dagster as dg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.schedules import crons_for_interval
from manifold_pipelines.orchestration.snapshot import CatalogSnapshot, read_catalog


def _matches(cron: str, moment: datetime) -> bool:
    """A small independent reading of 'minute hour * * *' crons, as an oracle."""
    minute, hour, *_ = cron.split()

    def field(spec: str, value: int) -> bool:
        if spec == "*":
            return True
        if spec.startswith("*/"):
            return value % int(spec[2:]) == 0
        return value in {int(part) for part in spec.split(",")}

    return field(minute, moment.minute) and field(hour, moment.hour)


def _fire_times(schedule: dg.ScheduleDefinition, day: datetime) -> list[datetime]:
    crons = (
        [schedule.cron_schedule]
        if isinstance(schedule.cron_schedule, str)
        else list(schedule.cron_schedule)
    )
    minutes = (day + timedelta(minutes=i) for i in range(1440))
    return [m for m in minutes if any(_matches(cron, m) for cron in crons)]


def _tick(defs: dg.Definitions, name: str, at: datetime) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(name)
    with dg.build_schedule_context(scheduled_execution_time=at) as context:
        return list(schedule.evaluate_tick(context).run_requests or [])


def test_crons_fire_exactly_every_interval_that_divides_a_day() -> None:
    """Read by the oracle above, minute by minute over a day: every `*/N` form included."""
    assert crons_for_interval(15) == ["*/15 * * * *"]
    assert crons_for_interval(60) == ["0 * * * *"]
    assert crons_for_interval(1440) == ["0 0 * * *"]
    assert crons_for_interval(90) == [
        "0 0,3,6,9,12,15,18,21 * * *",
        "30 1,4,7,10,13,16,19,22 * * *",
    ]
    assert crons_for_interval(480) == ["0 0,8,16 * * *"]
    day = datetime(2026, 11, 28, tzinfo=UTC)
    for minutes in (1, 2, 5, 15, 16, 32, 45, 48, 90, 96, 120, 160, 288, 360, 480, 720, 1440):
        crons = crons_for_interval(minutes)
        fired = [
            offset
            for offset in range(1440)
            if any(_matches(cron, day + timedelta(minutes=offset)) for cron in crons)
        ]
        assert fired == list(range(0, 1440, minutes)), minutes


@pytest.mark.parametrize(
    ("minutes", "sources", "fires", "quiet"),
    [
        (15, ["shop/orders"], "2026-11-28T10:45:00", "2026-11-28T10:50:00"),
        (60, ["analytics/report", "shop/customers"], "2026-11-28T10:00:00", "2026-11-28T10:30:00"),
        (90, ["shop/stock-levels"], "2026-11-28T01:30:00", "2026-11-28T01:00:00"),
        (1440, ["shop/daily-prices"], "2026-11-28T00:00:00", "2026-11-28T12:00:00"),
    ],
)
def test_interval_schedule_ticks(
    catalog: CatalogSnapshot, minutes: int, sources: list[str], fires: str, quiet: str
) -> None:
    defs = build_definitions(catalog)
    schedule = defs.resolve_schedule_def(f"sync_every_{minutes}_minutes")
    at = datetime.fromisoformat(fires).replace(tzinfo=UTC)
    requests = _tick(defs, schedule.name, at)
    assert sorted("/".join(r.asset_selection[0].path) for r in requests) == sorted(sources)
    assert all(r.run_key.endswith(at.isoformat()) for r in requests)
    fired = _fire_times(schedule, at.replace(hour=0, minute=0))
    assert at in fired and len(fired) == 1440 // minutes
    assert all(b - a == timedelta(minutes=minutes) for a, b in pairwise(fired))
    assert datetime.fromisoformat(quiet).replace(tzinfo=UTC) not in fired


def test_ninety_minutes_fires_sixteen_times_a_day_at_exact_times(catalog: CatalogSnapshot) -> None:
    schedule = build_definitions(catalog).resolve_schedule_def("sync_every_90_minutes")
    fired = _fire_times(schedule, datetime(2026, 11, 28, tzinfo=UTC))
    assert len(fired) == 16
    assert [f"{t:%H:%M}" for t in fired[:3]] == ["00:00", "01:30", "03:00"]
    assert all(b - a == timedelta(minutes=90) for a, b in pairwise(fired))


def test_a_hundred_minutes_is_run_once_per_slot_by_the_sensor(catalog: CatalogSnapshot) -> None:
    defs = build_definitions(catalog)
    sensor = defs.resolve_sensor_def("sync_odd_intervals")
    with dg.build_sensor_context(repository_def=defs.get_repository_def()) as context:
        first = sensor.evaluate_tick(context).run_requests or []
        second = sensor.evaluate_tick(context).run_requests or []
    assert ["/".join(r.asset_selection[0].path) for r in first] == ["shop/odd-feed"]
    slot = int(datetime.now(UTC).timestamp() // 60)
    slot -= slot % 100
    assert first[0].run_key == f"shop/odd-feed@slot-{slot}"
    assert [r.run_key for r in second] == [r.run_key for r in first]  # de-duplicated by Dagster


def test_sources_without_interval_or_disabled_are_never_scheduled(catalog: CatalogSnapshot) -> None:
    defs = build_definitions(catalog)
    requested = set()
    for schedule in defs.get_repository_def().schedule_defs:
        if schedule.name.startswith("sync_every_"):
            for request in _tick(defs, schedule.name, datetime(2026, 11, 28, tzinfo=UTC)):
                requested.add("/".join(request.asset_selection[0].path))
    assert requested == {  # midnight: every interval that divides a day fires
        "shop/orders",
        "shop/customers",
        "analytics/report",
        "shop/stock-levels",
        "shop/daily-prices",
    }


def test_a_tick_runs_one_source_with_its_checks_in_the_job_its_schedule_targets(
    catalog_manager: SeparatedDatabaseManager,
) -> None:
    defs = build_definitions(read_catalog(catalog_manager))
    schedule = defs.resolve_schedule_def("sync_every_60_minutes")
    requests = _tick(defs, schedule.name, datetime(2026, 11, 28, 10, tzinfo=UTC))
    (request,) = [r for r in requests if r.asset_selection == [dg.AssetKey(["shop", "customers"])]]
    result = defs.resolve_job_def(schedule.job_name).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), asset_selection=request.asset_selection
    )
    assert result.success
    materialized = [e.asset_key for e in result.get_asset_materialization_events()]
    assert materialized == [dg.AssetKey(["shop", "customers"])]
    assert len(result.get_asset_check_evaluations()) == 6
    assert catalog_manager.get_latest_data("shop", "customers").version == 1
    assert catalog_manager.list_versions("analytics", "report") == []
