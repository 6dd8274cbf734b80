"""Running `manifold` in-process with click's CliRunner against a real MANIFOLD_HOME."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from manifold_pipelines.cli import main

Invoke = Callable[..., Result]


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
    config = tmp_path / "empty-script.json"
    config.write_text('{"script": "return [];"}')
    cli("project", "create", "demo", "--name", "Demo")
    cli(
        "source",
        "create",
        "demo/api",
        "--name",
        "API",
        "--type",
        "javascript",
        "--config",
        str(config),
    )
    return cli
