"""Raising alerts from the rules and delivering them: stored in core.db first, then POSTed to
the webhook; a delivery that fails is retried on the next call, so no alert is lost."""

from __future__ import annotations

import contextlib
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import orjson

from manifold_pipelines.alerts.models import Alert, AlertKind, AlertSettings, Delivery
from manifold_pipelines.alerts.rules import HISTORY_RULES, Candidate, storage_limits
from manifold_pipelines.core.global_settings import load_setting
from manifold_pipelines.core.models import DataSource
from manifold_pipelines.errors import StorageError
from manifold_pipelines.timestamps import utc_now

if TYPE_CHECKING:
    from manifold_pipelines.manager import SeparatedDatabaseManager

SETTINGS_KEY = "alerts"
WEBHOOK_TIMEOUT_SECONDS = 10.0


def alert_settings(manager: SeparatedDatabaseManager) -> AlertSettings:
    settings: AlertSettings = load_setting(manager.get_settings(), SETTINGS_KEY)
    return settings


def raise_alerts(manager: SeparatedDatabaseManager, kind: AlertKind) -> list[Alert]:
    """Evaluate one rule over every enabled source; store and return the alerts it raised."""
    settings = alert_settings(manager)
    sources = [s for s in manager.list_data_sources() if s.enabled]
    if kind == "storage_limit":
        candidates = storage_limits(_sizes(manager, sources), settings, utc_now().date())
    else:
        rule = HISTORY_RULES[kind]
        candidates = []
        for source in sources:
            recent = manager.import_history(source.project_id, source.id, limit=50)
            found = rule((source.project_id, source.id), recent, settings)
            if found is not None:
                candidates.append(found)
    return [alert for c in candidates if (alert := _store(manager, c)) is not None]


def _sizes(
    manager: SeparatedDatabaseManager, sources: list[DataSource]
) -> dict[tuple[str, str], int]:
    """Each source's size as its imports report it. A damaged file is left out: its own
    failing imports raise its alert, and it must not stop the other sources' alerts."""
    sizes = {}
    for source in sources:
        with contextlib.suppress(StorageError):
            sizes[source.key] = manager.data_size(*source.key)
    return sizes


def _store(manager: SeparatedDatabaseManager, candidate: Candidate) -> Alert | None:
    details = dict(candidate.details)
    version = details.get("version")
    if version and candidate.project_id != "*":
        details["diff"] = _diff_summary(manager, candidate.project_id, candidate.source_id, version)
    with manager.core.writing():
        alert_id = manager.core.alerts.insert(
            candidate.kind, candidate.project_id, candidate.source_id, candidate.dedup_key, details
        )
        if alert_id is None:
            return None
        manager.core.audit(
            "alert",
            "data_source",
            f"{candidate.project_id}/{candidate.source_id}",
            details={"kind": candidate.kind, **details},
        )
    return next(alert for alert in list_alerts(manager, limit=50) if alert.id == alert_id)


def _diff_summary(
    manager: SeparatedDatabaseManager, project_id: str, source_id: str, version: int
) -> dict[str, int] | None:
    """The one data file an alert is about is opened, for the diff summary in its payload."""
    for info in manager.list_versions(project_id, source_id):
        if info.version == version:
            return info.diff
    return None


def list_alerts(
    manager: SeparatedDatabaseManager, *, undelivered: bool = False, limit: int = 100
) -> list[Alert]:
    return manager.core.alerts.recent(undelivered=undelivered, limit=limit)


def payload(alert: Alert, settings: AlertSettings) -> dict[str, Any]:
    source = f"{alert.project_id}/{alert.source_id}"
    base = settings.webserver_url.rstrip("/")
    link = f"{base}/assets" if alert.project_id == "*" else f"{base}/assets/{source}"
    return {
        "source": source,
        "kind": alert.kind,
        "raisedAt": alert.raised_at.isoformat(),
        "details": alert.details,
        "diff": alert.details.get("diff"),
        "link": link,
    }


def deliver_alerts(manager: SeparatedDatabaseManager) -> Delivery:
    """POST every undelivered alert, oldest first; failures are recorded and retried later."""
    settings = alert_settings(manager)
    delivery = Delivery(delivered=[], failed={})
    if settings.webhook_url is None:
        return delivery
    for alert in reversed(list_alerts(manager, undelivered=True, limit=1000)):
        error = _post(settings.webhook_url, payload(alert, settings))
        with manager.core.writing():
            manager.core.alerts.record_attempt(alert.id, error)
        if error is None:
            delivery.delivered.append(alert.id)
        else:
            delivery.failed[alert.id] = error
    return delivery


def _post(url: str, body: dict[str, Any]) -> str | None:
    request = urllib.request.Request(
        url,
        data=orjson.dumps(body),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "manifold-alerts"},
    )
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"webhook answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"webhook unreachable: {getattr(exc, 'reason', exc)}"
    return None if 200 <= status < 300 else f"webhook answered HTTP {status}"
