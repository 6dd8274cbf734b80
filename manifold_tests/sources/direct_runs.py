"""A source's run started straight through its runner, as the importer starts it, with no
storage behind it: for what a run hands the importer besides its records, the keys it
deleted and the state it ends with."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from manifold_pipelines.core.models import DataSource
from manifold_pipelines.core.source_config import parse_source_config
from manifold_pipelines.settings import Settings
from manifold_pipelines.sources.base import RunContext, SourceRun
from manifold_pipelines.sources.registry import runner_for


class Outcome(NamedTuple):
    records: list[dict[str, Any]]
    deleted: list[Any]
    state: dict[str, Any] | None


def start_run(
    home: Path, source_type: str, config: Mapping[str, Any], state: Mapping[str, Any]
) -> SourceRun:
    """A run of a source `demo/api` of `source_type` and `config`, resuming from `state`."""
    now = datetime.now(UTC)
    source = DataSource(
        project_id="demo",
        id="api",
        name="api",
        type=source_type,
        config=parse_source_config(source_type, dict(config), where="'demo/api'"),
        status="idle",
        enabled=True,
        sync_interval=None,
        created_at=now,
        updated_at=now,
        last_sync_at=None,
    )
    context = RunContext(settings=Settings.load(home), state=state)
    return runner_for(source_type).start(source, context)


def run_to_end(
    home: Path, source_type: str, config: Mapping[str, Any], state: Mapping[str, Any]
) -> Outcome:
    """Every record, then the deletions and the final state, read as the importer reads them."""
    run = start_run(home, source_type, config, state)
    try:
        records = list(run.records())
        return Outcome(records, run.deleted, run.final_state())
    finally:
        run.close()


def run_script(
    home: Path, script: str, state: Mapping[str, Any] | None = None, **config: Any
) -> Outcome:
    return run_to_end(home, "javascript", {"script": script, **config}, state or {})
