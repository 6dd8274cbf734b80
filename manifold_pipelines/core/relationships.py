"""The graph of relationships between sources: upstream feeds downstream, no cycles; and
the `source_relationships` table's SQL, with who made each link (a scheduled run reads an
upstream of another project only while that person still may)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from manifold_pipelines.core.models import Relationship
from manifold_pipelines.errors import AlreadyExistsError, ConstraintError, NotFoundError
from manifold_pipelines.timestamps import now_text

if TYPE_CHECKING:
    from manifold_pipelines.core.store import CoreStore

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


class RelationshipTable:
    """`source_relationships` over core.db; writes run inside the store's transaction and
    are audited with it."""

    def __init__(self, store: CoreStore) -> None:
        self.store = store

    def insert(self, upstream: SourceKey, downstream: SourceKey) -> None:
        try:
            self.store.conn.execute(
                "INSERT INTO source_relationships (upstream_project_id, upstream_source_id,"
                " downstream_project_id, downstream_source_id, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (*upstream, *downstream, now_text(), self.store.actor),
            )
        except ConstraintError as exc:
            raise AlreadyExistsError(
                f"'{'/'.join(upstream)}' already feeds '{'/'.join(downstream)}'."
            ) from exc
        self.store.audit(
            "create", "relationship", "/".join(downstream), after={"upstream": "/".join(upstream)}
        )

    def delete(self, upstream: SourceKey, downstream: SourceKey) -> None:
        deleted = self.store.conn.execute(
            "DELETE FROM source_relationships WHERE upstream_project_id = ? AND"
            " upstream_source_id = ? AND downstream_project_id = ? AND downstream_source_id = ?",
            (*upstream, *downstream),
        ).rowcount
        if not deleted:
            raise NotFoundError(
                f"'{'/'.join(upstream)}' does not feed '{'/'.join(downstream)}'; nothing to remove."
            )
        self.store.audit(
            "delete", "relationship", "/".join(downstream), before={"upstream": "/".join(upstream)}
        )

    def list(self, downstream: SourceKey | None = None) -> list[Relationship]:
        """Every relationship, or those feeding `downstream`, in a stable order."""
        project_id, source_id = downstream if downstream else (None, None)
        rows = self.store.conn.execute(
            "SELECT upstream_project_id, upstream_source_id, downstream_project_id,"
            " downstream_source_id, created_by FROM source_relationships"
            " WHERE CAST(:project AS TEXT) IS NULL"
            " OR (downstream_project_id = :project AND downstream_source_id = :source)"
            " ORDER BY 3, 4, 1, 2",
            {"project": project_id, "source": source_id},
        ).fetchall()
        return [
            Relationship(upstream=(r[0], r[1]), downstream=(r[2], r[3]), created_by=r[4])
            for r in rows
        ]
