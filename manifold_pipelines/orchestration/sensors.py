"""Alert sensors: each evaluates one of the alert rules through the library, which
stores the alert in core.db, then delivers whatever is undelivered to the webhook."""

import dagster as dg

from manifold_pipelines.alerts.center import deliver_alerts, raise_alerts
from manifold_pipelines.alerts.models import AlertKind
from manifold_pipelines.manager import SeparatedDatabaseManager

ALERT_SENSORS: dict[AlertKind, str] = {
    "consecutive_failures": "alert_on_consecutive_failures",
    "slow_import": "alert_on_slow_imports",
    "storage_limit": "alert_on_storage_limits",
    "quality_failure": "alert_on_quality_failures",
}
USER = "dagster"


def build_alert_sensor(kind: AlertKind, name: str, home: str) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=60,
        description=f"Raises '{kind}' alerts from Manifold's import history and POSTs them.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        with SeparatedDatabaseManager(home, user=USER) as manager:
            raised = raise_alerts(manager, kind)
            delivery = deliver_alerts(manager)
        for alert in raised:
            context.log.warning(f"{kind} alert for {alert.project_id}/{alert.source_id}")
        for alert_id, error in delivery.failed.items():
            context.log.error(f"alert {alert_id} not delivered, will retry: {error}")
        return dg.SkipReason(
            f"{len(raised)} alert(s) raised, {len(delivery.delivered)} delivered,"
            f" {len(delivery.failed)} waiting for retry"
        )

    return _sensor


def build_alert_sensors(home: str) -> list[dg.SensorDefinition]:
    return [build_alert_sensor(kind, name, home) for kind, name in ALERT_SENSORS.items()]
