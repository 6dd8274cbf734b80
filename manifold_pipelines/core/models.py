"""What core.db holds, as the models the Python API returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from manifold_pipelines.core.source_config import SourceConfig

Role = Literal["viewer", "editor", "admin"]


class Project(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    description: str | None
    data_path: str | None
    created_at: datetime
    updated_at: datetime


SourceStatus = Literal["idle", "running", "failed", "disabled"]


class DataSource(BaseModel):
    model_config = ConfigDict(frozen=True)

    project_id: str
    id: str
    name: str
    type: str
    config: SourceConfig
    status: SourceStatus
    enabled: bool
    sync_interval: int | None
    created_at: datetime
    updated_at: datetime
    last_sync_at: datetime | None

    @property
    def key(self) -> tuple[str, str]:
        """(projectId, sourceId): the Dagster asset key's parts."""
        return self.project_id, self.id

    @property
    def qualified_id(self) -> str:
        """`projectId/sourceId`, the name used by the CLI and in Dagster asset keys."""
        return f"{self.project_id}/{self.id}"


class Relationship(BaseModel):
    model_config = ConfigDict(frozen=True)

    upstream: tuple[str, str]
    downstream: tuple[str, str]
    # Who linked them (None before core.db format 5 could tell, or the local admin).
    created_by: str | None = None


class User(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str | None
    email: str | None
    created_at: datetime
    instance_role: Literal["admin"] | None = None


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    details: Any
    project_id: str | None = None


AlertKind = Literal["consecutive_failures", "slow_import", "storage_limit", "quality_failure"]


class Alert(BaseModel):
    """A raised alert as stored in core.db, with its delivery state."""

    id: int
    kind: AlertKind
    project_id: str
    source_id: str
    raised_at: datetime
    details: dict[str, Any]
    delivered_at: datetime | None
    attempts: int
    last_error: str | None


class ImportHistoryEntry(BaseModel):
    """One finished import as mirrored in core.db, newest first when listed."""

    model_config = ConfigDict(frozen=True)

    project_id: str
    source_id: str
    import_log_id: int
    version: int | None
    status: Literal["completed", "failed"]
    started_at: datetime
    finished_at: datetime
    duration_ms: int
    records_processed: int | None
    error: str | None
    quality_status: Literal["pass", "warning", "fail"] | None = None
    version_status: Literal["published", "held"] | None = None


def source_label(project_id: str, source_id: str) -> str:
    """How errors and logs name a source: "Data source 'demo/api'"."""
    return f"Data source '{project_id}/{source_id}'"
