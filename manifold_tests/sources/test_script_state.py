"""A script resumes where the last import left off through its global `state`: a copy of the
committed state that it may change or replace, and what it holds when the script ends is the
state committed with the version. A state that cannot be saved exactly (a function, a cycle,
NaN, undefined, a non-object, over 1 MiB) fails the run before anything is imported, because
a cursor saved wrong skips or repeats data at every later import."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from manifold_pipelines.core.source_config import parse_source_config
from manifold_pipelines.errors import ConfigError
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.sources.direct_runs import run_script, start_run

COMMITTED = {"cursor": 5, "seen": ["a"], "page": {"token": "t1"}}


def test_a_script_reads_the_committed_state_and_its_changes_are_saved(tmp_path: Path) -> None:
    script = """
    state.cursor += 1; state.seen.push("b"); delete state.page;
    return [{ id: state.cursor, first: state.seen[0] }];
    """
    committed = copy.deepcopy(COMMITTED)
    outcome = run_script(tmp_path, script, committed)
    assert outcome.records == [{"id": 6, "first": "a"}]
    assert outcome.state == {"cursor": 6, "seen": ["a", "b"]}
    assert committed == COMMITTED, "the run changed the caller's own state"


def test_a_script_may_replace_its_state_with_a_new_object(tmp_path: Path) -> None:
    script = 'state = { page: "t2", at: new Date(Date.UTC(2026, 0, 9)) }; return [];'
    outcome = run_script(tmp_path, script, COMMITTED)
    assert outcome.state == {"page": "t2", "at": "2026-01-09T00:00:00.000Z"}


@pytest.mark.parametrize("committed", [{}, COMMITTED], ids=["first run", "resumed"])
def test_a_script_that_never_touches_state_gives_it_back_unchanged(
    tmp_path: Path, committed: dict
) -> None:
    assert run_script(tmp_path, "return [{ id: 1 }];", committed).state == committed


def test_a_local_variable_named_state_hides_the_global_and_is_not_saved(tmp_path: Path) -> None:
    script = "const state = { cursor: 99 }; return [{ id: state.cursor }];"
    outcome = run_script(tmp_path, script, COMMITTED)
    assert outcome.records == [{"id": 99}] and outcome.state == COMMITTED


def test_the_state_is_read_after_timers_and_emits_have_run(tmp_path: Path) -> None:
    script = """
    for (let page = 1; page <= 3; page++) { emit([{ id: page }]); state.page = page; }
    setTimeout(() => { state.done = true; }, 10);
    """
    outcome = run_script(tmp_path, script)
    assert [r["id"] for r in outcome.records] == [1, 2, 3]
    assert outcome.state == {"page": 3, "done": True}


@pytest.mark.parametrize("mode", ["snapshot", "incremental"])
def test_state_carries_from_run_to_run_in_either_mode(tmp_path: Path, mode: str) -> None:
    script = """
    const from = state.cursor ?? 0;
    state.cursor = from + 2;
    return [{ id: from + 1 }, { id: from + 2 }];
    """
    state: dict = {}
    seen = []
    for _ in range(3):
        outcome = run_script(tmp_path, script, state, mode=mode)
        seen += [record["id"] for record in outcome.records]
        assert outcome.state is not None
        state = outcome.state
    assert seen == [1, 2, 3, 4, 5, 6] and state == {"cursor": 6}


def test_a_state_of_a_mebibyte_is_saved(tmp_path: Path) -> None:
    script = 'state = { s: "x".repeat(1048576 - 8) }; return [];'
    outcome = run_script(tmp_path, script)
    assert outcome.state is not None and len(outcome.state["s"]) == 2**20 - 8


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("state.next = () => 1;", "state cannot be saved: field 'next' is a function, not data"),
        ("state.self = state;", "state cannot be saved: .*circular"),
        ("state.cursor = NaN;", "field 'cursor' is NaN, which JSON cannot hold"),
        ("state.cursor = 1 / 0;", "field 'cursor' is Infinity, which JSON cannot hold"),
        ("state.cursor = undefined;", "field 'cursor' is undefined, which JSON cannot hold"),
        ("state.ids = new Set([1]);", "field 'ids' is a Set; convert it to an object or array"),
        ("state.n = 10n;", "field 'n' is a BigInt"),
        ("state = [1, 2];", "state is an array, not an object"),
        ("state = null;", "state is null, not an object"),
        ("state = 7;", "state is a number, not an object"),
        ("state = undefined;", "state is undefined, not an object"),
        ("delete globalThis.state;", "state is undefined, not an object"),
        ("state = new Date(0);", "state serialises to a string, not an object .*toJSON"),
        (
            'state = { s: "x".repeat(1048576) };',
            r"state is 1,048,584 bytes as JSON, more than the 1,048,576 a state may hold",
        ),
        ('state.s = "\\ud800";', "state is not valid JSON .*lone surrogate"),
        (
            "let d = {}; state.deep = d; for (let i = 0; i < 2000; i++) { d.a = {}; d = d.a; }",
            "state is not valid JSON .*nesting over 1,024 levels",
        ),
        (
            "Object.defineProperty(globalThis, 'state', { get() { throw new Error('no'); } });",
            "reading the script's state threw Error: no",
        ),
    ],
)
def test_a_state_that_cannot_be_saved_exactly_fails_the_run(
    tmp_path: Path, change: str, message: str
) -> None:
    with pytest.raises(SourceRunError, match=message) as raised:
        run_script(tmp_path, f"{change} return [{{ id: 1 }}];", COMMITTED)
    assert str(raised.value).startswith("Data source 'demo/api': ")
    assert str(raised.value).endswith("Nothing was imported.")


def test_a_failed_run_has_no_final_state_to_read(tmp_path: Path) -> None:
    run = start_run(
        tmp_path, "javascript", {"script": "state.cursor = 9; throw new Error('x');"}, COMMITTED
    )
    with pytest.raises(SourceRunError, match="the script threw Error: x"):
        list(run.records())
    with pytest.raises(RuntimeError, match="records\\(\\) ran to its end"):
        run.final_state()
    run.close()


@pytest.mark.parametrize("name", ["state", "deleteRecords"])
def test_a_variable_may_not_take_the_name_of_state_or_delete_records(name: str) -> None:
    config = {"script": "return [];", "variables": {name: 1}}
    with pytest.raises(ConfigError, match=f"'{name}' would hide the script context's own name"):
        parse_source_config("javascript", config, where="'demo/api'")
