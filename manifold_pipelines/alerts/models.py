"""Alert settings (one `alerts` entry in core.db's settings) and alerts as stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from manifold_pipelines.core.global_settings import AlertSettings

__all__ = ["Alert", "AlertKind", "AlertSettings", "Delivery"]

AlertKind = Literal["consecutive_failures", "slow_import", "storage_limit", "quality_failure"]


class Alert(BaseModel):
    id: int
    kind: AlertKind
    project_id: str
    source_id: str
    raised_at: datetime
    details: dict[str, Any]
    delivered_at: datetime | None
    attempts: int
    last_error: str | None


class Delivery(BaseModel):
    delivered: list[int]
    failed: dict[int, str]
