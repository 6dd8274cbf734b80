"""The catalogue read from core.db at load time, pinned for every run of that load: the whole
catalogue, or the slice of one code location (its projects' sources, code_locations.py).

Dagster re-imports the code location in each run worker. Re-reading core.db there would run
a newer config than the UI showed, and fail on a source deleted since. Dagster's remedy is
reconstruction metadata: the snapshot taken at load travels with the run and is read back.
This uses `DefinitionsLoadContext`, internal in dagster 1.13, so it stays in this one module.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from dagster._core.definitions.definitions_load_context import (
    DefinitionsLoadContext,
    DefinitionsLoadType,
)
from pydantic import BaseModel, PrivateAttr

from manifold_pipelines.code_locations import projects_in
from manifold_pipelines.core.global_settings import load_setting
from manifold_pipelines.core.models import DataSource
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
    _parsed: SourceConfig | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, source: DataSource) -> PinnedSource:
        """The source as pinned: its fields were validated when read, and its config, already
        parsed, is not parsed again to build the asset."""
        pinned = cls.model_construct(
            project_id=source.project_id,
            id=source.id,
            name=source.name,
            type=source.type,
            config=dump_source_config(source.config),
            sync_interval=source.sync_interval,
        )
        pinned._parsed = source.config
        return pinned

    @property
    def key(self) -> tuple[str, str]:
        return self.project_id, self.id

    def parsed_config(self) -> SourceConfig:
        if self._parsed is None:
            self._parsed = parse_source_config(
                self.type, self.config, where=f"'{self.project_id}/{self.id}'", stored=True
            )
        return self._parsed


class CatalogSnapshot(BaseModel):
    """Enabled sources of one code location's projects with their configs, the relationships
    that feed them, and whether the location holds the instance-wide alert sensors and
    retention job (one location does; a snapshot pinned before locations existed did)."""

    home: str
    sources: list[PinnedSource]
    relationships: list[tuple[tuple[str, str], tuple[str, str]]]
    instance_wide: bool = True


def read_catalog(
    manager: SeparatedDatabaseManager,
    projects: Collection[str] | None = None,
    *,
    instance_wide: bool = True,
) -> CatalogSnapshot:
    """The enabled sources of `projects` (None: every project) and the relationships into
    them from enabled sources, wherever those live: Dagster resolves an upstream asset of
    another code location by its key."""
    if projects is None:
        sources = manager.list_data_sources()
    else:
        sources = [s for project in projects for s in manager.list_data_sources(project)]
    enabled = {s.key for s in sources if s.enabled}
    feeding = [r for r in manager.list_relationships() if r.downstream in enabled]
    elsewhere = {r.upstream[0] for r in feeding if r.upstream not in enabled}
    upstream = enabled | {
        s.key for p in elsewhere for s in manager.list_data_sources(p) if s.enabled
    }
    return CatalogSnapshot(
        home=str(manager.settings.home),
        sources=[PinnedSource.of(s) for s in sources if s.enabled],
        relationships=[(r.upstream, r.downstream) for r in feeding if r.upstream in upstream],
        instance_wide=instance_wide,
    )


def read_location(manager: SeparatedDatabaseManager, location: str) -> CatalogSnapshot:
    """The slice of the catalogue that code location `location` loads (code_locations.py)."""
    layout = load_setting(manager.get_settings(), "dagster")
    every_project = [p.id for p in manager.list_projects()]
    return read_catalog(
        manager,
        projects_in(layout, location, every_project),
        instance_wide=location == layout.location_name,
    )


def pinned_catalog(location: str | None = None) -> CatalogSnapshot:
    """The snapshot this load pinned, or a fresh one from core.db (of `location`, or of the
    whole catalogue), pinned for later runs."""
    context = DefinitionsLoadContext.get()
    if context.load_type == DefinitionsLoadType.RECONSTRUCTION:
        pinned = context.reconstruction_metadata.get(METADATA_KEY)
        if pinned is not None:
            return CatalogSnapshot.model_validate_json(pinned)
    with SeparatedDatabaseManager(user="dagster") as manager:
        snapshot = read_catalog(manager) if location is None else read_location(manager, location)
    context.add_to_pending_reconstruction_metadata(METADATA_KEY, snapshot.model_dump_json())
    return snapshot
