"""`memoryLimitMb` bounds the script's child process, but everything the script emits is
received, parsed and written by the host: the CLI or a Dagster worker. A script emitting
900 KB records in a loop took a preview to 1.9 GB in 12 s. So a run may send at most
`maxOutputMb`, the host holds a bounded part of what streams through it, and a preview keeps
only its first records (the counts and the diff still cover all of them)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.db.sqlite import PAGE_CACHE_MIB
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.import_inputs import PREVIEW_RECORDS
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.benchmarks.memory import PeakRss
from manifold_tests.conftest import make_source

BIG_RECORDS = """
const s = "x".repeat(900000);
for (let i = 0; i < total; i += 8) {
  const batch = [];
  for (let k = i; k < Math.min(total, i + 8); k++) batch.push({ id: k, s });
  emit(batch);
}
"""
GOOD_VERSION = [{"id": 1, "name": "kept"}]


def _run(manager: SeparatedDatabaseManager, how: str) -> Any:
    if how == "run":
        return manager.run_data_source("demo", "api")
    return manager.preview_data_source("demo", "api")


@pytest.mark.parametrize("how", ["run", "preview"])
def test_a_script_that_emits_without_end_is_stopped_at_its_output_limit(
    manager: SeparatedDatabaseManager, how: str
) -> None:
    make_source(
        manager, script=BIG_RECORDS, variables={"total": 10**9}, maxOutputMb=48, timeoutSeconds=60
    )
    manager.import_data("demo", "api", GOOD_VERSION)
    started = time.monotonic()
    with PeakRss().watch() as peak, pytest.raises(SourceRunError) as raised:
        _run(manager, how)
    assert "sent more than 48 MB (maxOutputMb) to the host" in str(raised.value)
    assert "raise maxOutputMb" in str(raised.value)
    assert time.monotonic() - started < 15
    assert peak.rise_mb < 120, f"the host grew by {peak.rise_mb:.0f} MB"
    assert manager.get_latest_data("demo", "api").data == GOOD_VERSION
    log = manager.get_import_logs("demo", "api")[0]
    if how == "run":
        assert log.status == "failed" and "maxOutputMb" in (log.error or "")
    else:
        assert log.status == "completed", "a preview leaves no import log"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["run", "preview"])
def test_a_large_streamed_run_holds_little_of_it_in_the_host(
    manager: SeparatedDatabaseManager, how: str
) -> None:
    total = 160  # 144 MB of records, under the default maxOutputMb
    make_source(manager, script=BIG_RECORDS, variables={"total": total})
    with PeakRss().watch() as peak:
        result = _run(manager, how)
    # What it keeps of the records, and SQLite's page cache, bounded whatever the data's size.
    limit = 100 + PAGE_CACHE_MIB
    assert peak.rise_mb < limit, f"the host grew by {peak.rise_mb:.0f} MB"
    imported = result if how == "run" else result.preview
    assert imported.record_count == total and imported.diff.added == total
    assert 0 < len(imported.diff.details.added) < total
    if how == "preview":
        assert result.record_count == total
        assert 0 < len(result.records) < total
        assert [record["id"] for record in result.records] == list(range(len(result.records)))
    else:
        assert len(manager.get_latest_data("demo", "api").data) == total


def test_a_preview_returns_its_first_records_and_diffs_them_all(
    manager: SeparatedDatabaseManager,
) -> None:
    total = PREVIEW_RECORDS * 3
    script = "const out = []; for (let i = 0; i < n; i++) out.push({ id: i, name: 'new' });"
    make_source(manager, script=f"{script} return out;", variables={"n": total})
    manager.import_data("demo", "api", [{"id": i, "name": "old"} for i in range(10)])
    result = manager.preview_data_source("demo", "api")
    assert result.records == [{"id": i, "name": "new"} for i in range(PREVIEW_RECORDS)]
    assert result.record_count == result.preview.record_count == total
    assert result.diff is not None
    assert (result.diff.added, result.diff.modified, result.diff.removed) == (total - 10, 10, 0)
    assert len(manager.list_versions("demo", "api")) == 1


@pytest.mark.parametrize("limit", [0, -5, 1.5])
def test_max_output_mb_must_be_a_positive_whole_number(
    manager: SeparatedDatabaseManager, limit: object
) -> None:
    with pytest.raises(ConfigError, match="'maxOutputMb'"):
        make_source(manager, maxOutputMb=limit)
