"""Relationships between sources: which source feeds which. Dagster draws each one as an
asset dependency, and a downstream JavaScript source reads its upstreams as `inputs.<id>`, so
the graph must stay free of cycles and each end must be readable by whoever links them.
"""

from __future__ import annotations

from manifold_pipelines.access import Access, requires
from manifold_pipelines.catalog import Catalog
from manifold_pipelines.core.models import Relationship
from manifold_pipelines.core.relationships import reaches
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.reload import reloads_dagster


class SourceGraph(Catalog):
    """Upstream -> downstream links between data sources, on top of the catalogue."""

    @reloads_dagster
    @requires("editor", "change relationships", argument="downstream")
    def add_relationship(self, upstream: str, downstream: str) -> Relationship:
        """`upstream` ("project/source") feeds `downstream`; Dagster draws it as a dependency.
        The downstream's editor needs the viewer role on the upstream too: it will read it."""
        self._check_access(Access("viewer", "project", "read the upstream source"), upstream)
        up, down = self._qualified(upstream), self._qualified(downstream)
        with self.core.writing():
            if up == down:
                raise ConfigError(f"'{upstream}' cannot feed itself.")
            if reaches(self.core.relationships.list(), down, up):
                raise ConfigError(
                    f"'{downstream}' already feeds '{upstream}' (directly or through other"
                    f" sources), so '{upstream}' cannot also feed '{downstream}': Dagster needs"
                    " dependencies without cycles. Remove one of the relationships first."
                )
            self.core.relationships.insert(up, down)
        return Relationship(upstream=up, downstream=down)

    @reloads_dagster
    @requires("editor", "change relationships", argument="downstream")
    def remove_relationship(self, upstream: str, downstream: str) -> None:
        """Like adding one, it needs the viewer role on the upstream: whether a source of
        another project exists, or feeds this one, is not for a stranger to learn."""
        self._check_access(Access("viewer", "project", "read the upstream source"), upstream)
        up, down = self._qualified(upstream), self._qualified(downstream)
        with self.core.writing():
            self.core.relationships.delete(up, down)

    @requires(
        "viewer",
        "list relationships",
        scope="filtered",
        shows="those whose two sources it may read",
    )
    def list_relationships(self) -> list[Relationship]:
        """Relationships whose both ends the caller may read."""
        return [
            r
            for r in self.core.relationships.list()
            if self._may_read(r.upstream[0]) and self._may_read(r.downstream[0])
        ]

    def _qualified(self, name: str) -> tuple[str, str]:
        project_id, _, source_id = name.partition("/")
        source = self._source(project_id, source_id)
        return source.project_id, source.id
