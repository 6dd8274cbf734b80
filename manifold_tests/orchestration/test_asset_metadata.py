"""What a materialization tells a user on the asset's page, read back from a real run: a
source's size is one figure everywhere (the metadata, `manifold stats`, the storage alerts)
and it grows as versions are added, or a user cannot trust any of them."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import read_catalog
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.orchestration.conftest import add_source


def materialization_metadata(manager: SeparatedDatabaseManager, key: str) -> dict[str, Any]:
    """Materialize one source in-process and return its materialization's metadata values."""
    defs = build_definitions(read_catalog(manager))
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    result = dg.materialize(assets, instance=dg.DagsterInstance.ephemeral(), selection=[key])
    (event,) = result.get_asset_materialization_events()
    return {name: value.value for name, value in event.materialization.metadata.items()}


def set_rows(manager: SeparatedDatabaseManager, rows: list[dict[str, Any]]) -> None:
    manager.update_data_source(
        "shop", "api", config={"script": "return rows;", "variables": {"rows": rows}}
    )


@pytest.mark.slow
def test_file_size_grows_with_each_version_and_matches_manifold_stats(
    manager: SeparatedDatabaseManager,
) -> None:
    rows = [{"id": i, "text": f"row {i} " * 20} for i in range(1000)]
    add_source(manager, "api", rows)
    sizes = [materialization_metadata(manager, "shop/api")["file_size_bytes"]]
    for round_ in range(2):
        set_rows(manager, [{**row, "round": round_} for row in rows])
        sizes.append(materialization_metadata(manager, "shop/api")["file_size_bytes"])
    assert sizes[0] < sizes[1] < sizes[2]
    stats = run_manifold(manager.settings.home, "stats", "shop/api", "--json")
    assert stats.returncode == 0, stats.stderr
    (figures,) = json.loads(stats.stdout)["sources"]
    assert figures["storage_bytes"] == sizes[-1]
    assert manager.get_latest_data("shop", "api").version == 3


def test_changes_preview_shows_keys_and_changed_fields_as_json_and_how_to_see_the_rest(
    manager: SeparatedDatabaseManager,
) -> None:
    rows = [{"id": i, "name": f"n{i}", "vip": False} for i in range(12)]
    add_source(manager, "api", rows)
    materialization_metadata(manager, "shop/api")
    long_name = "x|`y`" * 40  # 200 characters: longer than any cut the preview may make
    changed = [{**row, "name": f"{long_name}{row['id']}", "vip": None} for row in rows[:11]]
    set_rows(manager, [*changed, {"id": 20, "name": "new", "vip": True}, {"id": 21}])
    metadata = materialization_metadata(manager, "shop/api")
    assert (metadata["added"], metadata["removed"], metadata["modified"]) == (2, 1, 11)
    preview = metadata["changes"]
    assert "**2 added, 1 removed, 11 modified** (version 1 -> 2)" in preview
    assert "**Modified** (first 10 of 11)" in preview
    assert f'- `id` = `0`: `name` `"n0"` -> ``"{long_name}0"``; `vip` `false` -> `null`' in preview
    assert "- and 1 more: `manifold diff shop/api 1 2 --only modified`" in preview
    assert '- `id` = `20`: `name` `"new"`; `vip` `true`' in preview
    assert "**Removed** (1)" in preview and '- `id` = `11`: `name` `"n11"`' in preview
    assert preview.endswith("All changes: `manifold diff shop/api 1 2`")
    assert "'id'" not in preview and "True" not in preview and "None" not in preview


def test_first_version_preview_points_at_the_whole_version(
    manager: SeparatedDatabaseManager,
) -> None:
    add_source(manager, "api", [{"id": i} for i in range(15)])
    preview = materialization_metadata(manager, "shop/api")["changes"]
    assert "**15 added** (first version)" in preview
    assert "**Added** (first 10 of 15)" in preview
    assert "- and 5 more: `manifold show shop/api --version 1`" in preview


def test_config_shows_the_script_as_code_and_each_mock_with_its_status(
    manager: SeparatedDatabaseManager,
) -> None:
    script = "\n".join(
        ["const items = (await fetch(url)).json(); // ``` | not the end"]
        + [f"console.log('line {n}');" for n in range(2, 60)]
        + ["return items;"]
    )
    add_source(
        manager,
        "api",
        script=script,
        variables={"limit": 50},
        timeoutSeconds=10,
        mockResponses={
            "https://api.example.com/items": {"body": [{"id": 1}, {"id": 2}, {"id": 3}]},
            "https://api.example.com/down": {"status": 503, "body": "unavailable"},
        },
    )
    defs = build_definitions(read_catalog(manager))
    node = defs.resolve_asset_graph().get(dg.AssetKey(["shop", "api"]))
    shown = node.metadata["manifold/config"]
    assert isinstance(shown, dg.MarkdownMetadataValue)
    text = shown.value
    first_40 = "\n".join(script.splitlines()[:40])
    assert f"**Script** (javascript)\n\n````javascript\n{first_40}\n````\n\n(20 more lines)" in text
    assert "| `https://api.example.com/items` | 200 | a list of 3 items |" in text
    assert "| `https://api.example.com/down` | 503 | a string of 11 characters |" in text
    assert '"timeoutSeconds": 10' in text and '"script"' not in text
    assert text.endswith("The whole config: `manifold source show shop/api`")


def test_records_matched_by_content_are_shown_by_their_fields(
    manager: SeparatedDatabaseManager,
) -> None:
    add_source(manager, "api", [{"name": "a"}, {"name": "b"}], keylessDiff=True)
    materialization_metadata(manager, "shop/api")
    manager.update_data_source(
        "shop",
        "api",
        config={
            "script": "return rows;",
            "variables": {"rows": [{"name": "a"}]},
            "keylessDiff": True,
        },
    )
    preview = materialization_metadata(manager, "shop/api")["changes"]
    assert '**Removed** (1):\n- `name` `"b"`' in preview


def test_long_changed_values_show_where_they_differ(manager: SeparatedDatabaseManager) -> None:
    note = "a" * 300 + "X" + "b" * 17  # 318 characters, too long to show whole
    body = "c" * 350
    old = [
        {"id": 1, "note": note},
        {"id": 2, "items": list(range(100))},
        {"id": 3, "doc": {"title": "t", "body": body}},
        {"id": 4, "tags": ["t" * 10] * 40},
        {"id": 5, "extra": {"k": "x" * 400}},
        {"id": 6, "meta": {"a": "x" * 400, "b": 1}},
    ]
    add_source(manager, "api", old)
    materialization_metadata(manager, "shop/api")
    items = list(range(100))
    items[41] = "forty-one"
    new = [
        {"id": 1, "note": note.replace("X", "Y")},
        {"id": 2, "items": items},
        {"id": 3, "doc": {"title": "t", "body": body + "!"}},
        {"id": 4, "tags": ["t" * 10] * 41},
        {"id": 5, "extra": {"k": "x" * 400, "j": 1}},
        {"id": 6, "meta": {"a": "x" * 400, "c": 1}},
    ]
    set_rows(manager, new)
    preview = materialization_metadata(manager, "shop/api")["changes"]
    a40, c40 = "a" * 40, "c" * 40
    assert (
        f"- `id` = `1`: `note` (strings of 318 characters, alike up to character 300)"
        f' `…"{a40}X{"b" * 17}"` -> `…"{a40}Y{"b" * 17}"`'
    ) in preview
    assert '- `id` = `2`: `items` (at `[41]`) `41` -> `"forty-one"`' in preview
    assert (
        '- `id` = `3`: `doc` (at `["body"]`: strings of 350 -> 351 characters, alike up to'
        f' character 350) `…"{c40}"` -> `…"{c40}!"`'
    ) in preview
    assert "- `id` = `4`: `tags` (a list of 40 items) -> (a list of 41 items)" in preview
    assert "- `id` = `5`: `extra` (an object with 1 field) -> (an object with 2 fields)" in preview
    assert '- `id` = `6`: `meta` (at `["b"]`) `1` -> (absent)' in preview
    assert "a string of" not in preview


def test_sizes_are_described_in_the_singular_for_one(manager: SeparatedDatabaseManager) -> None:
    add_source(
        manager,
        "api",
        mockResponses={
            "https://a.example/one-field": {"body": {"ok": True}},
            "https://a.example/one-item": {"body": [1]},
            "https://a.example/one-char": {"body": "x"},
        },
    )
    defs = build_definitions(read_catalog(manager))
    text = defs.resolve_asset_graph().get(dg.AssetKey(["shop", "api"])).metadata["manifold/config"]
    assert "| 200 | an object with 1 field |" in text.value
    assert "| 200 | a list of 1 item |" in text.value
    assert "| 200 | a string of 1 character |" in text.value


def test_an_incremental_materialization_shows_its_mode_upserts_deletions_and_state(
    manager: SeparatedDatabaseManager,
) -> None:
    add_source(manager, "api", [{"id": 1, "v": 1}, {"id": 2, "v": 2}], mode="incremental")
    add_source(manager, "plain", [{"id": 1}])
    first = materialization_metadata(manager, "shop/api")
    assert (first["mode"], first["upserts"], first["deletions"]) == ("incremental", 2, 0)
    rows = [{"id": 2, "v": 20}, {"id": 3, "v": 3}]
    manager.update_data_source(
        "shop",
        "api",
        config={"script": "return rows;", "variables": {"rows": rows}, "mode": "incremental"},
    )
    manager.set_source_state("shop", "api", {"cursor": "2026-01-02"})
    second = materialization_metadata(manager, "shop/api")
    assert (second["upserts"], second["added"], second["modified"]) == (2, 1, 1)
    assert second["dagster/row_count"] == 3  # id 1 stays: an incremental import only upserts
    assert '"cursor": "2026-01-02"' in second["state"]
    plain = materialization_metadata(manager, "shop/plain")
    assert plain["mode"] == "snapshot" and "upserts" not in plain and "state" not in plain
