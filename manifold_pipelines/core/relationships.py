"""The graph of relationships between sources: upstream feeds downstream, no cycles."""

from __future__ import annotations

from collections.abc import Iterable

from manifold_pipelines.core.models import Relationship

SourceKey = tuple[str, str]


def reaches(relationships: Iterable[Relationship], start: SourceKey, target: SourceKey) -> bool:
    """Whether `target` is `start` or downstream of it; adding target -> start would close a
    cycle, which Dagster's asset graph cannot hold."""
    feeds: dict[SourceKey, list[SourceKey]] = {}
    for relationship in relationships:
        feeds.setdefault(relationship.upstream, []).append(relationship.downstream)
    pending, seen = [start], {start}
    while pending:
        node = pending.pop()
        if node == target:
            return True
        for child in feeds.get(node, []):
            if child not in seen:
                seen.add(child)
                pending.append(child)
    return False
