"""The code location: `defs`, built from core.db (MANIFOLD_HOME) when Dagster loads it."""

from __future__ import annotations

import dagster as dg

from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import pinned_catalog


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(pinned_catalog())
