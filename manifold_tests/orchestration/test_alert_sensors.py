"""Each alert sensor raises its alert once, stores it in core.db and POSTs it to the webhook
(a real server on 127.0.0.1); a webhook that fails gets the alert again on the next tick."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.alerts.center import list_alerts
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog
from manifold_pipelines.sources.base import SourceRunError
from manifold_pipelines.stats import source_stats
from manifold_tests.http_serving import serving
from manifold_tests.orchestration.conftest import add_source
from manifold_tests.raw_storage import damage_source

NOTHING = "0 alert(s) raised, 0 delivered, 0 waiting for retry"
DELIVERED_ONE = "1 alert(s) raised, 1 delivered, 0 waiting for retry"


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.failing = False


@pytest.fixture
def webhook() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if receiver.failing:
                self.send_response(503)
            else:
                receiver.posts.append(json.loads(body))
                self.send_response(204)
            self.end_headers()

    with serving(Handler) as base:
        yield f"{base}/hook", receiver


def _tick(manager: SeparatedDatabaseManager, name: str) -> str:
    defs = build_definitions(read_catalog(manager))
    sensor = defs.resolve_sensor_def(name)
    with dg.build_sensor_context(repository_def=defs.get_repository_def()) as context:
        result = sensor.evaluate_tick(context)
    assert not result.run_requests
    return result.skip_message or ""


def _settings(manager: SeparatedDatabaseManager, url: str, **values: Any) -> None:
    manager.set_setting("alerts", {"webhookUrl": url, "webserverUrl": "http://ui:3000", **values})


def test_consecutive_failures_alert_once_per_streak(
    manager: SeparatedDatabaseManager, webhook: tuple[str, Receiver]
) -> None:
    url, receiver = webhook
    _settings(manager, url, consecutiveFailures=2)
    add_source(manager, "api", script="throw new Error('API down')")
    for _ in range(2):
        with pytest.raises(SourceRunError, match="threw Error: API down"):
            manager.run_data_source("shop", "api")
    assert _tick(manager, "alert_on_consecutive_failures") == DELIVERED_ONE
    with pytest.raises(SourceRunError, match="threw Error: API down"):
        manager.run_data_source("shop", "api")
    assert _tick(manager, "alert_on_consecutive_failures") == NOTHING
    (post,) = receiver.posts
    assert post["source"] == "shop/api" and post["kind"] == "consecutive_failures"
    assert post["details"]["failures"] == 2 and "API down" in post["details"]["lastError"]
    assert post["link"] == "http://ui:3000/assets/shop/api"


def test_quality_failure_alert_carries_the_diff(
    manager: SeparatedDatabaseManager, webhook: tuple[str, Receiver]
) -> None:
    url, receiver = webhook
    _settings(manager, url)
    rows = [{"id": i} for i in range(10)]
    add_source(manager, "api", rows)
    manager.run_data_source("shop", "api")
    assert _tick(manager, "alert_on_quality_failures") == NOTHING
    manager.update_data_source(
        "shop", "api", config={"script": "return rows;", "variables": {"rows": rows[:2]}}
    )
    manager.run_data_source("shop", "api")  # removed rate 0.8 > 0.5: fail
    assert _tick(manager, "alert_on_quality_failures") == DELIVERED_ONE
    (post,) = receiver.posts
    assert post["kind"] == "quality_failure" and post["details"]["version"] == 2
    assert post["diff"] == {"added": 0, "removed": 8, "modified": 0, "totalChanges": 8}


def test_slow_import_alert(
    manager: SeparatedDatabaseManager, webhook: tuple[str, Receiver]
) -> None:
    url, receiver = webhook
    _settings(manager, url, slowImportSeconds=0.001)
    add_source(manager, "api")
    manager.run_data_source("shop", "api")
    assert _tick(manager, "alert_on_slow_imports") == DELIVERED_ONE
    assert [p["kind"] for p in receiver.posts] == ["slow_import"]
    assert receiver.posts[0]["details"]["limitSeconds"] == 0.001


def test_storage_limit_alerts_per_source_and_total(
    manager: SeparatedDatabaseManager, webhook: tuple[str, Receiver]
) -> None:
    url, receiver = webhook
    _settings(manager, url, storageLimitBytes=1000, totalStorageLimitBytes=2000)
    add_source(manager, "a")
    add_source(manager, "b")
    manager.run_data_source("shop", "a")
    manager.run_data_source("shop", "b")
    assert _tick(manager, "alert_on_storage_limits") == (
        "3 alert(s) raised, 3 delivered, 0 waiting for retry"
    )
    assert sorted(p["source"] for p in receiver.posts) == ["*/*", "shop/a", "shop/b"]
    sizes = {p["source"]: p["details"]["bytes"] for p in receiver.posts if "bytes" in p["details"]}
    assert sizes["shop/a"] == source_stats(manager, "shop", "a").storage_bytes > 0
    assert _tick(manager, "alert_on_storage_limits") == NOTHING  # once a day
    assert len(receiver.posts) == 3


def test_a_failed_webhook_is_retried_and_nothing_is_lost(
    manager: SeparatedDatabaseManager, webhook: tuple[str, Receiver]
) -> None:
    url, receiver = webhook
    _settings(manager, url, slowImportSeconds=0.001)
    add_source(manager, "api")
    manager.run_data_source("shop", "api")
    receiver.failing = True
    assert _tick(manager, "alert_on_slow_imports") == (
        "1 alert(s) raised, 0 delivered, 1 waiting for retry"
    )
    (alert,) = list_alerts(manager)
    assert alert.delivered_at is None and alert.attempts == 1
    assert alert.last_error == "webhook answered HTTP 503"
    receiver.failing = False
    assert (
        _tick(manager, "alert_on_storage_limits")
        == "0 alert(s) raised, 1 delivered, 0 waiting for retry"
    )
    (alert,) = list_alerts(manager)
    assert alert.delivered_at is not None and alert.attempts == 2
    assert len(receiver.posts) == 1


def test_alerts_are_stored_even_without_a_webhook(manager: SeparatedDatabaseManager) -> None:
    manager.set_setting("alerts", {"slowImportSeconds": 0.001})
    add_source(manager, "api")
    manager.run_data_source("shop", "api")
    assert (
        _tick(manager, "alert_on_slow_imports")
        == "1 alert(s) raised, 0 delivered, 0 waiting for retry"
    )
    assert [a.kind for a in list_alerts(manager, undelivered=True)] == ["slow_import"]


def test_a_damaged_source_does_not_stop_the_storage_alerts_of_the_others(
    manager: SeparatedDatabaseManager, webhook: tuple[str, Receiver], home: Path, engine: str
) -> None:
    """A damaged data file has no size to read, so it raises no alert; a damaged schema's
    tables still have one, and it is over the limit like the others."""
    url, receiver = webhook
    _settings(manager, url, storageLimitBytes=1000)
    add_source(manager, "a")
    add_source(manager, "broken")
    manager.run_data_source("shop", "a")
    manager.run_data_source("shop", "broken")
    damage_source(home, "shop", "broken")
    alerted = ["shop/a"] if engine == "sqlite" else ["shop/a", "shop/broken"]
    raised = f"{len(alerted)} alert(s) raised, {len(alerted)} delivered, 0 waiting for retry"
    assert _tick(manager, "alert_on_storage_limits") == raised
    assert sorted(p["source"] for p in receiver.posts) == alerted
    assert manager.get_latest_data("shop", "a").version == 1
