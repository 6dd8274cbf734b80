"""An archive file is untrusted input like a backup: it may have been edited, truncated or
made by hand. Restoring from it must never put one source's versions into another, and a
malformed line is a clear error naming the line, with the live versions left as they were."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.errors import ConfigError, StorageError, VersionStatusError
from manifold_pipelines.versions.archive import read_archive
from manifold_tests.conftest import make_source


@pytest.fixture
def archive(manager: SeparatedDatabaseManager) -> Path:
    make_source(manager)
    make_source(manager, source_id="other")
    for round_ in range(3):
        manager.import_data("demo", "api", [{"id": 1, "r": round_}])
    manager.import_data("demo", "other", [{"id": 9, "kept": True}])
    path, _ = manager.archive_versions("demo", "api", 3)
    return path


def _rewrite(path: Path, edit: Any) -> None:
    """Apply `edit` to every line's object (or replace the content when it is bytes)."""
    if isinstance(edit, bytes):
        path.write_bytes(edit)
        return
    with gzip.open(path, "rb") as handle:
        lines = [orjson.loads(line) for line in handle]
    with gzip.open(path, "wb") as out:
        for line in lines:
            out.write(orjson.dumps(edit(line)) + b"\n")


def _without(key: str) -> Any:
    return lambda line: {k: v for k, v in line.items() if k != key}


def test_an_archive_whose_lines_name_no_source_is_not_restored_anywhere(
    manager: SeparatedDatabaseManager, archive: Path
) -> None:
    _rewrite(archive, _without("source"))
    with pytest.raises(StorageError, match=r"line 1: 'source': Field required"):
        manager.restore_archived("demo", "other", archive, 1)
    assert manager.get_latest_data("demo", "other").data == [{"id": 9, "kept": True}]
    assert len(manager.list_versions("demo", "other")) == 1


def test_an_archive_of_another_source_is_refused(
    manager: SeparatedDatabaseManager, archive: Path
) -> None:
    with pytest.raises(ConfigError, match="archives Data source 'demo/api', not Data source"):
        manager.restore_archived("demo", "other", archive, 1)
    assert len(manager.list_versions("demo", "other")) == 1


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_without("records"), "line 1: 'records': Field required"),
        (_without("version"), "line 1: 'version': Field required"),
        (lambda line: line | {"version": "1"}, "line 1: 'version': Input should be a valid"),
        (lambda line: line | {"records": {"id": 1}}, "line 1: 'records': Input should be a valid"),
        (lambda line: line | {"records": [1, 2]}, "line 1: 'records.0': Input should be a valid"),
        (lambda line: line | {"metadata": []}, "line 1: 'metadata': Input should be a valid"),
        (lambda line: [line], "line 1: 'the whole value': Input should be a valid"),
        (b"not gzip at all", "is not a Manifold archive"),
        (gzip.compress(b'{"source": "x"\n'), "line 1 is not valid JSON"),
    ],
    ids=[
        "no-records",
        "no-version",
        "version-text",
        "records-object",
        "records-not-objects",
        "metadata-list",
        "line-not-object",
        "not-gzip",
        "not-json",
    ],
)
def test_a_malformed_archive_is_a_clear_error(
    manager: SeparatedDatabaseManager, archive: Path, edit: Any, words: str
) -> None:
    _rewrite(archive, edit)
    with pytest.raises(StorageError, match=words.replace("(", r"\(").replace(")", r"\)")):
        manager.restore_archived("demo", "api", archive, 1)
    with pytest.raises(StorageError, match="is not a Manifold archive"):
        read_archive(archive)
    assert manager.get_latest_data("demo", "api").data == [{"id": 1, "r": 2}]
    assert [v.version for v in manager.list_versions("demo", "api")] == [3]


def test_a_good_archive_still_restores_its_version(
    manager: SeparatedDatabaseManager, archive: Path
) -> None:
    assert [entry.version for entry in read_archive(archive)] == [1, 2]
    result = manager.restore_archived("demo", "api", archive, 2)
    assert manager.get_data_version("demo", "api", result.version).data == [{"id": 1, "r": 1}]


def test_an_archive_keeps_how_each_version_was_imported(
    manager: SeparatedDatabaseManager,
) -> None:
    """Mode, upserts, deletions and the state committed go with each archived version; an
    archive written before incremental imports reads as snapshots."""
    make_source(manager, source_id="feed", mode="incremental")
    manager.import_data("demo", "feed", [{"id": 1}, {"id": 2}], state={"cursor": 1})
    manager.import_data("demo", "feed", [{"id": 3}], deleted=[1], state={"cursor": 2})
    manager.import_data("demo", "feed", [{"id": 4}])
    path, _ = manager.archive_versions("demo", "feed", 3)
    listed = manager.list_archived("demo", "feed", path)
    assert [(e.mode, e.upserts, e.deletions, e.state) for e in listed] == [
        ("incremental", 2, 0, {"cursor": 1}),
        ("incremental", 1, 1, {"cursor": 2}),
    ]
    _rewrite(path, lambda line: _without("state")(_without("mode")(line)))
    assert [(e.mode, e.state) for e in read_archive(path)] == [("snapshot", None)] * 2
    result = manager.restore_archived("demo", "feed", path, 2)
    assert manager.get_data_version("demo", "feed", result.version).data == [{"id": 2}, {"id": 3}]


def test_the_newest_version_stays_when_every_version_is_held(
    manager: SeparatedDatabaseManager,
) -> None:
    """With nothing published there is no latest version to keep, but the newest one's rows
    are what the next import is compared with: archiving it too left them live under no
    version, and the next diff counted them as removed."""
    make_source(manager, quality={"recordCount": {"fail": 100}, "blocking": ["record_count"]})
    assert manager.import_data("demo", "api", [{"id": i} for i in range(3)]).status == "held"
    assert manager.import_data("demo", "api", [{"id": i} for i in range(4)]).status == "held"
    with pytest.raises(VersionStatusError, match="version 2 is the newest one and must stay"):
        manager.archive_versions("demo", "api", 3)
    assert [v.version for v in manager.list_versions("demo", "api")] == [1, 2]
    manager.archive_versions("demo", "api", 2)
    result = manager.import_data("demo", "api", [{"id": 10}])
    assert result.diff is not None and (result.diff.added, result.diff.removed) == (1, 4)
    asked = manager.get_data_diff("demo", "api", 2, 3)
    assert asked.to_dict() == result.diff.to_dict()
