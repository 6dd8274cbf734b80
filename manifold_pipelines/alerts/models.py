"""Alert settings (one `alerts` entry in core.db's settings) and alerts as stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

AlertKind = Literal["consecutive_failures", "slow_import", "storage_limit", "quality_failure"]


class AlertSettings(BaseModel):
    """Thresholds of the alert rules and where alerts go."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=to_camel)

    webhook_url: str | None = None
    webserver_url: str = "http://127.0.0.1:3000"
    consecutive_failures: Annotated[int, Field(ge=1)] = 3
    slow_import_seconds: Annotated[float, Field(gt=0)] = 300
    slow_import_factor: Annotated[float, Field(gt=1)] = 3.0
    slow_import_min_seconds: Annotated[float, Field(ge=0)] = 5.0
    storage_limit_bytes: Annotated[int, Field(gt=0)] | None = None
    total_storage_limit_bytes: Annotated[int, Field(gt=0)] | None = None


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
