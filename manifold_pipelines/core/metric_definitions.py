"""The quality metrics Manifold knows, in one registry.

Everything else comes from it: the `quality` block of a source's config (one threshold key
per metric, with these defaults), the computation (quality/metrics.py holds one function per
name, checked at import), the Dagster asset checks (named by `check_name`) and the README's
table (checked by a test). A metric added here and nowhere else fails loudly at import; one
added anywhere else cannot be reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["min", "max"]


@dataclass(frozen=True)
class MetricDefinition:
    """`direction` says which side is bad: a value below a min, or above a max, threshold."""

    name: str
    check_name: str
    direction: Direction
    measures: str
    warn: float | None = None
    fail: float | None = None
    per_field: bool = False
    note: str = ""

    def describe_defaults(self) -> str:
        """The README's wording of the default thresholds."""
        side = "below" if self.direction == "min" else "above"
        levels = (("warn", self.warn), ("fail", self.fail))
        text = ", ".join(
            f"{level} {side} {value:g}" for level, value in levels if value is not None
        )
        return f"{text or 'none'}{'; ' + self.note if self.note else ''}"


METRICS: tuple[MetricDefinition, ...] = (
    MetricDefinition("record_count", "has_enough_records", "min", "records in the version", warn=1),
    MetricDefinition(
        "key_uniqueness",
        "keys_are_unique",
        "min",
        "distinct records / records",
        fail=1.0,
        note="matters in keyless mode",
    ),
    MetricDefinition(
        "change_rate",
        "change_rate_within_threshold",
        "max",
        "(added + removed + modified) / records of the last published version",
        warn=0.5,
    ),
    MetricDefinition(
        "removed_rate",
        "removed_rate_within_threshold",
        "max",
        "removed / records of the last published version",
        warn=0.1,
        fail=0.5,
    ),
    MetricDefinition(
        "schema_changes",
        "schema_is_stable",
        "max",
        "fields added, removed or retyped",
        warn=0,
    ),
    MetricDefinition(
        "completeness",
        "fields_are_complete",
        "min",
        "per field: share of records where it is not null",
        warn=0.5,
        per_field=True,
        note="per field in `completenessFields`",
    ),
)

METRICS_BY_NAME: dict[str, MetricDefinition] = {metric.name: metric for metric in METRICS}
