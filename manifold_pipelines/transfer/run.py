"""A transfer, phase by phase: who may run it, where to, the catalogue in one transaction,
then each source in one of its own. A kill between phases or inside one leaves whole phases
only, and the next run picks up from what is there (see catalogue.py and source_data.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from manifold_pipelines.access import Access
from manifold_pipelines.backends import Backend
from manifold_pipelines.core.models import Project
from manifold_pipelines.core.store import CoreStore
from manifold_pipelines.transfer.catalogue import CatalogueCopy
from manifold_pipelines.transfer.destination import open_destination, refuse_same_place
from manifold_pipelines.transfer.report import TableCopy, TransferReport
from manifold_pipelines.transfer.source_data import copy_source

if TYPE_CHECKING:
    from manifold_pipelines.manager import SeparatedDatabaseManager

TRANSFER = Access(
    "admin", "instance", "transfer this Manifold, every project's configs and data and its users"
)


def transfer(
    manager: SeparatedDatabaseManager,
    destination: str,
    *,
    progress: Callable[[str], None] | None = None,
) -> TransferReport:
    """Copy everything of `manager`'s Manifold into `destination` (a folder, or a
    `postgresql://` URL): the catalogue, then every source's versions, each verified before
    it counts as done. Run again, it copies only what is not there yet. `progress` is told
    what each phase did as it ends."""
    manager._check_access(TRANSFER, None)
    started = time.perf_counter()
    say = progress or (lambda _line: None)
    target = open_destination(manager, destination)
    there = target.catalogue(manager.user)
    try:
        refuse_same_place(manager, there, target.describe())
        with manager.core.writing():
            manager.core.audit("transfer", "instance", "*", details={"to": target.describe()})
        catalogue, sources = _copy_catalogue(manager, there, target)
    finally:
        there.close()
    report = TransferReport(
        origin=manager.backend.describe(),
        destination=target.describe(),
        catalogue=catalogue,
        sources=[],
        seconds=0,
    )
    say(report.describe_catalogue())
    for project, source_id in sources:
        copy = copy_source(manager.backend, target, project, source_id)
        say(copy.describe())
        report.sources.append(copy)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _copy_catalogue(
    manager: SeparatedDatabaseManager, there: CoreStore, target: Backend
) -> tuple[dict[str, TableCopy], list[tuple[Project, str]]]:
    """The catalogue as one snapshot of the origin, into one transaction of the destination
    that drops the data of sources gone since before it commits. Returns the sources of that
    snapshot with their projects, to copy next."""
    with manager.core.conn.reading(), there.writing():
        before = {project.id: project for project in there.list_projects()}
        copy = CatalogueCopy(manager.core.conn, there.conn, target.describe())
        tables = copy.run()
        for project_id, source_id in copy.stale_sources:
            target.drop_data(before[project_id], source_id)
        projects = {project.id: project for project in manager.core.list_projects()}
        sources = [(projects[s.project_id], s.id) for s in manager.core.list_sources()]
    return tables, sources
