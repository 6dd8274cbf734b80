"""dukpy hands every host call's arguments to the host through JSON.stringify, so a script that
puts a toJSON() (or an element 0 or 1, or a new prototype) on Array.prototype or
Object.prototype changes what the host receives, and runs its own code inside the call. Such a
run used to fail in Python's words (an orjson decode error, an AttributeError from
str.encode, "missing 1 required positional argument"), or with a forged refusal, or not at
all when the script swallowed a refusal. Now each host call refuses, before anything is sent,
with a sentence naming the override and the fix, and the last good version, its state and the
import log are as a failed run leaves them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import SourceRunError
from manifold_pipelines.sources.sandbox import child
from manifold_tests.conftest import make_source
from manifold_tests.sources.direct_runs import run_script

GOOD = [{"id": 1, "name": "kept"}]
RULE = "every value the sandbox hands the host goes through JSON.stringify"
PAGE_URL = "http://api.test/page"
MOCKS = {PAGE_URL: {"status": 200, "body": {"items": [{"id": 7}, {"id": 8}]}}}
ARRAY_TOJSON = "Array.prototype.toJSON is defined"
OBJECT_TOJSON = "Object.prototype.toJSON is defined"

# Each override, and how the refusal names it.
OVERRIDES = {
    "Array.prototype.toJSON gives undefined": (
        "Array.prototype.toJSON = function () { return undefined; };",
        ARRAY_TOJSON,
    ),
    "Array.prototype.toJSON gives a number": (
        "Array.prototype.toJSON = function () { return 5; };",
        ARRAY_TOJSON,
    ),
    "Array.prototype.toJSON gives a list": (
        "Array.prototype.toJSON = function () { return [5]; };",
        ARRAY_TOJSON,
    ),
    "Array.prototype.toJSON gives an object": (
        "Array.prototype.toJSON = function () { return { id: 666 }; };",
        ARRAY_TOJSON,
    ),
    "Array.prototype.toJSON forges the arguments": (
        """Array.prototype.toJSON = function () { return ['[{"id": 666}]']; };""",
        ARRAY_TOJSON,
    ),
    "Array.prototype.toJSON throws": (
        "Array.prototype.toJSON = function () { throw new Error('no JSON today'); };",
        ARRAY_TOJSON,
    ),
    "Array.prototype.toJSON is a getter": (
        'Object.defineProperty(Array.prototype, "toJSON", { get() { return () => 5; } });',
        ARRAY_TOJSON,
    ),
    "Object.prototype.toJSON gives undefined": (
        "Object.prototype.toJSON = function () { return undefined; };",
        OBJECT_TOJSON,
    ),
    "Object.prototype.toJSON throws": (
        "Object.prototype.toJSON = function () { throw new Error('no JSON today'); };",
        OBJECT_TOJSON,
    ),
    # Harmless as it stands, but it runs the script's code inside every host call.
    "Object.prototype.toJSON gives the object itself": (
        "Object.prototype.toJSON = function () { return this; };",
        OBJECT_TOJSON,
    ),
    "an element 0 on Array.prototype": (
        'Object.defineProperty(Array.prototype, "0", { get() { return 5; }, set(v) {} });',
        "Array.prototype has an element 0",
    ),
    "a property '1' on Object.prototype": (
        'Object.defineProperty(Object.prototype, "1", { get() { return 5; }, set(v) {} });',
        "Object.prototype has a property '1'",
    ),
    "a new prototype for Array.prototype": (
        "Object.setPrototypeOf(Array.prototype, { toJSON() { return 5; } });",
        "Array.prototype's prototype is no longer Object.prototype",
    ),
    # The check runs none of the script's code: a trap that did would fail the run its way.
    "a Proxy as Array.prototype's prototype": (
        "Object.setPrototypeOf(Array.prototype, new Proxy({}, { has() { throw 'trapped'; } }));",
        "Array.prototype's prototype is no longer Object.prototype",
    ),
}
# Scripts with `{override}` where they set the override.
HANDED_OVER = {
    "returned": "{override} return [{ id: 2 }];",
    "emitted in batches": "{override} for (let i = 2; i < 5; i++) emit([{ id: i }]);",
}
RECORDS = "the script's records cannot be sent to the host"
FETCH = f'const r = await fetch("{PAGE_URL}");'

# Each way a value reaches the host, and how its refusal begins.
CARRIERS = {
    **{f"records {how}": (script, RECORDS) for how, script in HANDED_OVER.items()},
    "console.log": (
        "{override} console.log('ready'); return [{ id: 2 }];",
        "console.log() cannot send its line to the host",
    ),
    "deleteRecords": (
        "{override} deleteRecords([1]); return [];",
        "deleteRecords() cannot send its keys to the host",
    ),
    "fetch": (
        "{override} " + FETCH + " return [];",
        "fetch() cannot send its request to the host",
    ),
    "a fetched body, overridden before r.json()": (
        FETCH + " {override} emit((await r.json()).items);",
        RECORDS,
    ),
    "a fetched body, overridden after r.json()": (
        FETCH + " const body = await r.json(); {override} emit(body.items);",
        RECORDS,
    ),
    "a second batch, after the first was streamed": (
        "emit([{ id: 2 }]); {override} emit([{ id: 3 }]);",
        RECORDS,
    ),
    "a timer's emit": (
        "{override} setTimeout(() => emit([{ id: 2 }]), 5);",
        RECORDS,
    ),
    "the state": (
        "emit([{ id: 2 }]); {override}",
        "the script's state cannot be saved",
    ),
}


def _second_run(body: str) -> str:
    """A script whose first run imports GOOD and saves a cursor, and whose next runs `body`."""
    return (
        f"if (state.cursor === undefined) {{ state.cursor = 1; return {json.dumps(GOOD)}; }}\n"
        + body
    )


def _assert_refused(manager: SeparatedDatabaseManager, body: str, sentence: str) -> None:
    """The run of `body` fails with `sentence` in its message and its log, after a good first
    run whose version and state stay as they were."""
    make_source(manager, script=_second_run(body), mockResponses=MOCKS)
    assert manager.run_data_source("demo", "api").version == 1
    before = (manager.list_versions("demo", "api"), manager.get_source_state("demo", "api"))
    with pytest.raises(SourceRunError, match=re.escape(sentence)) as raised:
        manager.run_data_source("demo", "api")
    assert str(raised.value).startswith("Data source 'demo/api': ")
    assert (manager.list_versions("demo", "api"), manager.get_source_state("demo", "api")) == before
    assert before[1] == {"cursor": 1}
    assert manager.get_latest_data("demo", "api").data == GOOD
    failed, good = manager.get_import_logs("demo", "api")[:2]
    assert (failed.status, failed.version, good.status) == ("failed", None, "completed")
    assert sentence in (failed.error or "")


@pytest.mark.parametrize("script", HANDED_OVER.values(), ids=HANDED_OVER.keys())
@pytest.mark.parametrize(("override", "found"), OVERRIDES.values(), ids=OVERRIDES.keys())
def test_records_are_refused_by_name_while_a_prototype_override_would_rewrite_them(
    tmp_path: Path, override: str, found: str, script: str
) -> None:
    """Straight through the runner: the storage side of a refused run is the same for every
    override, and is checked below."""
    with pytest.raises(SourceRunError, match=re.escape(f"{RECORDS} while {found}: {RULE}")):
        run_script(tmp_path, script.replace("{override}", override), mockResponses=MOCKS)


@pytest.mark.parametrize(("body", "refusal"), CARRIERS.values(), ids=CARRIERS.keys())
def test_every_host_call_is_refused_by_name_and_the_last_version_stays(
    manager: SeparatedDatabaseManager, body: str, refusal: str
) -> None:
    override = OVERRIDES["Array.prototype.toJSON gives a list"][0]
    sentence = f"{refusal} while {ARRAY_TOJSON}: {RULE}"
    _assert_refused(manager, body.replace("{override}", override), sentence)


def test_a_refused_call_sends_nothing_and_the_script_may_recover(tmp_path: Path) -> None:
    script = """
    Array.prototype.toJSON = () => undefined;
    try { emit([{ id: 1 }]); } catch (e) {
      delete Array.prototype.toJSON;
      emit([{ id: 2, refused: e.message.startsWith("the script's records cannot be sent") }]);
    }
    """
    assert run_script(tmp_path, script).records == [{"id": 2, "refused": True}]


@pytest.mark.parametrize(
    "toJSON",
    ["() => { throw new Error('swallowed'); }", "() => ['forged']"],
    ids=["throws", "forges"],
)
def test_a_refusal_a_prototype_override_would_rewrite_still_ends_the_run(
    manager: SeparatedDatabaseManager, toJSON: str
) -> None:
    """A getter of a returned record emits (a refusal, since the script also returned), with
    the override in place, catches the refusal and removes the override: the refusal used to
    be swallowed (the run imported) or forged (the run failed with the override's text)."""
    body = f"""return [{{ id: 2, get late() {{
      Array.prototype.toJSON = {toJSON};
      try {{ emit([{{ id: 3 }}]); }} catch (e) {{}}
      delete Array.prototype.toJSON;
      return 1;
    }} }}];"""
    _assert_refused(manager, body, "the script both returned records and called emit()")


@pytest.mark.parametrize(
    ("name", "json_args"),
    [
        ("emit", b"undefined"),
        ("emit", b"5"),
        ("emit", b"[5]"),
        ("emit", b"[]"),
        ("emit", b'["[]", "[]"]'),
        ("emit", b'{"id": 666}'),
        ("emitFetched", b"[true]"),
        ("console", b'["info"]'),
        ("fetch", b'["http://api.test/", "GET"]'),
        ("state", b"[null]"),
    ],
)
def test_host_call_arguments_the_prelude_never_sends_are_refused_in_the_child(
    name: str, json_args: bytes
) -> None:
    assert child.call_arguments(name, json_args) is None


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("emit", ['[{"id": 1}]']),
        ("console", ["info", "a line"]),
        ("fetch", ["http://api.test/", {"method": "GET", "headers": [], "body": None}]),
        ("emitFetched", [3]),
        ("sleep", [2.5]),
    ],
)
def test_host_call_arguments_the_prelude_sends_pass_the_child_s_check(
    name: str, args: list[Any]
) -> None:
    assert child.call_arguments(name, json.dumps(args).encode()) == args
