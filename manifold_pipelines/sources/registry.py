"""Source types by name: adding a type is one runner module and one line here."""

from __future__ import annotations

from manifold_pipelines.errors import ConfigError
from manifold_pipelines.sources.base import SourceRunner
from manifold_pipelines.sources.files import FileRunner
from manifold_pipelines.sources.sandbox.runner import JavascriptRunner

RUNNERS: dict[str, SourceRunner] = {
    "javascript": JavascriptRunner(),
    "csv": FileRunner(),
    "json": FileRunner(),
}


def runner_for(source_type: str) -> SourceRunner:
    runner = RUNNERS.get(source_type)
    if runner is None:
        raise ConfigError(
            f"No runner for source type {source_type!r}; known types: {', '.join(sorted(RUNNERS))}."
        )
    return runner
