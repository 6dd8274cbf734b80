"""The catalogue read from core.db at load time, pinned for every run of that load.

Dagster re-imports the code location in each run worker. Re-reading core.db there would run
a newer config than the UI showed, and fail on a source deleted since. Dagster's remedy is
reconstruction metadata: the snapshot taken at load travels with the run and is read back.
This uses `DefinitionsLoadContext`, internal in dagster 1.13, so it stays in this one module.
"""

from __future__ import annotations

from typing import Any

from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)
from pydantic import BaseModel

from manifold_pipelines.core.source_config import (
    SourceConfig,
    dump_source_config,
    parse_source_config,
)
from manifold_pipelines.manager import SeparatedDatabaseManager

METADATA_KEY = "manifold/catalog"


class PinnedSource(BaseModel):
    project_id: str
    id: str
    name: str
    type: str
    config: dict[str, Any]
    sync_interval: int | None

    @property
    def key(self) -> tuple[str, str]:
        return self.project_id, self.id

    def parsed_config(self) -> SourceConfig:
        return parse_source_config(
            self.type, self.config, where=f"'{self.project_id}/{self.id}'", stored=True
        )


class CatalogSnapshot(BaseModel):
    """Enabled sources with their configs, and the relationships between them."""

    home: str
    sources: list[PinnedSource]
    relationships: list[tuple[tuple[str, str], tuple[str, str]]]


def read_catalog(manager: SeparatedDatabaseManager) -> CatalogSnapshot:
    sources = [s for s in manager.list_data_sources() if s.enabled]
    enabled = {s.key for s in sources}
    return CatalogSnapshot(
        home=str(manager.settings.home),
        sources=[
            PinnedSource(
                project_id=s.project_id,
                id=s.id,
                name=s.name,
                type=s.type,
                config=dump_source_config(s.config),
                sync_interval=s.sync_interval,
            )
            for s in sources
        ],
        relationships=[
            (r.upstream, r.downstream)
            for r in manager.list_relationships()
            if r.upstream in enabled and r.downstream in enabled
        ],
    )


def pinned_catalog() -> CatalogSnapshot:
    """The snapshot this load pinned, or a fresh one from core.db, pinned for later runs."""
    context = DefinitionsLoadContext.get()
    if context.load_type == DefinitionsLoadType.RECONSTRUCTION:
        pinned = context.reconstruction_metadata.get(METADATA_KEY)
        if pinned is not None:
            return CatalogSnapshot.model_validate_json(pinned)
    with SeparatedDatabaseManager(user="dagster") as manager:
        snapshot = read_catalog(manager)
    context.add_to_pending_reconstruction_metadata(METADATA_KEY, snapshot.model_dump_json())
    return snapshot
