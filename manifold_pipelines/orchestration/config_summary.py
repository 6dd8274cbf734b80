"""The `manifold/config` entry on an asset's page: a javascript source's script as code, each
mock response with its status and body, its variables' names, the other settings as JSON, and
the command that prints the whole config. Long scripts and settings show their first lines and
a count. Secrets are hidden: the Dagster UI has no Manifold roles."""

from __future__ import annotations

from typing import Any

from manifold_pipelines.core.source_config import (
    JavascriptConfig,
    SourceConfig,
    dump_source_config,
)
from manifold_pipelines.orchestration.markdown import (
    code,
    code_block,
    json_size,
    json_text,
    json_value,
)
from manifold_pipelines.orchestration.redaction import secrets_of

SHOWN_LINES = 40


def config_markdown(config: SourceConfig, source: str) -> str:
    """`source` is "project/source"; settings are shown as written, defaults left out."""
    settings = dump_source_config(config)
    sections = []
    show_command = code(f"manifold source show {source}")
    if isinstance(config, JavascriptConfig):
        settings.pop("script")
        settings.pop("mockResponses", None)
        settings.pop("variables", None)
        script = code_block(config.script, "javascript", max_lines=SHOWN_LINES)
        sections.append(f"**Script** (javascript)\n\n{script}")
        if config.mock_responses:
            rows = [
                f"| {_cell(code(url))} | {mock.status} | {_cell(_describe_body(mock.body))} |"
                for url, mock in sorted(config.mock_responses.items())
            ]
            table = "\n".join(["| URL | status | body |", "|---|---|---|", *rows])
            sections.append(f"**Mock responses**\n\n{table}")
        if config.variables:
            names = ", ".join(code(name) for name in config.variables)
            sections.append(
                f"**Variables**: {names} (values hidden here, as the Dagster UI has no Manifold"
                f" roles; {show_command} shows them to the project's viewers)"
            )
    if settings:
        as_json = json_text(settings, indent=2)
        sections.append(f"**Settings**\n\n{code_block(as_json, 'json', max_lines=SHOWN_LINES)}")
    sections.append(f"The whole config: {show_command}")
    return secrets_of(config).hide("\n\n".join(sections))


def _describe_body(body: Any) -> str:
    if body is None:
        return "(empty)"
    return json_size(body) or json_value(body)


def _cell(text: str) -> str:
    """A table cell: a '|' would end the cell, even inside code, unless escaped."""
    return text.replace("|", "\\|")
