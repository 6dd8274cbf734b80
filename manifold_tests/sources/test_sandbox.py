"""A user's script runs in a disposable child process: whatever it does (loop, hoard memory,
throw, return garbage, reach for the host), the run fails with a message naming what
happened, the host process and the last good version are untouched, and the child is gone."""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.conftest import make_source

CASES = Path(__file__).parents[1] / "cases" / "scripts"
HOSTILE = sorted((CASES / "hostile").glob("*.js"))
GOOD_VERSION = [{"id": 1, "name": "kept"}]


def _case(path: Path) -> tuple[str, str, dict]:
    text = path.read_text(encoding="utf-8")
    expect = re.search(r"^// expect: (.+)$", text, re.MULTILINE)
    config = re.search(r"^// config: (.+)$", text, re.MULTILINE)
    assert expect, f"{path.name} has no '// expect:' line"
    return text, expect.group(1), json.loads(config.group(1)) if config else {}


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def test_every_hostile_case_has_an_expectation() -> None:
    assert len(HOSTILE) >= 25
    for path in HOSTILE:
        _case(path)


@pytest.mark.parametrize("path", HOSTILE, ids=[p.stem for p in HOSTILE])
def test_hostile_script_fails_cleanly_and_keeps_the_last_version(
    manager: SeparatedDatabaseManager, path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where the child's workdir goes
    assert tempfile.gettempdir() == str(scratch)
    script, expected, config = _case(path)
    make_source(manager, script=script, **config)
    manager.import_data("demo", "api", GOOD_VERSION)
    before = _children()
    started = time.monotonic()
    with pytest.raises(SourceRunError, match=expected):
        manager.run_data_source("demo", "api")
    assert time.monotonic() - started < config.get("timeoutSeconds", 30) + 5
    assert _children() <= before, "the sandbox process outlived its run"
    assert manager.get_latest_data("demo", "api").data == GOOD_VERSION
    log = manager.get_import_logs("demo", "api")[0]
    assert log.status == "failed" and re.search(expected, log.error or "")
    assert "Data source 'demo/api'" in (log.error or "")
    assert list(scratch.iterdir()) == [], "the sandbox's working directory was left behind"


def test_the_fetch_and_shape_example_runs_unchanged(manager: SeparatedDatabaseManager) -> None:
    script = (CASES / "good" / "fetch_and_shape_example.js").read_text()
    make_source(
        manager,
        script=script,
        mockResponses={
            "https://api.example.com/data": {
                "body": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
            }
        },
    )
    result = manager.run_data_source("demo", "api")
    assert result.version == 1
    assert manager.get_latest_data("demo", "api").data == [
        {"id": 1, "name": "a", "label": "a (1)"},
        {"id": 2, "name": "b", "label": "b (2)"},
    ]
    log = manager.get_import_logs("demo", "api")[0]
    assert log.status == "completed" and log.records_processed == 2
    assert "fetch https://api.example.com/data -> 200" in (log.log or "")


def test_the_whole_context_works(
    manager: SeparatedDatabaseManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "tok-123")
    make_source(
        manager,
        script=(CASES / "good" / "context_tour.js").read_text(),
        variables={"region": "eu", "limit": 5},
        env=["API_TOKEN"],
    )
    manager.run_data_source("demo", "api")
    (record,) = manager.get_latest_data("demo", "api").data
    assert record == {
        "id": 1,
        "region": "eu",
        "limit": 5,
        "idLooksRight": True,
        "parsed": {"a": 1},
        "broken": None,
        "text": '{"b":2}',
        "when": "2026-01-02T03:04:05.000Z",
        "fired": ["late", "never"],
        "token": "tok-123",
        "hasProcess": "undefined",
        "mathOk": True,
        "jsonOk": True,
    }
    log = manager.get_import_logs("demo", "api")[0].log or ""
    assert '[info] starting {"region":"eu"} [1,2]' in log
    assert "[warn] careful" in log and "[error] oops, but not fatal" in log


def test_host_secrets_are_out_of_reach(
    manager: SeparatedDatabaseManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANIFOLD_TEST_SECRET", "hunter2-secret")
    script = """
    const seen = [];
    const visit = (value, depth) => {
      if (depth > 3 || value === null) return;
      if (typeof value === "string") { seen.push(value); return; }
      if (typeof value !== "object" && typeof value !== "function") return;
      for (const name of Object.getOwnPropertyNames(value)) {
        try { visit(value[name], depth + 1); } catch (e) {}
      }
    };
    visit(globalThis, 0);
    return [{ id: 1, env: JSON.stringify(env), strings: seen.join("|"),
              direct: typeof env.MANIFOLD_TEST_SECRET }];
    """
    make_source(manager, script=script)
    manager.run_data_source("demo", "api")
    (record,) = manager.get_latest_data("demo", "api").data
    assert record["env"] == "{}" and record["direct"] == "undefined"
    assert "hunter2" not in json.dumps(record)
    assert "hunter2" not in json.dumps(
        [s.model_dump(mode="json") for s in manager.list_data_sources()]
    )


def test_a_listed_env_variable_that_is_not_set_is_a_clear_error(
    manager: SeparatedDatabaseManager,
) -> None:
    make_source(manager, script="return []", env=["NOT_SET_ANYWHERE"])
    with pytest.raises(SourceRunError, match="NOT_SET_ANYWHERE are listed in its env config"):
        manager.run_data_source("demo", "api")
    assert manager.get_import_logs("demo", "api")[0].status == "failed"


def test_script_errors_point_at_the_script_line(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, script="const x = 1;\nconst y = 2;\nnull.foo;\nreturn [];")
    with pytest.raises(SourceRunError, match=r"of null at anonymous \(script line 3, column"):
        manager.run_data_source("demo", "api")


def test_console_output_is_capped(manager: SeparatedDatabaseManager) -> None:
    make_source(manager, script="for (let i = 0; i < 5000; i++) console.log('line', i); return []")
    manager.run_data_source("demo", "api")
    log = manager.get_import_logs("demo", "api")[0].log or ""
    lines = log.splitlines()
    assert lines[:2] == ["[info] line 0", "[info] line 1"] and len(lines) == 1001
    assert lines[-2:] == ["[info] line 999", "[warn] (console output truncated)"]


def test_nul_characters_in_output_records_and_errors_are_kept_visibly(
    manager: SeparatedDatabaseManager,
) -> None:
    """A NUL a script prints is stored as the escape \\u0000 on both engines (a PostgreSQL
    text cannot hold it); a NUL inside a record is data and reads back exact; a script that
    throws one fails and is logged as failed on both."""
    make_source(manager, script='console.log("a\\u0000b"); return [{id: 1, v: "x\\u0000y"}];')
    manager.run_data_source("demo", "api")
    assert manager.get_import_logs("demo", "api")[0].log == "[info] a\\u0000b"
    assert manager.get_latest_data("demo", "api").data == [{"id": 1, "v": "x\x00y"}]
    make_source(manager, "demo", "thrower", script='throw new Error("bad\\u0000thing");')
    with pytest.raises(SourceRunError, match="bad"):
        manager.run_data_source("demo", "thrower")
    failed = manager.get_import_logs("demo", "thrower")[0]
    # The sandbox ends an error's text at a NUL, as C strings do; the failure is recorded.
    assert failed.status == "failed" and (failed.error or "").endswith("threw Error: bad")
    assert manager.import_history("demo", "thrower")[0].status == "failed"


@pytest.mark.slow
def test_a_million_records_stream_through_the_sandbox(manager: SeparatedDatabaseManager) -> None:
    make_source(
        manager,
        script=(CASES / "good" / "streams_batches.js").read_text(),
        variables={"total": 1_000_000},
        timeoutSeconds=120,
    )
    result = manager.run_data_source("demo", "api")
    assert result.record_count == 1_000_000
    assert manager.list_versions("demo", "api")[0].record_count == 1_000_000
    assert manager.get_data_version("demo", "api", 1).data[999_999] == {
        "id": 999_999,
        "name": "record 999999",
        "bucket": 999_999 % 7,
        "even": False,
    }


@pytest.mark.parametrize(("limit", "succeeds"), [(32, False), (256, True)])
def test_memory_limit_applies_to_the_child(
    manager: SeparatedDatabaseManager, limit: int, succeeds: bool
) -> None:
    script = """
    const hoard = [];
    for (let i = 0; i < 60; i++) hoard.push("x".repeat(1000000) + i);
    return [{ id: 1, held: hoard.length }];
    """
    make_source(manager, script=script, memoryLimitMb=limit)
    if succeeds:
        assert manager.run_data_source("demo", "api").record_count == 1
    else:
        with pytest.raises(SourceRunError, match=r"ran out of memory .memoryLimitMb 32"):
            manager.run_data_source("demo", "api")
