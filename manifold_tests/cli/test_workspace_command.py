"""`manifold workspace`: the layout of code locations, written as the workspace file Dagster
starts from, or printed; the layout lands in the `dagster` setting either way."""

from __future__ import annotations

from pathlib import Path

import yaml

from manifold_tests.cli.conftest import Invoke, add_project_with_api


def test_workspace_writes_the_file_and_lists_each_location(cli: Invoke, tmp_path: Path) -> None:
    for project in ("shop", "stock", "sales"):
        add_project_with_api(cli, tmp_path, project)
    output = tmp_path / "locations.yaml"
    shown = cli("workspace", str(output), "--sources-per-location", "2").output
    assert shown.splitlines()[:3] == [
        "LOCATION            PROJECTS  SOURCES",
        "manifold_pipelines  2         2",
        "stock               1         1",
    ]
    assert f"dagster dev -w {output}" in shown
    entries = [e["python_module"] for e in yaml.safe_load(output.read_text())["load_from"]]
    assert [(e["location_name"], e["attribute"]) for e in entries] == [
        ("manifold_pipelines", "location__manifold_pipelines"),
        ("stock", "location__stock"),
    ]
    assert '"stock": [\n        "stock"\n      ]' in cli("settings", "show").output
    printed = cli("workspace", "--sources-per-location", "2").output
    assert printed.startswith("# Written by `manifold workspace`")
    assert yaml.safe_load(printed)["load_from"] == yaml.safe_load(output.read_text())["load_from"]
