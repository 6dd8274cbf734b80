"""Every command has help with an example and is listed in the README, so the CLI can be
learnt from either place (after sqlite-utils' test_docs)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from manifold_pipelines.cli import main

README = (Path(__file__).parents[2] / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += _commands(command, f"{path} ")
    return found


COMMANDS = _commands(main)


def test_there_are_commands_for_everything_the_issue_names() -> None:
    names = {path for path, _ in COMMANDS}
    assert {
        "init",
        "project create",
        "source create",
        "run",
        "import",
        "versions",
        "state",
        "show",
        "diff",
        "history",
        "publish",
        "rollback",
        "cleanup",
        "archive",
        "restore",
        "backup",
        "restore-backup",
        "stats",
        "migrate",
        "audit",
    } <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_has_help_with_an_example_and_is_in_the_readme(
    path: str, command: click.Command
) -> None:
    result = CliRunner().invoke(main, [*path.split(), "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output, f"`manifold {path} --help` shows no example"
    assert f"manifold {path}" in README, f"`manifold {path}` is not in README.md"
