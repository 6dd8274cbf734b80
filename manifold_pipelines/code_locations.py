"""How the projects are spread over Dagster code locations, so that no location loads too much.

A code location's reload time grows with its assets (each source is an asset, six checks and
a place in two jobs): one location for ten thousand sources reloads in about a minute. Split by
project, each location loads only its slice of the catalogue. Projects are taken in id order
and filled into locations of at most `sources_per_location` enabled sources (a bigger project
gets a location of its own). The first location is the home one (the `dagster` setting's
`locationName`): it also holds the alert sensors and the retention job, and every project the
layout does not list, so a project created since the layout was written still shows up.

The layout is stored in the `dagster` setting, where every location and every reload after a
catalogue change reads it; `workspace_yaml` writes the workspace file that lists the locations.
The library never imports Dagster: this module only names the module and attributes to load.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

import yaml
from pydantic import BaseModel

from manifold_pipelines.core.global_settings import DagsterSettings
from manifold_pipelines.errors import ConfigError, NotFoundError

DEFAULT_SOURCES_PER_LOCATION = 1000
DEFINITIONS_MODULE = "manifold_pipelines.definitions"
LOCATION_ATTRIBUTE_PREFIX = "location__"
"""`manifold_pipelines.definitions` answers `location__<name>` with that location's definitions;
the prefix keeps a location's name from ever meaning one of the module's own attributes."""


class LocationPlan(BaseModel):
    """Which projects each code location loads and how many enabled sources that is, home
    location first."""

    home: str
    projects: dict[str, list[str]]
    sources: dict[str, int]

    @property
    def locations(self) -> dict[str, list[str]]:
        """The `dagster` setting's `locations`: every location but the home one, whose
        projects are simply those not listed."""
        return {name: projects for name, projects in self.projects.items() if name != self.home}


def plan_locations(
    sources_by_project: Mapping[str, int], sources_per_location: int, home: str
) -> LocationPlan:
    """Projects in id order, cut into runs of at most `sources_per_location` sources (a
    project over the limit alone); the first run is the home location's."""
    if sources_per_location < 1:
        raise ConfigError(
            f"sources_per_location is {sources_per_location}; a code location holds at least one"
            " source. Use 1 for one location per project."
        )
    runs: list[list[str]] = [[]]
    filled = 0
    for project in sorted(sources_by_project):
        size = max(sources_by_project[project], 1)  # an empty project soon has sources
        if runs[-1] and filled + size > sources_per_location:
            runs.append([])
            filled = 0
        runs[-1].append(project)
        filled += size
    names = [home, *(_location_name(run) for run in runs[1:])]
    if home in names[1:]:
        raise ConfigError(
            f"Code location {home!r} is both the home location (the dagster setting's"
            " locationName) and the name of a project's location. Set another locationName"
            " with `manifold settings set dagster`, then write the workspace again."
        )
    return LocationPlan(
        home=home,
        projects=dict(zip(names, runs, strict=True)),
        sources={
            name: sum(sources_by_project[p] for p in run)
            for name, run in zip(names, runs, strict=True)
        },
    )


def _location_name(projects: list[str]) -> str:
    """A location is named after the project it holds, or the first and last of a run."""
    return projects[0] if len(projects) == 1 else f"{projects[0]}_to_{projects[-1]}"


def projects_in(
    settings: DagsterSettings, location: str, every_project: Collection[str]
) -> list[str]:
    """The projects whose assets `location` loads: its own, or for the home location every
    project no other location lists."""
    if location == settings.location_name:
        listed = {p for projects in settings.locations.values() for p in projects}
        return sorted(p for p in every_project if p not in listed)
    if location not in settings.locations:
        known = ", ".join(sorted([settings.location_name, *settings.locations]))
        raise NotFoundError(
            f"Code location {location!r} is not in Manifold's layout (locations: {known})."
            " The workspace file is older than the layout: write it again with `manifold"
            " workspace` and restart the Dagster webserver with it."
        )
    return sorted(p for p in settings.locations[location] if p in every_project)


def locations_of(settings: DagsterSettings, projects: Iterable[str]) -> list[str]:
    """The locations that load `projects`, home first, each once."""
    owner = {p: name for name, listed in settings.locations.items() for p in listed}
    found = {owner.get(project, settings.location_name) for project in projects}
    return sorted(found, key=lambda name: (name != settings.location_name, name))


def workspace_yaml(plan: LocationPlan) -> str:
    """A Dagster workspace file with one entry per location, home first."""
    header = (
        "# Written by `manifold workspace`: one Dagster code location per entry, each loading\n"
        "# only its projects (the `dagster` setting's `locations`). Write it again after\n"
        "# changing the layout, then restart the webserver with `-w` pointing here.\n"
    )
    counts = "".join(
        f"#   {name}: {plan.sources[name]:,} sources in {len(projects)} project(s)\n"
        for name, projects in plan.projects.items()
    )
    entries = [
        {
            "python_module": {
                "module_name": DEFINITIONS_MODULE,
                "attribute": f"{LOCATION_ATTRIBUTE_PREFIX}{name}",
                "location_name": name,
            }
        }
        for name in plan.projects
    ]
    return header + counts + yaml.safe_dump({"load_from": entries}, sort_keys=False)
