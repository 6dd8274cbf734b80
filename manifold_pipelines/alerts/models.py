"""Alert settings (one `alerts` entry in core.db's settings) and alerts as stored."""

from __future__ import annotations

from pydantic import BaseModel

from manifold_pipelines.core.global_settings import AlertSettings
from manifold_pipelines.core.models import Alert, AlertKind

__all__ = ["Alert", "AlertKind", "AlertSettings", "Delivery"]


class Delivery(BaseModel):
    delivered: list[int]
    failed: dict[int, str]
