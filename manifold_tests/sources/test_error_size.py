"""An error's text is the script's (or the records') to choose, so its size is too: a
40 MB message kept whole would be stored in the data file's import log and in core.db's
import history at every failure, and printed whole by the CLI. Every place an error is
recorded keeps at most 16 KiB of it, with a note of how much was cut."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import MAX_ERROR_CHARS
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.conftest import make_source

HUGE = 40_000_000
GOOD_VERSION = [{"id": 1, "name": "kept"}]
# The cap, the note of what was cut, and the words around the error.
MOST_STORED = MAX_ERROR_CHARS + 200


def _stored_errors(home: Path, data_file: Path) -> tuple[list[int], list[int], list[int]]:
    """Lengths of the failed imports' error and log text in the data file, and of their
    errors in core.db's import history."""
    with sqlite3.connect(data_file) as conn:
        logs = conn.execute(
            "SELECT length(error), length(coalesce(log, '')) FROM import_logs"
            " WHERE status = 'failed'"
        ).fetchall()
    with sqlite3.connect(home / "core.db") as conn:
        history = conn.execute(
            "SELECT length(error) FROM import_history WHERE status = 'failed'"
        ).fetchall()
    return [row[0] for row in logs], [row[1] for row in logs], [row[0] for row in history]


def test_a_huge_script_error_is_stored_and_printed_cut_to_size(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    make_source(manager, script=f"throw new Error('x'.repeat({HUGE}))")
    manager.import_data("demo", "api", GOOD_VERSION)
    with pytest.raises(SourceRunError) as raised:
        manager.run_data_source("demo", "api")
    assert len(str(raised.value)) < MOST_STORED
    assert "characters cut" in str(raised.value)
    printed = run_manifold(home, "run", "demo/api", timeout=60)
    assert printed.returncode == 1
    assert printed.stdout == "" and len(printed.stderr) < MOST_STORED
    assert printed.stderr.startswith("Error: Data source 'demo/api': the script threw Error: xxx")
    assert "characters cut" in printed.stderr
    errors, logs, history = _stored_errors(home, manager.data_file_path("demo", "api"))
    assert len(errors) == len(history) == 2
    assert all(size < MOST_STORED for size in errors + logs + history)
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
    errors, _, history = _stored_errors(home, manager.data_file_path("demo", "api"))
    assert len(errors) == len(history) == 1
    assert errors[0] < MOST_STORED and history[0] < MOST_STORED
    (log,) = manager.get_import_logs("demo", "api")
    assert log.error is not None
    assert log.error.endswith(f"({1_000_000 - MAX_ERROR_CHARS:,} more characters cut)")
