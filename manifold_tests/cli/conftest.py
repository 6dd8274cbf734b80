"""Running `manifold` against a real MANIFOLD_HOME: in-process with click's CliRunner, or as
a real subprocess where what reaches the terminal or the process's memory matters."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from manifold_pipelines.cli import main

Invoke = Callable[..., Result]


def run_manifold(home: Path, *args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """`manifold --home HOME ARGS` in a fresh interpreter, without the caller's MANIFOLD_*
    settings but the engine under test's database URL, and with a wide terminal (rich wraps
    table cells at its width)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MANIFOLD_") or k == "MANIFOLD_DATABASE_URL"
    }
    env["COLUMNS"] = "300"
    return subprocess.run(
        [sys.executable, "-m", "manifold_pipelines.cli", "--home", str(home), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        **options,
    )


@pytest.fixture
def cli(home: Path) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, input: str | None = None) -> Result:
        result = runner.invoke(
            main, ["--home", str(home), *args], input=input, catch_exceptions=False
        )
        assert result.exit_code == code, f"exit {result.exit_code}: {result.output}"
        return result

    return invoke


@pytest.fixture
def demo_cli(cli: Invoke, tmp_path: Path) -> Invoke:
    add_project_with_api(cli, tmp_path, "demo")
    return cli


def add_project_with_api(cli: Invoke, tmp_path: Path, project: str) -> None:
    """Project `project` with one JavaScript source `api` whose script returns nothing."""
    config = tmp_path / "empty-script.json"
    config.write_text('{"script": "return [];"}')
    cli("project", "create", project, "--name", project.title())
    cli(
        "source",
        "create",
        f"{project}/api",
        "--name",
        "API",
        "--type",
        "javascript",
        "--config",
        str(config),
    )


def table_rows(output: str) -> list[dict[str, str]]:
    """The rows of a listing printed by `echo_rows`, as dicts by header: columns are cut at
    the header's offsets, so an empty cell stays empty."""
    header, *lines = output.splitlines()
    names = header.split("  ")
    names = [name.strip() for name in names if name.strip()]
    starts = []
    position = 0
    for name in names:
        position = header.index(name, position)
        starts.append(position)
        position += len(name)
    ends = [*starts[1:], None]
    return [
        {
            name: line[start:end].strip()
            for name, start, end in zip(names, starts, ends, strict=True)
        }
        for line in lines
        if line.strip()
    ]
