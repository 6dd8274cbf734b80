"""The path users take most: a script paging an HTTP API, fetching each page, `r.json()`,
then `emit(body.items)`, timed to a first version next to a direct `import_data` of the same
records.

The API is a threaded HTTP server on 127.0.0.1 in a process of its own (its pages built
once, before any timing), so serving them takes none of the host's interpreter.
"""

from __future__ import annotations

import multiprocessing
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import urlopen

import orjson

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import RunContext
from manifold_pipelines.sources.registry import runner_for
from manifold_pipelines.sources.sandbox.runner import JavascriptRun
from manifold_tests.benchmarks.child_cost import measured_with_children
from manifold_tests.benchmarks.measure import measured

SCRIPT = """
for (let page = 0; page < pages; page++) {
  const r = await fetch(`${base}/items?page=${page}`);
  const body = await r.json();
  emit(body.items);
}
"""
CITIES = ["Lisbon", "Oslo", "Lagos", "Quito", "Hanoi", "Perth", "Cusco", "Turku"]


def api_record(i: int) -> dict[str, Any]:
    """A record as an API gives it: text, a price with cents, flags, a timestamp."""
    return {
        "id": i,
        "name": f"Customer {i}",
        "email": f"customer{i}@example.com",
        "city": CITIES[i % len(CITIES)],
        "amount": (i * 37) % 100_000 + 0.25 + (i % 3) * 0.25,
        "active": i % 5 != 0,
        "created_at": f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}T10:00:00Z",
    }


def page_body(page: int, per_page: int) -> bytes:
    first = page * per_page
    items = [api_record(i) for i in range(first, first + per_page)]
    return orjson.dumps({"page": page, "items": items, "next": page + 1})


def _serve(pages: int, per_page: int, ready: Connection) -> None:
    bodies = [page_body(page, per_page) for page in range(pages)]

    class Pages(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            """Quiet: a benchmark prints its figures only."""

        def do_GET(self) -> None:
            page = int(parse_qs(urlsplit(self.path).query)["page"][0])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(bodies[page])))
            self.end_headers()
            self.wfile.write(bodies[page])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    ready.send(server.server_address[1])
    server.serve_forever()


@contextmanager
def serving_pages(pages: int, per_page: int) -> Iterator[str]:
    """The base URL of a server in its own process answering `/items?page=N`."""
    context = multiprocessing.get_context("spawn")
    theirs, ours = context.Pipe()
    process = context.Process(target=_serve, args=(pages, per_page, ours), daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{theirs.recv()}"
    finally:
        process.terminate()
        process.join()


def run(pages: int, per_page: int) -> dict[str, Any]:
    """One run: parse the pages, import their records directly, run the script through the
    sandbox alone, then run the source to its first version."""
    records = pages * per_page
    with serving_pages(pages, per_page) as base, tempfile.TemporaryDirectory() as tmp:
        bodies = [urlopen(f"{base}/items?page={page}").read() for page in range(pages)]
        parse_cost, parsed = measured(lambda: [orjson.loads(body)["items"] for body in bodies])
        direct = [record for items in parsed for record in items]
        bodies.clear()
        parsed.clear()
        manager = SeparatedDatabaseManager(Path(tmp) / "home")
        manager.create_project(name="Bench", id="bench")
        for source_id in ("direct", "paged"):
            manager.create_data_source(
                "bench",
                name=source_id,
                type="javascript",
                id=source_id,
                config={
                    "script": SCRIPT,
                    "variables": {"base": base, "pages": pages},
                    "allowedHosts": [base.removeprefix("http://")],
                    "timeoutSeconds": 600,
                },
            )
        import_cost, imported = measured(lambda: manager.import_data("bench", "direct", direct))
        direct.clear()  # the runs below import with these freed
        source = manager.get_data_source("bench", "paged")

        def through_sandbox() -> tuple[int, int]:
            run = runner_for("javascript").start(source, RunContext(settings=manager.settings))
            assert isinstance(run, JavascriptRun)
            try:
                return sum(1 for _ in run.records()), run.records_from_bodies
            finally:
                run.close()

        sandbox_cost, (count, from_bodies) = measured_with_children(through_sandbox)
        run_cost, result = measured_with_children(lambda: manager.run_data_source("bench", "paged"))
        same = manager.get_latest_data("bench", "paged").data == (
            manager.get_latest_data("bench", "direct").data
        )
        manager.close()
    assert imported.record_count == result.record_count == count == records and same
    return {
        "parse the pages s": parse_cost.wall,
        **sandbox_cost.figures("sandbox alone"),
        "records the host took from fetched bodies": from_bodies,
        **import_cost.figures("direct import_data"),
        **run_cost.figures("run_data_source to a first version"),
        "records/s to a first version": records / run_cost.own.wall,
        "ratio run / direct import (wall)": run_cost.own.wall / import_cost.wall,
        "ratio run / direct import (cpu)": run_cost.cpu / (import_cost.user + import_cost.system),
    }
