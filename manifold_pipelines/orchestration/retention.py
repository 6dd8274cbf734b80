"""Retention as a scheduled job: prune each source by its `retention` config, daily."""

import dagster as dg

from manifold_pipelines.manager import SeparatedDatabaseManager


def build_retention(home: str) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    @dg.op(name="apply_retention")
    def apply_retention(context: dg.OpExecutionContext) -> None:
        with SeparatedDatabaseManager(home, user="dagster") as manager:
            for source in manager.list_data_sources():
                retention = source.config.retention
                if retention.keep_versions is None and retention.keep_days is None:
                    continue
                result = manager.cleanup(*source.key)
                context.log.info(
                    f"{source.qualified_id}: pruned {result.pruned_versions or 'nothing'},"
                    f" {result.bytes_before - result.bytes_after:,} bytes reclaimed"
                )

    @dg.job(name="retention_job", description="Prunes old versions by each source's retention.")
    def retention_job() -> None:
        apply_retention()

    schedule = dg.ScheduleDefinition(
        name="retention_daily",
        job=retention_job,
        cron_schedule="30 3 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
    return retention_job, schedule
