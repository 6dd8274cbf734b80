"""`manifold import P/S file.csv` and a CSV source reading the same file must give the same
records: otherwise the next run of the source diffs as all-modified, and the version
history records changes that never happened. When the target is a CSV source, its own
settings (delimiter, declared columns, encoding, inferTypes) read the file; a file that
cannot be read is a clear error that imports nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.cli.conftest import run_manifold
from manifold_tests.conftest import make_source


def _manifold(home: Path, *args: str, code: int = 0) -> str:
    done = run_manifold(home, *args)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr if code else done.stdout


@pytest.mark.parametrize(
    ("settings", "content"),
    [
        ({"columns": {"code": "string"}}, b"id,code\n1,007\n2,42\n3,\n"),
        ({"delimiter": ";"}, b"id;price;note\n1;2.5;a,b\n2;3;\n"),
        ({"encoding": "latin-1"}, "id,name\n1,café\n2,Zürich\n".encode("latin-1")),
        ({"inferTypes": False}, b"id,n,flag\n1,5,true\n2,6.5,false\n"),
    ],
    ids=["declared-column", "semicolons", "latin-1", "text-only"],
)
@pytest.mark.slow
def test_a_file_run_by_a_csv_source_and_imported_into_it_gives_the_same_version(
    home: Path, settings: dict[str, Any], content: bytes
) -> None:
    (home / "data.csv").write_bytes(content)
    with SeparatedDatabaseManager(home) as manager:
        manager.create_project(name="P", id="p")
        manager.create_data_source(
            "p", name="S", type="csv", id="s", config={"path": "data.csv", **settings}
        )
    _manifold(home, "run", "p/s")
    imported = json.loads(_manifold(home, "import", "p/s", str(home / "data.csv"), "--json"))
    assert imported["version"] == 2
    assert imported["diff"]["totalChanges"] == 0
    first, second = (
        json.loads(_manifold(home, "show", "p/s", "--version", str(v), "--format", "json"))
        for v in (1, 2)
    )
    assert first == second


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("bad.json", b'[{"id": 1}', "bad.json is not valid JSON"),
        ("latin.csv", "id,name\n1,café\n".encode("latin-1"), "latin.csv is not valid utf-8"),
        ("latin.jsonl", '{"id": "é"}\n'.encode("latin-1"), "latin.jsonl is not valid utf-8"),
        ("ragged.csv", b"id,n\n1,2,3\n", "ragged.csv: CSV line 2 has more fields than the header"),
    ],
    ids=["invalid-json", "csv-encoding", "jsonl-encoding", "ragged-csv"],
)
def test_a_file_that_cannot_be_read_is_a_clear_error_and_imports_nothing(
    manager: SeparatedDatabaseManager, home: Path, tmp_path: Path, name: str, content: bytes,
    words: str,
) -> None:  # fmt: skip
    make_source(manager)
    manager.import_data("demo", "api", [{"id": 1}])
    manager.close()
    (tmp_path / name).write_bytes(content)
    error = _manifold(home, "import", "demo/api", str(tmp_path / name), code=1)
    assert error.splitlines()[-1].startswith("Error: ") and words in error
    with SeparatedDatabaseManager(home) as again:
        assert [v.version for v in again.list_versions("demo", "api")] == [1]
