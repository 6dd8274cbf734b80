"""Incremental sources as users run them: a script paging a real change feed on 127.0.0.1
with `updated_since` over several runs, each importing only what changed and deleting what
the feed says was deleted; a failed run leaves the cursor where it was."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import StateConflictError
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.conftest import make_source
from manifold_tests.http_serving import serving

SCRIPT = (Path(__file__).parents[1] / "cases" / "scripts" / "change_feed.js").read_text()
PAGE_SIZE = 3


class Feed:
    """Orders with their update times, deletions with theirs, and every query served."""

    def __init__(self) -> None:
        self.orders: dict[int, dict[str, Any]] = {}
        self.deleted: dict[int, str] = {}
        self.queries: list[str] = []
        self.failing = False

    def put(self, order_id: int, total: int, at: str) -> None:
        self.orders[order_id] = {"id": order_id, "total": total, "updated_at": at}
        self.deleted.pop(order_id, None)

    def delete(self, order_id: int, at: str) -> None:
        self.orders.pop(order_id, None)
        self.deleted[order_id] = at

    def page(self, since: str, page: int) -> dict[str, Any]:
        changed = sorted(
            (o for o in self.orders.values() if o["updated_at"] > since),
            key=lambda o: (o["updated_at"], o["id"]),
        )
        items = changed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        more = len(changed) > page * PAGE_SIZE
        gone = [i for i, at in self.deleted.items() if at > since] if page == 1 else []
        return {"items": items, "deleted": gone, "next": page + 1 if more else None}


@pytest.fixture
def feed() -> Iterator[tuple[Feed, str]]:
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Quiet: the test output is for failures."""

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            state.queries.append(self.path)
            if state.failing:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            since = query.get("updated_since", [""])[0]
            body = json.dumps(state.page(since, int(query["page"][0]))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as base:
        yield state, base


def test_a_script_follows_a_change_feed_over_several_runs(
    manager: SeparatedDatabaseManager, feed: tuple[Feed, str]
) -> None:
    orders, base = feed
    make_source(
        manager,
        "shop",
        "orders",
        script=SCRIPT,
        mode="incremental",
        variables={"base": base},
        allowedHosts=[base.removeprefix("http://")],
    )
    for order_id in range(1, 8):
        orders.put(order_id, 10 * order_id, f"2026-11-01T00:00:0{order_id}Z")
    first = manager.run_data_source("shop", "orders")
    assert (first.record_count, first.upserts, first.deletions) == (7, 7, 0)
    assert manager.get_source_state("shop", "orders") == {"cursor": "2026-11-01T00:00:07Z"}
    assert orders.queries[-1].endswith("page=3")  # seven orders in pages of three

    orders.put(2, 99, "2026-11-02T00:00:00Z")
    orders.put(8, 80, "2026-11-02T00:00:01Z")
    orders.delete(5, "2026-11-02T00:00:02Z")
    orders.queries.clear()
    second = manager.run_data_source("shop", "orders")
    assert orders.queries == [
        "/changes?updated_since=2026-11-01T00%3A00%3A07Z&page=1"
    ]  # one page: only what changed since the cursor
    assert second.diff is not None
    assert (second.diff.added, second.diff.removed, second.diff.modified) == (1, 1, 1)
    assert (second.upserts, second.deletions, second.record_count) == (2, 1, 7)
    latest = {o["id"]: o for o in manager.get_latest_data("shop", "orders").data}
    assert latest == orders.orders
    assert manager.get_source_state("shop", "orders") == {"cursor": "2026-11-02T00:00:01Z"}

    orders.failing = True
    with pytest.raises(SourceRunError, match="HTTP 503"):
        manager.run_data_source("shop", "orders")
    assert manager.get_source_state("shop", "orders") == {"cursor": "2026-11-02T00:00:01Z"}
    assert [v.version for v in manager.list_versions("shop", "orders")] == [1, 2]

    orders.failing = False
    quiet = manager.run_data_source("shop", "orders")  # nothing new: an empty version
    assert quiet.diff is not None and quiet.diff.total_changes == 0
    assert quiet.record_count == 7


def test_a_stored_variable_named_like_a_new_context_name_still_lists_and_says_what_to_do(
    manager: SeparatedDatabaseManager,
) -> None:
    """A config saved before `state` joined the script context keeps loading (listing must
    not fail); its runs are refused, saying to rename the variable."""
    make_source(manager, "demo", "old", script="return [{id: 1, s: state}];")
    manager.core.conn.execute(
        "UPDATE data_sources SET config = ? WHERE id = 'old'",
        (json.dumps({"script": "return [{id: 1, s: state}];", "variables": {"state": "OR"}}),),
    )
    (source,) = manager.list_data_sources("demo")
    assert source.config.variables == {"state": "OR"}  # type: ignore[union-attr]
    with pytest.raises(SourceRunError, match=r"variable\(s\) state now name part of the script"):
        manager.run_data_source("demo", "old")
    assert manager.get_import_logs("demo", "old")[0].status == "failed"


def test_a_csv_source_with_a_cursor_field_imports_only_the_rows_past_it(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    """A growing export: each run reads the rows updated after the cursor, upserts them, and
    moves the cursor to the newest time seen."""
    export = home / "orders.csv"
    export.write_text("id,total,updated_at\n1,10,2026-11-01\n2,20,2026-11-02\n3,30,2026-11-03\n")
    manager.create_project(name="Shop", id="shop")
    manager.create_data_source(
        "shop",
        name="Orders",
        type="csv",
        id="orders",
        config={"path": "orders.csv", "mode": "incremental", "cursorField": "updated_at"},
    )
    first = manager.run_data_source("shop", "orders")
    assert (first.record_count, first.upserts) == (3, 3)
    assert manager.get_source_state("shop", "orders") == {"cursor": "2026-11-03"}
    with export.open("a") as out:
        out.write("2,25,2026-11-04\n4,40,2026-11-05\n")
    second = manager.run_data_source("shop", "orders")
    assert second.upserts == 2 and second.diff is not None
    assert (second.diff.added, second.diff.modified, second.diff.removed) == (1, 1, 0)
    assert [r["total"] for r in manager.get_latest_data("shop", "orders").data] == [10, 25, 30, 40]
    assert manager.get_source_state("shop", "orders") == {"cursor": "2026-11-05"}
    manager.set_source_state("shop", "orders", {"cursor": "2026-11-01"})  # backfill
    again = manager.run_data_source("shop", "orders")
    assert again.upserts == 4 and again.diff is not None and again.diff.total_changes == 0


@pytest.mark.slow
def test_a_run_whose_state_another_import_moved_on_is_refused_and_changes_nothing(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    """Two runs of one source at once (a schedule and a manual run) both start from the same
    cursor; the second to commit would write an older cursor and re-import what the first
    did. It is refused instead, and the next run goes on from the first's state. The first
    run waits at a gate on a real server, holding the source's write lock, while the second
    starts from the same state and queues for the lock."""
    first_waits, release = threading.Event(), threading.Event()

    class Gate(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Quiet: the test output is for failures."""

        def do_GET(self) -> None:
            if not first_waits.is_set():  # only the first run waits
                first_waits.set()
                release.wait(timeout=60)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            with SeparatedDatabaseManager(home) as own:
                outcomes[name] = own.run_data_source("shop", "counter")
        except BaseException as exc:
            outcomes[name] = exc

    with serving(Gate) as base:
        make_source(
            manager,
            "shop",
            "counter",
            mode="incremental",
            variables={"base": base},
            allowedHosts=[base.removeprefix("http://")],
            timeoutSeconds=60,
            script="state.n = (state.n || 0) + 1; await fetch(`${base}/gate`);"
            " return [{id: state.n}];",
        )
        first = threading.Thread(target=run, args=("first",))
        first.start()
        assert first_waits.wait(timeout=60), "the first run never reached the gate"
        second = threading.Thread(target=run, args=("second",))
        second.start()
        time.sleep(2)  # the second reads the state at once, then waits for the lock
        release.set()
        first.join(timeout=60)
        second.join(timeout=60)
    assert getattr(outcomes["first"], "state", None) == {"n": 1}
    assert isinstance(outcomes["second"], StateConflictError)
    assert "started from a stale state" in str(outcomes["second"])
    assert manager.get_source_state("shop", "counter") == {"n": 1}
    assert [r["id"] for r in manager.get_latest_data("shop", "counter").data] == [1]
    assert manager.get_import_logs("shop", "counter")[0].status == "failed"


def test_a_dry_run_shows_what_an_incremental_run_would_commit(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    make_source(
        manager,
        "shop",
        "feed",
        mode="incremental",
        script="deleteRecords([9]); state.cursor = 5; return [{id: 1}];",
    )
    done = run_manifold(home, "run", "shop/feed", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "would become version 1 (published). Nothing was written." in done.stdout
    assert 'incremental: 1 upserts, 0 deletions (1 of keys not there), state {"cursor":5}' in (
        done.stdout
    )
    as_json = json.loads(run_manifold(home, "run", "shop/feed", "--dry-run", "--json").stdout)
    assert (as_json["mode"], as_json["upserts"], as_json["state"]) == (
        "incremental",
        1,
        {"cursor": 5},
    )
    assert manager.get_source_state("shop", "feed") == {}
    assert manager.list_versions("shop", "feed") == []
