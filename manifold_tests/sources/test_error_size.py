"""An error's text is the script's (or the records') to choose, so its size is too: a
40 MB message kept whole would be stored in the source's import log and in the catalogue's
import history at every failure, and printed whole by the CLI. Every place an error is
recorded keeps at most 16 KiB of it, with a note of how much was cut."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import MAX_ERROR_CHARS
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.conftest import make_source
from manifold_tests.raw_storage import catalogue_sql, source_sql

HUGE = 40_000_000
GOOD_VERSION = [{"id": 1, "name": "kept"}]


def _stored_errors(home: Path) -> tuple[list[int], list[int], list[int]]:
    """Lengths of demo/api's failed imports' error and log text in its own store, and of
    their errors in the catalogue's import history."""
    with source_sql(home, "demo", "api") as conn:
        logs = conn.execute(
            "SELECT length(error), length(coalesce(log, '')) FROM import_logs"
            " WHERE status = 'failed'"
        ).fetchall()
    with catalogue_sql(home) as conn:
        history = conn.execute(
            "SELECT length(error) FROM import_history WHERE status = 'failed'"
        ).fetchall()
    return [row[0] for row in logs], [row[1] for row in logs], [row[0] for row in history]


@pytest.mark.slow
def test_a_huge_script_error_is_stored_and_printed_cut_to_size(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    make_source(manager, script=f"throw new Error('x'.repeat({HUGE}))")
    manager.import_data("demo", "api", GOOD_VERSION)
    with pytest.raises(SourceRunError) as raised:
        manager.run_data_source("demo", "api")
    assert MAX_ERROR_CHARS - 100 < len(str(raised.value)) <= MAX_ERROR_CHARS
    assert str(raised.value).endswith(" more characters cut)")
    printed = run_manifold(home, "run", "demo/api", timeout=60)
    assert printed.returncode == 1
    assert printed.stdout == "" and printed.stderr == f"Error: {raised.value}\n"
    assert printed.stderr.startswith("Error: Data source 'demo/api': the script threw Error: xxx")
    errors, logs, history = _stored_errors(home)
    assert errors == history == [len(str(raised.value))] * 2
    # The log holds the error line (without the source's name) among the run's own lines.
    assert all(MAX_ERROR_CHARS / 2 < size < MAX_ERROR_CHARS + 100 for size in logs)
    (entry, _) = manager.import_history("demo", "api", limit=2)
    assert entry.error is not None and "characters cut" in entry.error
    assert manager.get_latest_data("demo", "api").data == GOOD_VERSION


def test_a_huge_error_from_the_records_themselves_is_stored_cut_to_size(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    class HugeRecordsError(Exception):
        """Raised by a record iterator, as any Python caller's own code may."""

    def records() -> Iterator[dict[str, Any]]:
        yield {"id": 1}
        raise HugeRecordsError("y" * 1_000_000)

    make_source(manager)
    with pytest.raises(HugeRecordsError):
        manager.import_data("demo", "api", records())
    errors, _, history = _stored_errors(home)
    assert errors == history and MAX_ERROR_CHARS - 100 < errors[0] <= MAX_ERROR_CHARS
    (log,) = manager.get_import_logs("demo", "api")
    cut = re.fullmatch(r"(y+)\.\.\. \(([\d,]+) more characters cut\)", log.error or "")
    assert cut is not None, "the error keeps its start and says how much was cut"
    assert len(cut.group(1)) + int(cut.group(2).replace(",", "")) == 1_000_000
