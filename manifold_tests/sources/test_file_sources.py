"""CSV, JSON and JSON Lines sources read files inside the allowed roots (or allowed URLs),
with encodings, delimiters and declared types, and name the line that is wrong."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from manifold_pipelines import ManifoldError, SeparatedDatabaseManager
from manifold_pipelines.errors import PathNotAllowedError, RecordsError
from manifold_pipelines.sources.base import SourceRunError


def _source(manager: SeparatedDatabaseManager, kind: str, **config: object) -> None:
    manager.create_project(name="Files", id="files")
    manager.create_data_source("files", name="f", type=kind, id="f", config=config)


def test_csv_with_delimiter_encoding_and_declared_types(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    path = home / "in.csv"
    path.write_bytes("id;name;price;active\n1;Zoë;2.5;true\n2;Ana;;no\n".encode("latin-1"))
    _source(
        manager,
        "csv",
        path=str(path),
        delimiter=";",
        encoding="latin-1",
        columns={"id": "integer", "price": "number", "active": "boolean"},
    )
    manager.run_data_source("files", "f")
    assert manager.get_latest_data("files", "f").data == [
        {"id": 1, "name": "Zoë", "price": 2.5, "active": True},
        {"id": 2, "name": "Ana", "price": None, "active": False},
    ]


@pytest.mark.parametrize(
    ("content", "config", "message"),
    [
        (b"id,n\n1,x\n2,y,extra\n", {}, "CSV line 3 has more fields than the header"),
        (b"id,n\n1,x\nabc,y\n", {"columns": {"id": "integer"}}, "line 3 column 'id': 'abc' is not"),
        (b"id\n\xff\xfe\n", {}, "not valid utf-8.*Set 'encoding'"),
    ],
)
def test_bad_csv_names_the_line(
    manager: SeparatedDatabaseManager, home: Path, content: bytes, config: dict, message: str
) -> None:
    path = home / "bad.csv"
    path.write_bytes(content)
    _source(manager, "csv", path=str(path), **config)
    with pytest.raises(SourceRunError, match=message):
        manager.run_data_source("files", "f")
    assert manager.get_import_logs("files", "f")[0].status == "failed"


def test_csv_values_are_typed_each_on_its_own(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    (home / "t.csv").write_text(
        "id,zip,price,flag,mixed,empty\n1,01234,2,true,1,\n2,99999,2.5,False,x,\n3,,-1e3,,2,\n"
    )
    _source(manager, "csv", path=str(home / "t.csv"))
    manager.run_data_source("files", "f")
    first, second, third = manager.get_latest_data("files", "f").data
    assert first == {"id": 1, "zip": "01234", "price": 2, "flag": True, "mixed": 1, "empty": None}
    assert (second["price"], second["flag"], second["mixed"]) == (2.5, False, "x")
    assert (third["price"], third["zip"]) == (-1000.0, None)
    manager.update_data_source(
        "files", "f", config={"path": str(home / "t.csv"), "inferTypes": False}
    )
    manager.run_data_source("files", "f")
    assert manager.get_latest_data("files", "f").data[0]["id"] == "1"


def test_json_with_records_path_and_jsonl(manager: SeparatedDatabaseManager, home: Path) -> None:
    (home / "doc.json").write_text('{"data": {"rows": [{"id": 1}, {"id": 2}]}}')
    (home / "lines.jsonl").write_text('{"id": 1}\n\n{"id": 2, "x": [1]}\n')
    _source(manager, "json", path=str(home / "doc.json"), recordsPath="data.rows")
    lines = {"path": str(home / "lines.jsonl"), "format": "jsonl"}
    manager.create_data_source("files", name="l", type="json", id="l", config=lines)
    manager.run_data_source("files", "f")
    manager.run_data_source("files", "l")
    assert manager.get_latest_data("files", "f").data == [{"id": 1}, {"id": 2}]
    assert manager.get_latest_data("files", "l").data == [{"id": 1}, {"id": 2, "x": [1]}]


@pytest.mark.parametrize(
    ("content", "config", "error", "message"),
    [
        ('{"id": 1', {}, SourceRunError, "the document is not valid JSON"),
        ('{"id": 1}', {}, SourceRunError, "expected a JSON array of records, found dict"),
        ('{"a": []}', {"recordsPath": "b"}, SourceRunError, "recordsPath 'b': no key 'b'"),
        ('{"id": 1}\nnope\n', {"format": "jsonl"}, SourceRunError, "line 2 is not valid JSON"),
        ("[1, 2]", {}, RecordsError, "row 0 is int, not an object"),  # refused as any import is
    ],
)
def test_bad_json_is_refused(
    manager: SeparatedDatabaseManager,
    home: Path,
    content: str,
    config: dict,
    error: type[ManifoldError],
    message: str,
) -> None:
    (home / "bad.json").write_text(content)
    _source(manager, "json", path=str(home / "bad.json"), **config)
    with pytest.raises(error, match=message):
        manager.run_data_source("files", "f")
    assert manager.get_import_logs("files", "f")[0].status == "failed"
    assert manager.list_versions("files", "f") == []


def test_file_outside_the_allowed_roots_is_refused(
    manager: SeparatedDatabaseManager, tmp_path: Path
) -> None:
    (tmp_path / "outside.json").write_text("[]")
    with pytest.raises(PathNotAllowedError, match="outside every allowed root"):
        _source(manager, "json", path=str(tmp_path / "outside.json"))
    assert manager.list_data_sources() == []


def test_relative_paths_are_relative_to_manifold_home(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    (home / "inbox").mkdir()
    (home / "inbox" / "rows.jsonl").write_text('{"id": 1}\n')
    _source(manager, "json", path="inbox/rows.jsonl", format="jsonl")
    manager.run_data_source("files", "f")
    assert manager.get_latest_data("files", "f").data == [{"id": 1}]
    with pytest.raises(PathNotAllowedError):
        manager.update_data_source("files", "f", config={"path": "../../etc/passwd"})


def test_missing_file_is_named(manager: SeparatedDatabaseManager, home: Path) -> None:
    _source(manager, "csv", path=str(home / "nope.csv"))
    with pytest.raises(SourceRunError, match=r"nope\.csv' does not exist"):
        manager.run_data_source("files", "f")


def test_urls_need_an_allowed_host(manager: SeparatedDatabaseManager, http_server: str) -> None:
    _source(manager, "csv", url=f"{http_server}/data.csv")
    with pytest.raises(SourceRunError, match="to allowedHosts"):
        manager.run_data_source("files", "f")
    host = http_server.removeprefix("http://")
    manager.update_data_source(
        "files", "f", config={"url": f"{http_server}/data.csv", "allowedHosts": [host]}
    )
    assert manager.run_data_source("files", "f").record_count == 2
    manager.create_data_source(
        "files",
        name="j",
        type="json",
        id="j",
        config={
            "url": f"{http_server}/data.json",
            "allowedHosts": [host],
            "recordsPath": "result.rows",
        },
    )
    manager.run_data_source("files", "j")
    assert manager.get_latest_data("files", "f").data == [
        {"id": 1, "name": "a"},
        {"id": 2, "name": "b"},
    ]
    assert manager.get_latest_data("files", "j").data == [{"id": 1}, {"id": 2}]


def test_a_large_array_is_imported_whole_and_its_bad_row_named(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    """A JSON array reaches the import as the list it was parsed into, read a slice at a time;
    rows keep their numbers across the slices, in errors too, and a bad file leaves the version
    before it as it was."""
    records = [{"id": i, "note": None if i % 7 else f"n{i}"} for i in range(25_000)]
    array = home / "many.json"
    array.write_bytes(orjson.dumps(records))
    _source(manager, "json", path=str(array))
    manager.run_data_source("files", "f")
    assert manager.get_latest_data("files", "f").data == records
    bad: list[object] = [*records[:-1], {"id": -1, "v": "x"}]
    bad[17_000] = [1]
    array.write_bytes(orjson.dumps(bad))
    with pytest.raises(RecordsError, match="row 17000 is list, not an object"):
        manager.run_data_source("files", "f")
    assert manager.get_latest_data("files", "f").data == records
    assert [version.version for version in manager.list_versions("files", "f")] == [1]


def test_a_bad_record_is_named_before_a_later_line_that_cannot_be_read(
    manager: SeparatedDatabaseManager, home: Path
) -> None:
    """JSON Lines are read as the import asks for records: the first problem in the file is
    the one named."""
    (home / "lines.jsonl").write_text('{"id": 1}\n[1]\n{bad\n')
    _source(manager, "json", path=str(home / "lines.jsonl"), format="jsonl")
    with pytest.raises(RecordsError, match="row 1 is list, not an object"):
        manager.run_data_source("files", "f")
