"""Backend: the one interface between the manager and an engine's storage."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from manifold_pipelines.core.models import Project
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.settings import Settings
from manifold_pipelines.versions.store import VersionStore


class Backend(ABC):
    """Opens the stores of one Manifold installation. `settings` says where files a user
    names (file sources, archives) are looked for, whichever engine holds the data."""

    engine: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @abstractmethod
    def describe(self) -> str:
        """Where the data is, for people: a folder, or a database URL without its password."""

    @abstractmethod
    def catalogue(self, actor: str) -> CoreStore:
        """The catalogue, migrated to the latest format; `actor` is named in its audit log."""

    @abstractmethod
    def versions(self, project: Project, source_id: str) -> VersionStore:
        """The source's version store, created and migrated on first use."""

    @abstractmethod
    def data_file(self, project: Project, source_id: str) -> Path:
        """The source's SQLite data file; a ConfigError on an engine without files."""

    @abstractmethod
    def location(self, project: Project, source_id: str) -> str:
        """Where a source's versions are: its data file's path, or its schema."""

    @abstractmethod
    def has_data(self, project: Project, source_id: str) -> bool:
        """Whether data of a source of this id is stored (left by an earlier source)."""

    @abstractmethod
    def data_size(self, project: Project, source_id: str) -> int:
        """Bytes a source's versions take: 0 before its first import."""

    @abstractmethod
    def drop_data(self, project: Project, source_id: str) -> None:
        """Remove a source's stored data, giving its space back."""

    @abstractmethod
    def archive_data(self, project: Project, source_id: str, created_at: str) -> Path | None:
        """Keep a copy of a source's data in MANIFOLD_HOME/archive before it is dropped;
        None when it has none. `created_at` marks which source of that id it was."""

    @abstractmethod
    def check_data_path(self, project_id: str) -> None:
        """Refuse a project data_path the engine cannot use."""
