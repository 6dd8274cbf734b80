"""The code location: `defs`, built from core.db (MANIFOLD_HOME) when Dagster loads it.

`defs` is the whole catalogue in one location (workspace.yaml, `dagster dev`). When the
projects are spread over several locations (`manifold workspace`, code_locations.py), the
workspace it writes loads `location__<name>` from this module for each: that location's
slice of the catalogue, pinned for its runs like `defs`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import dagster as dg

from manifold_pipelines.code_locations import LOCATION_ATTRIBUTE_PREFIX
from manifold_pipelines.orchestration.definitions import build_definitions
from manifold_pipelines.orchestration.snapshot import pinned_catalog


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(pinned_catalog())


@functools.cache
def __getattr__(name: str) -> Callable[..., dg.Definitions]:
    """`location__<name>`: the definitions of code location <name>, built when Dagster loads
    it (a module-level __getattr__ answers names the module does not define)."""
    if not name.startswith(LOCATION_ATTRIBUTE_PREFIX):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    location = name.removeprefix(LOCATION_ATTRIBUTE_PREFIX)

    @dg.definitions
    def location_defs() -> dg.Definitions:
        return build_definitions(pinned_catalog(location))

    return location_defs
