"""Timestamps as stored in every Manifold file: ISO 8601, UTC, microseconds.

One fixed width and zone means text comparison in SQL orders them correctly.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now_text() -> str:
    return to_text(utc_now())


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)
