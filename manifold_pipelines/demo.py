"""The demo project: a JavaScript source reading an API whose answers change between runs,
a CSV source, and a downstream source joining them.

    python -m manifold_pipelines.demo           # set up, run the API source twice, print the diff
    python -m manifold_pipelines.demo --setup   # set up only (then `dagster dev`)

It uses MANIFOLD_HOME (default ./manifold_home). The "API" is the source's mock responses
plus a script that reprices and drops some items at random, so every run has changes to
show without any network.
"""

from __future__ import annotations

import argparse
import random
from typing import Any

import orjson

from manifold_pipelines.errors import NotFoundError
from manifold_pipelines.manager import SeparatedDatabaseManager

API_URL = "https://api.example.com/data"
API_SCRIPT = """
async function fetchData() {
  const response = await fetch('https://api.example.com/data');
  const items = await response.json();
  console.log(`fetched ${items.length} items`);
  // The demo API changes between calls: some items sell out, some are repriced.
  return items
    .filter(() => Math.random() > 0.1)
    .map(item => ({ ...item, price: Math.random() < 0.2 ? item.price + 5 : item.price }));
}
return await fetchData();
"""
REPORT_SCRIPT = """
const stores = Object.fromEntries(inputs.stores.map(s => [s.city, s.name]));
return inputs.api.map(item => ({
  id: item.id, item: item.name, price: item.price, store: stores[item.city] ?? null,
}));
"""
STORES_CSV = "city,name,opened\nLisbon,Baixa,2019\nOslo,Grünerløkka,2021\nLagos,Ikoyi,2022\n"
CITIES = ["Lisbon", "Oslo", "Lagos", "Quito", "Hanoi"]


def catalogue(size: int = 40) -> list[dict[str, Any]]:
    rng = random.Random(7)
    return [
        {"id": i, "name": f"item-{i}", "city": rng.choice(CITIES), "price": rng.randint(5, 500)}
        for i in range(1, size + 1)
    ]


def _ensure_source(manager: SeparatedDatabaseManager, source_id: str, **spec: Any) -> None:
    try:
        manager.get_data_source("demo", source_id)
    except NotFoundError:
        manager.create_data_source("demo", id=source_id, **spec)


def ensure_demo(manager: SeparatedDatabaseManager) -> None:
    """Create the demo project and its three sources unless they exist."""
    try:
        manager.get_project("demo")
    except NotFoundError:
        manager.create_project(name="Demo", id="demo", description="Manifold's quick-start demo")
    stores = manager.settings.home / "files" / "stores.csv"
    stores.parent.mkdir(parents=True, exist_ok=True)
    stores.write_text(STORES_CSV, encoding="utf-8")
    _ensure_source(
        manager,
        "api",
        name="API Data",
        type="javascript",
        sync_interval=60,
        config={
            "script": API_SCRIPT,
            "mockResponses": {API_URL: {"body": catalogue()}},
            "description": "A demo API (mock responses) whose answers change between runs",
            "owners": ["team:demo"],
            "quality": {"removedRate": {"warn": 0.05, "fail": 0.5}},
        },
    )
    _ensure_source(
        manager,
        "stores",
        name="Stores",
        type="csv",
        sync_interval=1440,
        config={"path": str(stores), "diffKey": "city", "description": "Stores, from a CSV file"},
    )
    _ensure_source(
        manager,
        "report",
        name="Price report",
        type="javascript",
        sync_interval=90,
        config={"script": REPORT_SCRIPT, "description": "Items joined with their store"},
    )
    existing = {(r.upstream, r.downstream) for r in manager.list_relationships()}
    for upstream in ("api", "stores"):
        if (("demo", upstream), ("demo", "report")) not in existing:
            manager.add_relationship(f"demo/{upstream}", "demo/report")


def main() -> None:
    parser = argparse.ArgumentParser(description="Manifold's demo project.")
    parser.add_argument("--setup", action="store_true", help="set up only; run nothing")
    args = parser.parse_args()
    with SeparatedDatabaseManager() as manager:
        ensure_demo(manager)
        if args.setup:
            print(
                f"Demo project ready in {manager.settings.home}: demo/api, demo/stores,"
                " demo/report. Start Dagster and open http://127.0.0.1:3000"
            )
            return
        a = manager.run_data_source("demo", "api")
        b = manager.run_data_source("demo", "api")
        diff = manager.get_data_diff("demo", "api", a.version, b.version)
        print(
            f"Ran demo/api twice in the JavaScript sandbox: versions {a.version} and {b.version}."
        )
        print(f"Stored in: {manager.data_location('demo', 'api')}")
        print(f"Import log of version {b.version}:")
        print(manager.get_import_logs("demo", "api")[0].log)
        print(f"Diff {a.version} -> {b.version}:")
        print(orjson.dumps(diff.to_dict(), option=orjson.OPT_INDENT_2).decode())
        print("Quality:")
        for metric in b.quality:
            field = f"[{metric.field}]" if metric.field else ""
            print(f"  {metric.metric}{field}: {metric.value} -> {metric.status}")


if __name__ == "__main__":
    main()
