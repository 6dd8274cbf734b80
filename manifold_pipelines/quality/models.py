"""One measured quality metric, as stored in `quality_metrics` and shown as an asset check."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

MetricStatus = Literal["pass", "warning", "fail"]


class QualityMetric(BaseModel):
    """`direction` says which side of the thresholds is bad: below a min, above a max."""

    metric: str
    field: str | None
    value: float | None
    direction: Literal["min", "max"]
    warn_threshold: float | None
    fail_threshold: float | None
    status: MetricStatus
    blocking: bool
    description: str
