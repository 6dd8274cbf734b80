"""The quick-start demo: a JavaScript source whose API answers change between two runs.

Run with `python -m manifold_pipelines.demo`; it uses MANIFOLD_HOME (default
./manifold_home) and can be run again: each run adds two more versions. The "API" is the
source's mock responses, so the demo needs no network.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from manifold_pipelines.errors import NotFoundError
from manifold_pipelines.manager import SeparatedDatabaseManager

API_URL = "https://api.example.com/data"
DEMO_SCRIPT = """
async function fetchData() {
  const response = await fetch('https://api.example.com/data');
  const items = await response.json();
  console.log(`fetched ${items.length} items`);
  return items.map(item => ({ ...item, label: `${item.name} (${item.city})` }));
}
return await fetchData();
"""


def catalogue(rng: random.Random, size: int) -> list[dict[str, Any]]:
    cities = ["Lisbon", "Oslo", "Lagos", "Quito", "Hanoi"]
    return [
        {"id": i, "name": f"item-{i}", "city": rng.choice(cities), "price": rng.randint(5, 500)}
        for i in range(1, size + 1)
    ]


def next_answer(rng: random.Random, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the API says next time: two items gone, three repriced, one new."""
    changed = [dict(item) for item in items[2:]]
    for item in rng.sample(changed, 3):
        item["price"] = int(item["price"]) + rng.randint(1, 50)
    new_id = max(item["id"] for item in items) + 1
    changed.append({"id": new_id, "name": f"item-{new_id}", "city": "Oslo", "price": 42})
    return changed


def _config(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "script": DEMO_SCRIPT,
        "mockResponses": {API_URL: {"body": items}},
        "diffKey": "id",
        "description": "A demo API, answered by mock responses",
    }


def ensure_demo(manager: SeparatedDatabaseManager, items: list[dict[str, Any]]) -> None:
    """Create the demo project and source unless they exist."""
    try:
        manager.get_project("demo")
    except NotFoundError:
        manager.create_project(name="Demo", id="demo", description="Manifold's quick-start demo")
    try:
        manager.get_data_source("demo", "api")
    except NotFoundError:
        manager.create_data_source(
            "demo",
            name="API Data",
            type="javascript",
            id="api",
            config=_config(items),
            sync_interval=60,
        )


def main() -> None:
    rng = random.Random()
    first = catalogue(rng, 20)
    with SeparatedDatabaseManager() as manager:
        ensure_demo(manager, first)
        manager.update_data_source("demo", "api", config=_config(first))
        a = manager.run_data_source("demo", "api")
        manager.update_data_source("demo", "api", config=_config(next_answer(rng, first)))
        b = manager.run_data_source("demo", "api")
        diff = manager.get_data_diff("demo", "api", a.version, b.version)
        print(
            f"Ran demo/api twice in the JavaScript sandbox: versions {a.version} and {b.version}."
        )
        print(f"Data file: {manager.data_file_path('demo', 'api')}")
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
