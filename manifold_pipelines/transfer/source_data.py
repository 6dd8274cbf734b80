"""Copying one source's versions: every row of its tables (ids, positions, hashes,
statuses and times kept, so versions, diffs, logs and publication read back the same), read in
one snapshot of the origin and written in one transaction of the destination's, which commits
only once every version read back from the destination matches the origin (digest.py).

A rerun needs no bookkeeping: a copy that did not commit leaves an empty store behind, which
differs from the origin like any copy that is not the same, so it is dropped and copied anew;
a source found whole is verified and left alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from manifold_pipelines.backends.base import Backend
from manifold_pipelines.core.models import Project
from manifold_pipelines.errors import StorageError
from manifold_pipelines.transfer.digest import (
    SOURCE_TABLES,
    SourceDigest,
    SourceSummary,
    read_summary,
)
from manifold_pipelines.transfer.report import SourceCopy, SourceOutcome
from manifold_pipelines.transfer.rows import id_batches, same_columns
from manifold_pipelines.versions.store import VersionStore


def copy_source(
    origin: Backend, destination: Backend, project: Project, source_id: str
) -> SourceCopy:
    """Make the destination hold exactly the source's versions, and say what that took."""
    started = time.perf_counter()
    name = f"{project.id}/{source_id}"
    target = project.model_copy(update={"data_path": None})
    with _opened(origin, project, source_id) as ours:
        if ours is None:
            if destination.has_data(target, source_id):
                destination.drop_data(target, source_id)
            return SourceCopy(source=name, outcome="no data", versions=0, record_rows=0, seconds=0)
        if destination.has_data(target, source_id):
            with destination.versions(target, source_id) as theirs:
                expected, found = _summaries(ours, theirs)
            if expected.first_difference(found) is None:
                return _outcome(name, "already there", expected, started)
            destination.drop_data(target, source_id)
        with destination.versions(target, source_id) as theirs:
            copied = _copy(ours, theirs, destination.describe())
    return _outcome(name, "copied", copied, started)


@contextmanager
def _opened(origin: Backend, project: Project, source_id: str) -> Iterator[VersionStore | None]:
    """The source's store, or None when it holds nothing: never imported (a store opened to
    read one is made empty, and an empty one is no data worth a store of its own there)."""
    if not origin.has_data(project, source_id):
        yield None
        return
    with origin.versions(project, source_id) as store:
        holds_rows = any(
            store.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone()  # noqa: S608 (our own tables)
            for table in SOURCE_TABLES
        )
        yield store if holds_rows else None


def _summaries(ours: VersionStore, theirs: VersionStore) -> tuple[SourceSummary, SourceSummary]:
    columns = {table: same_columns(ours.db, theirs.db, table) for table in SOURCE_TABLES}
    with ours.reading():
        expected = read_summary(ours.db, columns)
    with theirs.reading():
        found = read_summary(theirs.db, columns)
    return expected, found


def _copy(ours: VersionStore, theirs: VersionStore, where: str) -> SourceSummary:
    """Copy in bulk a batch at a time, then read everything back from inside the same
    transaction and compare, version by version, before it commits."""
    with ours.reading(), theirs.writing():
        columns = {table: same_columns(ours.db, theirs.db, table) for table in SOURCE_TABLES}
        digest = SourceDigest()
        for table in SOURCE_TABLES:
            for rows in id_batches(ours.db, table, columns[table]):
                theirs.db.insert_rows(table, columns[table], rows)
                digest.add(table, columns[table], rows)
            theirs.db.after_bulk_ids(table)
        expected = digest.summary()
        problem = expected.first_difference(read_summary(theirs.db, columns))
        if problem is not None:
            raise StorageError(
                f"{ours.label} was not transferred: read back from {where}, {problem}. Nothing of"
                " it was kept there, and the next transfer copies it anew; if the same happens"
                " again, the destination changes what it is given (a trigger, an encoding):"
                " check its database."
            )
    return expected


def _outcome(
    name: str, outcome: SourceOutcome, summary: SourceSummary, started: float
) -> SourceCopy:
    return SourceCopy(
        source=name,
        outcome=outcome,
        versions=len(summary.versions),
        record_rows=summary.record_rows,
        seconds=round(time.perf_counter() - started, 3),
    )
