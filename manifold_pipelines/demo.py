"""The quick-start demo: a project, a source, two imports, and the diff between them.

Run with `python -m manifold_pipelines.demo`; it uses MANIFOLD_HOME (default
./manifold_home) and can be run again: each run adds two more versions.
"""

from __future__ import annotations

import random

import orjson

from manifold_pipelines.errors import NotFoundError
from manifold_pipelines.manager import SeparatedDatabaseManager

DEMO_SCRIPT = """
async function fetchData() {
  const response = await fetch('https://api.example.com/data');
  const items = await response.json();
  return items.map(item => ({ ...item, fetchedAt: new Date().toISOString() }));
}
return await fetchData();
"""


def _catalogue(rng: random.Random, size: int) -> list[dict[str, object]]:
    cities = ["Lisbon", "Oslo", "Lagos", "Quito", "Hanoi"]
    return [
        {"id": i, "name": f"item-{i}", "city": rng.choice(cities), "price": rng.randint(5, 500)}
        for i in range(1, size + 1)
    ]


def ensure_demo(manager: SeparatedDatabaseManager) -> None:
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
            config={"script": DEMO_SCRIPT, "enableDiff": True, "diffKey": "id"},
            sync_interval=60,
        )


def main() -> None:
    rng = random.Random()
    with SeparatedDatabaseManager() as manager:
        ensure_demo(manager)
        first = _catalogue(rng, 20)
        second = [dict(record) for record in first[2:]]
        for record in rng.sample(second, 3):
            record["price"] = int(record["price"]) + rng.randint(1, 50)
        second.append({"id": 21, "name": "item-21", "city": "Oslo", "price": 42, "onSale": True})
        a = manager.import_data("demo", "api", first)
        b = manager.import_data("demo", "api", second)
        diff = manager.get_data_diff("demo", "api", a.version, b.version)
        print(f"Imported demo/api versions {a.version} and {b.version}.")
        print(f"Data file: {manager.data_file_path('demo', 'api')}")
        print(f"Diff {a.version} -> {b.version}:")
        print(orjson.dumps(diff.to_dict(), option=orjson.OPT_INDENT_2).decode())
        print("Quality:")
        for metric in b.quality:
            field = f"[{metric.field}]" if metric.field else ""
            print(f"  {metric.metric}{field}: {metric.value} -> {metric.status}")


if __name__ == "__main__":
    main()
