"""Every `manifold` command, its output and each way it can go wrong: exit 0 for ok, 1 for a
failure (one line, no traceback), 2 for bad usage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.cli.conftest import Invoke, table_rows


def _import(cli: Invoke, tmp_path: Path, rows: list[dict], name: str = "rows.json") -> None:
    path = tmp_path / name
    path.write_text(json.dumps(rows))
    cli("import", "demo/api", str(path))


def _cells(output: str) -> list[list[str]]:
    """The body rows of a rich table (`show`, `diff`), each as its stripped cells."""
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def test_init_with_demo(cli: Invoke, home: Path) -> None:
    assert "with the demo project" in cli("init", "--demo").output
    listed = json.loads(cli("source", "list", "demo", "--json").output)
    assert [s["source"] for s in listed] == ["demo/api", "demo/report", "demo/stores"]


def test_project_commands(cli: Invoke) -> None:
    cli("project", "create", "shop", "--name", "Shop", "--description", "orders")
    assert table_rows(cli("project", "list").output) == [
        {"ID": "shop", "NAME": "Shop", "DESCRIPTION": "orders"}
    ]
    cli("project", "update", "shop", "--description", "orders and stock")
    assert json.loads(cli("project", "show", "shop").output)["description"] == "orders and stock"
    assert json.loads(cli("project", "list", "--json").output)[0]["id"] == "shop"
    cli("project", "update", "shop", code=2)  # nothing to change
    cli("project", "delete", "shop", input="n\n", code=1)  # confirmation refused
    cli("project", "delete", "shop", "--yes")
    assert cli("project", "list").output.split() == ["ID", "NAME", "DESCRIPTION"]


def test_source_commands(cli: Invoke, home: Path, tmp_path: Path) -> None:
    cli("project", "create", "demo", "--name", "Demo")
    config = tmp_path / "api.yaml"
    config.write_text("script: 'return [{id: 1}]'\ndiffKey: id\n")
    cli(
        "source",
        "create",
        "demo/api",
        "--name",
        "API",
        "--type",
        "javascript",
        "--config",
        str(config),
        "--sync-interval",
        "90",
    )
    cli("source", "create", "demo/paged", "--name", "Paged", "--template", "rest-api")
    cli("source", "create", "demo/shaped", "--name", "Shaped", "--template", "transform")
    assert cli("source", "link", "demo/api", "demo/shaped").output == (
        "demo/api now feeds demo/shaped.\n"
    )
    shown = json.loads(cli("source", "show", "demo/paged").output)
    assert shown["type"] == "javascript" and "mockResponses" in shown["config"]
    (api, *_) = table_rows(cli("source", "list").output)
    assert api == {
        "SOURCE": "demo/api",
        "TYPE": "javascript",
        "STATUS": "idle",
        "SCHEDULE": "every 90 min",
        "NAME": "API",
    }
    cli("source", "disable", "demo/api")
    assert table_rows(cli("source", "list", "demo").output)[0]["STATUS"] == "disabled"
    cli("source", "enable", "demo/api")
    assert table_rows(cli("source", "list", "demo").output)[0]["STATUS"] == "idle"
    cli("source", "update", "demo/api", "--sync-interval", "30", "--name", "The API")
    updated = json.loads(cli("source", "show", "demo/api").output)
    assert (updated["syncInterval"], updated["name"]) == (30, "The API")
    ran = cli("run", "demo/paged").output  # the template's mock answers one item
    assert ran.startswith("Version 1 (published): 1 records")
    with SeparatedDatabaseManager(home) as manager:
        assert [r.upstream for r in manager.list_relationships()] == [("demo", "api")]
    cli("source", "link", "demo/api", "demo/shaped", "--remove")
    deleted = cli("source", "delete", "demo/paged", "--yes", "--archive").output
    (archived,) = (home / "archive" / "demo").glob("paged-*")  # a .db copy, or a .jsonl.gz
    assert deleted == f"Deleted data source demo/paged. Archived to {archived}.\n"
    with SeparatedDatabaseManager(home) as manager:
        assert manager.list_relationships() == []
        assert [s.id for s in manager.list_data_sources("demo")] == ["api", "shaped"]


def test_source_edit_opens_the_editor(
    demo_cli: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/"return \\[\\];"/"return [{id: 7}];"/\' "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    demo_cli("source", "update", "demo/api", "--edit")
    demo_cli("run", "demo/api")
    assert json.loads(demo_cli("show", "demo/api", "--format", "json").output) == [{"id": 7}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["source", "create", "demo/x", "--name", "X"], "Give --type"),
        (["source", "create", "nodemo", "--name", "X", "--type", "csv"], "is not PROJECT/SOURCE"),
        (["source", "create", "demo/x", "--name", "X", "--type", "excel"], "Invalid value"),
        (
            [
                "source",
                "create",
                "demo/x",
                "--name",
                "X",
                "--type",
                "csv",
                "--template",
                "rest-api",
            ],
            "makes a javascript source",
        ),
        (["source", "update", "demo/api"], "Nothing to change"),
        (["run"], "Missing argument"),
        (["diff", "demo/api", "1"], "Missing argument"),
        (["publish", "demo/api", "0"], "Invalid value"),
        (["nonsense"], "No such command"),
    ],
)
def test_bad_usage_exits_2(demo_cli: Invoke, args: list[str], message: str) -> None:
    assert message in demo_cli(*args, code=2).output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "demo/nope"], "Error: Data source 'demo/nope' does not exist"),
        (["show", "demo/api"], "has no published version yet"),
        (["diff", "demo/api", "1", "2"], "has no version 1"),
        (["project", "create", "bad/id", "--name", "B"], "Project id 'bad/id' is not allowed"),
        (
            ["source", "create", "demo/csv", "--name", "C", "--type", "csv"],
            "exactly one of 'path' or 'url'",
        ),
        (
            ["run", "demo/broken"],
            "Error: Data source 'demo/broken': the script threw Error: API is down",
        ),
    ],
)
def test_failures_exit_1_with_one_line(
    demo_cli: Invoke, tmp_path: Path, args: list[str], message: str
) -> None:
    config = tmp_path / "broken.json"
    config.write_text(json.dumps({"script": "throw new Error('API is down')"}))
    demo_cli("source", "create", "demo/broken", "--name", "B", "--type", "javascript",
             "--config", str(config))  # fmt: skip
    result = demo_cli(*args, code=1)
    assert message in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_a_script_that_returns_no_records_is_a_run_of_0_records(demo_cli: Invoke) -> None:
    assert demo_cli("run", "demo/api").output.startswith("Version 1 (published): 0 records")
    assert json.loads(demo_cli("show", "demo/api", "--format", "json").output) == []


def test_debug_shows_the_traceback(demo_cli: Invoke) -> None:
    from click.testing import CliRunner

    from manifold_pipelines.cli import main
    from manifold_pipelines.errors import NotFoundError

    result = CliRunner().invoke(main, ["--debug", "show", "demo/nope"])
    assert isinstance(result.exception, NotFoundError)


def test_data_commands(demo_cli: Invoke, tmp_path: Path) -> None:
    _import(demo_cli, tmp_path, [{"id": 1, "price": 10}, {"id": 2, "price": 5}])
    lines = tmp_path / "v2.jsonl"
    lines.write_text('{"id": 1, "price": 12}\n{"id": 3, "price": 1}\n')
    out = demo_cli("import", "demo/api", str(lines), "--json").output
    assert json.loads(out[out.index("{") :])["version"] == 2
    csv_file = tmp_path / "v3.csv"
    csv_file.write_text("id,price\n1,12\n")  # typed as a CSV source types it: no change
    assert "Version 3" in demo_cli("import", "demo/api", str(csv_file)).output
    versions = json.loads(demo_cli("versions", "demo/api", "--json").output)
    assert [v["version"] for v in versions] == [1, 2, 3]
    listed = table_rows(demo_cli("versions", "demo/api").output)
    assert [{k: row[k] for k in ("VERSION", "STATUS", "RECORDS", "ADDED")} for row in listed] == [
        {"VERSION": "1", "STATUS": "published", "RECORDS": "2", "ADDED": "2"},
        {"VERSION": "2", "STATUS": "published", "RECORDS": "2", "ADDED": "1"},
        {"VERSION": "3", "STATUS": "published", "RECORDS": "1", "ADDED": "0"},
    ]
    assert (listed[1]["REMOVED"], listed[1]["MODIFIED"]) == ("1", "1")
    shown = demo_cli("show", "demo/api", "--version", "2", "--format", "jsonl").output
    assert shown.splitlines() == ['{"id":1,"price":12}', '{"id":3,"price":1}']
    assert demo_cli(
        "show", "demo/api", "--version", "1", "--format", "csv"
    ).output.splitlines() == ["id,price", "1,10", "2,5"]
    assert _cells(demo_cli("show", "demo/api", "--version", "1").output) == [
        ["1", "10"],
        ["2", "5"],
    ]
    diff = json.loads(demo_cli("diff", "demo/api", "1", "2", "--format", "json").output)
    assert (diff["added"], diff["removed"], diff["modified"]) == (1, 1, 1)
    only = json.loads(
        demo_cli("diff", "demo/api", "1", "2", "--only", "modified", "--format", "json").output
    )
    assert only["details"]["added"] == [] and len(only["details"]["modified"]) == 1
    assert _cells(demo_cli("diff", "demo/api", "1", "2").output) == [
        ["modified", "1", "price", "10", "12"],
        ["added", "3", "", "", '{"id":3,"price":1}'],
        ["removed", "2", "", '{"id":2,"price":5}', ""],
    ]
    report = demo_cli("diff", "demo/api", "1", "2", "--format", "report").output
    assert "DataComPy Comparison" in report and "Matched on: id" in report
    history = table_rows(demo_cli("history", "demo/api", "1").output)
    assert [(r["VERSION"], r["CHANGE"], r["FIELD"], r["OLD -> NEW"]) for r in history] == [
        ("1", "added", "", ""),
        ("2", "modified", "", ""),
        ("", "", "price", "10 -> 12"),
    ]
    assert (
        json.loads(demo_cli("history", "demo/api", "2", "--json").output)[-1]["change"] == "removed"
    )
    assert "has no record with key 999" in demo_cli("history", "demo/api", "999", code=1).output
    assert "Version 4 restores version 1" in demo_cli("rollback", "demo/api", "1").output
    assert "version 4 is already published; nothing to do" in (
        demo_cli("publish", "demo/api", "4", code=1).output
    )
    assert "pruned 2 version(s)" in demo_cli("cleanup", "demo/api", "--keep-versions", "2").output
    assert "demo/api: pruned 0" in demo_cli("cleanup").output


def test_import_refuses_bad_files(demo_cli: Invoke, tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("a")
    assert (
        "use a .json, .jsonl or .csv file"
        in demo_cli("import", "demo/api", str(tmp_path / "x.txt"), code=2).output
    )
    (tmp_path / "o.json").write_text('{"id": 1}')
    assert (
        "expected a JSON array"
        in demo_cli("import", "demo/api", str(tmp_path / "o.json"), code=1).output
    )
    (tmp_path / "b.jsonl").write_text('{"id": 1}\nnot json\n')
    assert (
        "line 2 is not valid JSON"
        in demo_cli("import", "demo/api", str(tmp_path / "b.jsonl"), code=1).output
    )


def test_run_and_dry_run(demo_cli: Invoke, tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"script": "return [{id: 1}, {id: 2}]"}))
    demo_cli("source", "update", "demo/api", "--config", str(config))
    dry_table = demo_cli("run", "demo/api", "--dry-run").output
    assert "2 records would become version 1 (published). Nothing was written" in dry_table
    assert "nothing -> v1 (dry run)" in dry_table and "added" in dry_table
    assert table_rows(demo_cli("versions", "demo/api").output) == []
    assert demo_cli("run", "demo/api").output == (
        "Version 1 (published): 2 records, 2 added, 0 removed, 0 modified\n"
    )
    dry = json.loads(demo_cli("run", "demo/api", "--dry-run", "--json").output)
    assert dry["diff"]["totalChanges"] == 0


def test_users_audit_and_stats(demo_cli: Invoke, home: Path, tmp_path: Path) -> None:
    _import(demo_cli, tmp_path, [{"id": 1}])
    demo_cli("user", "create", "vera", "--email", "vera@example.com")
    demo_cli("user", "grant", "vera", "demo", "viewer")
    assert {"ID": "vera", "NAME": "", "EMAIL": "vera@example.com", "INSTANCE ROLE": ""} in (
        table_rows(demo_cli("user", "list").output)
    )
    refused = demo_cli("--user", "vera", "import", "demo/api", str(tmp_path / "rows.json"), code=1)
    assert "'vera' is a viewer of project 'demo'" in refused.output
    assert (
        table_rows(demo_cli("--user", "vera", "versions", "demo/api").output)[0]["VERSION"] == "1"
    )
    shown = demo_cli("--user", "vera", "show", "demo/api", "--format", "json").output
    assert json.loads(shown) == [{"id": 1}]
    audit = json.loads(demo_cli("audit", "--source", "demo/api", "--json").output)
    assert {"import", "create", "read"} <= {entry["action"] for entry in audit}
    by_vera = table_rows(demo_cli("audit", "--user", "vera").output)
    assert [(r["ACTOR"], r["ACTION"], r["OBJECT"]) for r in by_vera] == [
        ("vera", "read", "demo/api"),  # the JSON show
        ("vera", "read", "demo/api"),  # the versions listing
        ("vera", "denied", "demo"),  # the refused import
    ]
    stats = json.loads(demo_cli("stats", "--json").output)
    (figures,) = stats["sources"]
    assert figures["imports"] == 1 and figures["success_rate"] == 1.0 and figures["versions"] == 1
    stats_text = demo_cli("stats", "demo/api").output
    (row,) = table_rows(stats_text.split("\ntotal storage")[0])
    assert (row["SOURCE"], row["IMPORTS"], row["OK"], row["QUALITY"]) == (
        "demo/api",
        "1",
        "100%",
        "1/0/0",
    )
    assert "QUALITY counts imports as pass/warning/fail" in stats_text


def test_archive_and_restore(demo_cli: Invoke, home: Path, tmp_path: Path) -> None:
    for round_ in range(4):
        _import(demo_cli, tmp_path, [{"id": 1, "round": round_}], f"r{round_}.json")
    out = demo_cli("archive", "demo/api", "--before", "3").output
    assert "Archived 2 version(s)" in out
    archive = next((home / "archive" / "demo").glob("api-before-v3-*.jsonl.gz"))
    listed = table_rows(demo_cli("restore", "demo/api", str(archive)).output)
    assert [(r["VERSION"], r["STATUS"], r["MODE"], r["RECORDS"]) for r in listed] == [
        ("1", "published", "snapshot", "1"),
        ("2", "published", "snapshot", "1"),
    ]
    as_json = json.loads(demo_cli("restore", "demo/api", str(archive), "--json").output)
    assert [(e["version"], e["record_count"], e["mode"]) for e in as_json] == [
        (1, 1, "snapshot"),
        (2, 1, "snapshot"),
    ]
    assert (
        "Version 5 of demo/api restores archived version 1"
        in demo_cli("restore", "demo/api", str(archive), "--version", "1").output
    )
    refused = demo_cli("archive", "demo/api", "--before", "9", code=1).output
    assert "version 5 is the latest published one and must stay" in refused


# Backups copy a SQLite home's files; PostgreSQL's refusal is in test_maintenance_edges.py.
@pytest.mark.sqlite_only
def test_backups_copy_what_changed_and_restore_into_a_new_home(
    demo_cli: Invoke, tmp_path: Path
) -> None:
    for round_ in range(3):
        _import(demo_cli, tmp_path, [{"id": 1, "round": round_}], f"r{round_}.json")
    first = json.loads(demo_cli("backup", str(tmp_path / "bk"), "--json").output)
    assert first["copied"] == ["demo/api"]
    second = json.loads(demo_cli("backup", str(tmp_path / "bk"), "--json").output)
    assert second["copied"] == [] and second["unchanged"] == ["demo/api"]
    demo_cli("--home", str(tmp_path / "elsewhere"), "restore-backup", second["folder"])
    with SeparatedDatabaseManager(tmp_path / "elsewhere") as restored:
        assert [v.version for v in restored.list_versions("demo", "api")] == [1, 2, 3]
        assert restored.get_latest_data("demo", "api").data == [{"id": 1, "round": 2}]
    refused = demo_cli(
        "--home", str(tmp_path / "elsewhere"), "restore-backup", second["folder"], code=1
    )
    assert "already has a core.db" in refused.output


def test_roles_in_the_cli_settings_instance_admins_and_what_strangers_see(
    demo_cli: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    demo_cli("project", "create", "other", "--name", "Other")
    demo_cli("settings", "set", "alerts", '{"webhookUrl": "http://127.0.0.1:9/h?token=s3cret"}')
    for user in ("vera", "root"):
        demo_cli("user", "create", user)
    demo_cli("user", "grant", "vera", "demo", "viewer")
    demo_cli("user", "instance-admin", "root")
    refused = demo_cli("--user", "vera", "settings", "set", "alerts", "{}", code=1)
    assert "needs an instance admin" in refused.output
    assert "s3cret" not in demo_cli("--user", "vera", "settings", "show").output
    assert "s3cret" in demo_cli("--user", "root", "settings", "show").output
    bad = demo_cli("--user", "root", "settings", "set", "alerts", '{"webhookUrl": 5}', code=1)
    assert "webhookUrl" in bad.output
    listed = table_rows(demo_cli("--user", "vera", "project", "list").output)
    assert [r["ID"] for r in listed] == ["demo"]
    assert "has no role in project 'other'" in (
        demo_cli("--user", "vera", "project", "show", "other", code=1).output
    )
    assert table_rows(demo_cli("--user", "vera", "audit").output) == []
    # The editor must not open for who cannot save: it would show the script first.
    editor = tmp_path / "editor.sh"
    editor.write_text(f'#!/bin/sh\ncp "$1" {tmp_path / "seen.json"}\n')
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    edit = demo_cli("--user", "vera", "source", "update", "demo/api", "--edit", code=1)
    assert "needs the editor role" in edit.output
    assert not (tmp_path / "seen.json").exists()
    demo_cli("user", "instance-admin", "root", "--revoke")
    assert "needs an instance admin" in (
        demo_cli("--user", "root", "settings", "set", "alerts", "{}", code=1).output
    )
    assert (
        "Acting user id '' is not allowed"
        in demo_cli("--user", "", "project", "list", code=1).output
    )


def test_a_csv_file_imports_as_a_csv_source_reads_it(
    demo_cli: Invoke, home: Path, tmp_path: Path
) -> None:
    """One CSV parser: the same file through `manifold import` and through a CSV source gives
    the same records, so the second import changes nothing."""
    text = "id,price,code,note\n1,12.5,007,\n2,3,1_000,x\n"
    (home / "prices.csv").write_text(text)
    (tmp_path / "prices.csv").write_text(text)
    demo_cli("import", "demo/api", str(tmp_path / "prices.csv"))
    config = tmp_path / "csv.json"
    config.write_text(json.dumps({"path": "prices.csv"}))
    demo_cli(
        "source", "create", "demo/file", "--name", "F", "--type", "csv", "--config", str(config)
    )
    demo_cli("run", "demo/file")
    shown = [
        json.loads(demo_cli("show", f"demo/{s}", "--format", "json").output)
        for s in ("api", "file")
    ]
    assert (
        shown[0]
        == shown[1]
        == [
            {"id": 1, "price": 12.5, "code": "007", "note": None},
            {"id": 2, "price": 3, "code": "1_000", "note": "x"},
        ]
    )


def test_diff_reports_say_where_they_wrote_and_keep_integers(
    demo_cli: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _import(demo_cli, tmp_path, [{"id": 3, "n": 305}, {"id": 1, "n": 7}, {"id": 2}], "a.json")
    _import(demo_cli, tmp_path, [{"id": 2, "n": 9}, {"id": 1, "n": 8}, {"id": 3, "n": 306}])
    monkeypatch.chdir(tmp_path)
    wrote = demo_cli("diff", "demo/api", "1", "2", "--format", "html").output
    target = tmp_path / "diff-demo-api-1-2.html"
    assert f"Wrote the HTML diff report to {target}" in wrote and target.is_file()
    report = demo_cli("diff", "demo/api", "1", "2", "--format", "report").output
    samples = report[report.index("Sample Rows") :].splitlines()[4:7]
    assert [line.split() for line in samples] == [
        ["0", "1", "7", "8"],
        ["1", "2", "<NA>", "9"],
        ["2", "3", "305", "306"],
    ]


def test_the_cli_starts_without_pandas_or_datacompy() -> None:
    """Only `diff --format report` needs datacompy (pandas, numpy, polars: most of a second
    of start-up); every other command must start without them."""
    probe = (
        "import sys; from click.testing import CliRunner; from manifold_pipelines.cli import main;"
        " CliRunner().invoke(main, ['--help']);"
        " print(sorted(m for m in ('pandas', 'datacompy', 'polars', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_an_incremental_source_through_the_cli(cli: Invoke, tmp_path: Path) -> None:
    """`run` and `versions` show the mode, upserts, deletions and cursor; `state` shows,
    rewinds and resets the state, and refuses what is not a JSON object."""
    script = tmp_path / "feed.json"
    script.write_text(json.dumps({"script": "return [];", "mode": "incremental"}))
    cli("project", "create", "demo", "--name", "Demo")
    cli(
        "source",
        "create",
        "demo/feed",
        "--name",
        "Feed",
        "--type",
        "javascript",
        "--config",
        str(script),
    )
    data = tmp_path / "v1.jsonl"
    data.write_text('{"id": 1, "v": 1}\n{"id": 2, "v": 2}\n')
    imported = cli("import", "demo/feed", str(data)).output
    assert "incremental: 2 upserts, 0 deletions" in imported
    assert json.loads(cli("state", "demo/feed").output) == {}
    assert json.loads(cli("state", "demo/feed", "--set", '{"cursor": 7}').output) == {"cursor": 7}
    listed = table_rows(cli("versions", "demo/feed").output)
    assert {k: listed[0][k] for k in ("MODE", "UPSERTS", "DELETIONS")} == {
        "MODE": "incremental",
        "UPSERTS": "2",
        "DELETIONS": "0",
    }
    refused = cli("state", "demo/feed", "--set", "[1]", code=1).output
    assert "a state is a JSON object" in refused
    assert "is not JSON" in cli("state", "demo/feed", "--set", "{nope", code=1).output
    assert json.loads(cli("state", "demo/feed", "--reset").output) == {}
    assert json.loads(cli("state", "demo/feed").output) == {}


def test_a_state_with_an_integer_beyond_64_bits_is_refused_not_rounded(
    demo_cli: Invoke,
) -> None:
    refused = demo_cli("state", "demo/api", "--set", '{"a": 18446744073709551616}', code=1)
    assert "64" in refused.output and "1.8446744073709552e+19" not in refused.output
    assert json.loads(demo_cli("state", "demo/api").output) == {}
