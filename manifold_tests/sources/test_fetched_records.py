"""Records a script passes untouched from a fetched body's `r.json()` to `emit()` reach the
host as the bytes it fetched, parsed once there instead of by QuickJS, serialised again and
sent as text: the path users take most (paging an API) costs a quarter of what it did. It
must never change what is imported: a script that looks inside, changes or replaces the
records, a body whose numbers or keys JavaScript would change, a body no longer held, or a
handle a script tries to forge all give exactly what the ordinary path gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from manifold_pipelines.sources.base import SourceRunError
from manifold_pipelines.sources.sandbox.runner import JavascriptRun
from manifold_tests.sources.direct_runs import start_run

ITEMS: list[dict[str, Any]] = [{"id": 1, "name": "a", "price": 2.5}, {"id": 2, "name": "b"}]
PAGE = {"page": 1, "items": ITEMS}
FETCH = 'const r = await fetch("http://api.test/page"); const body = await r.json();'


def _run(home: Path, script: str, body: Any = PAGE, **config: Any) -> tuple[list[Any], int]:
    """The records a script's run yields, and how many the host took from fetched bodies."""
    mock = {"http://api.test/page": {"status": 200, "body": body}}
    run = start_run(home, "javascript", {"script": script, "mockResponses": mock, **config}, {})
    assert isinstance(run, JavascriptRun)
    try:
        return list(run.records()), run.records_from_bodies
    finally:
        run.close()


@pytest.mark.parametrize(
    "handed_over",
    ["emit(body.items);", "return body.items;", "if (body.items.length > 1) emit(body.items);"],
)
def test_records_passed_untouched_are_taken_from_the_fetched_body(
    tmp_path: Path, handed_over: str
) -> None:
    assert _run(tmp_path, FETCH + handed_over) == (ITEMS, 2)


@pytest.mark.parametrize(
    ("body", "handed_over"),
    [
        ([{"id": 1}, {"id": 2}], "return body;"),
        ({"data": {"rows": [{"id": 1}, {"id": 2}]}, "next": None}, "emit(body.data.rows);"),
    ],
    ids=["the body itself", "two objects deep"],
)
def test_a_record_list_may_be_the_body_or_sit_two_objects_deep(
    tmp_path: Path, body: Any, handed_over: str
) -> None:
    assert _run(tmp_path, FETCH + handed_over, body) == ([{"id": 1}, {"id": 2}], 2)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("body.items[0].name = 'changed';", [{**ITEMS[0], "name": "changed"}, ITEMS[1]]),
        ("body.items.push({ id: 3 });", [*ITEMS, {"id": 3}]),
        ("body.items.reverse();", ITEMS[::-1]),
        ("for (const item of body.items) item.seen = true;", [{**i, "seen": True} for i in ITEMS]),
        ("body.items = body.items.filter((item) => item.id === 2);", [ITEMS[1]]),
        ("Object.freeze(body.items);", ITEMS),
    ],
)
def test_records_the_script_looked_inside_or_changed_are_sent_as_it_holds_them(
    tmp_path: Path, change: str, expected: list[dict[str, Any]]
) -> None:
    assert _run(tmp_path, FETCH + change + "emit(body.items);") == (expected, 0)


def test_the_array_behaves_as_the_parsed_array_it_stands_for(tmp_path: Path) -> None:
    script = (
        FETCH
        + """
    const items = body.items;
    const seen = [Array.isArray(items), items instanceof Array, items.length,
                  Object.prototype.toString.call(items), JSON.stringify(items) === JSON.stringify(
                    JSON.parse(await (await fetch("http://api.test/page")).text()).items),
                  Object.keys(items).join(","), items.map((item) => item.id).join(","),
                  [...items].length, items.length];
    return [{ id: 1, seen }];
    """
    )
    records, _ = _run(tmp_path, script)
    assert records[0]["seen"] == [True, True, 2, "[object Array]", True, "0,1", "1,2", 2, 2]


def test_a_changed_record_emitted_after_the_untouched_ones_does_not_change_them(
    tmp_path: Path,
) -> None:
    script = FETCH + "emit(body.items); body.items[0].name = 'later'; emit(body.items);"
    records, from_bodies = _run(tmp_path, script)
    assert records == [*ITEMS, {**ITEMS[0], "name": "later"}, ITEMS[1]]
    assert from_bodies == 2


@pytest.mark.parametrize(
    ("record", "as_javascript_sends_it"),
    [
        ({"id": 1, "amount": 2.0}, {"id": 1, "amount": 2}),
        ({"id": 1, "big": 2**53 + 1}, {"id": 1, "big": 2**53}),
        ({"id": 1, "nested": {"n": -0.0}}, {"id": 1, "nested": {"n": 0}}),
        ({"b": 1, "7": 2}, {"7": 2, "b": 1}),
    ],
    ids=["an integral float", "an integer beyond 2**53", "negative zero", "an index key"],
)
def test_a_body_javascript_would_change_takes_the_ordinary_path(
    tmp_path: Path, record: dict[str, Any], as_javascript_sends_it: dict[str, Any]
) -> None:
    records, from_bodies = _run(tmp_path, FETCH + "emit(body.items);", {"items": [record]})
    assert from_bodies == 0
    assert records == [as_javascript_sends_it]
    assert list(records[0]) == list(as_javascript_sends_it)


def test_a_body_no_longer_held_is_sent_from_the_script_s_own_copy(tmp_path: Path) -> None:
    """A run holds the latest four bodies within an eighth of memoryLimitMb (4 MiB at 32)."""
    items = [{"id": i, "text": "x" * 1000} for i in range(1500)]  # 1.5 MB a page
    script = """
    const pages = [];
    for (let i = 0; i < 4; i++) pages.push(await (await fetch("http://api.test/page")).json());
    for (const page of pages.reverse()) emit(page.items);
    """
    records, from_bodies = _run(tmp_path, script, {"items": items}, memoryLimitMb=32)
    assert records == items * 4
    assert 0 < from_bodies < len(items) * 4


@pytest.mark.parametrize(
    "forgery",
    [
        "Object.prototype.toJSON = function () { return { id: 666 }; };",
        'Object.defineProperty(Array.prototype, "toJSON", { get() { return () => [1]; } });',
        "Object.setPrototypeOf(Array.prototype, new Proxy({}, {}));",
    ],
    ids=["Object.prototype.toJSON", "Array.prototype.toJSON", "Array.prototype's prototype"],
)
def test_prototypes_that_would_rewrite_a_host_call_keep_records_off_the_fast_path(
    tmp_path: Path, forgery: str
) -> None:
    """The records are refused as on the ordinary path, by naming the override: it would
    rewrite the arguments of every host call (test_sandbox_prototypes.py)."""
    with pytest.raises(SourceRunError, match="the script's records cannot be sent to the host"):
        _run(tmp_path, FETCH + forgery + "emit(body.items);")


def test_an_array_of_the_script_s_own_is_never_taken_for_a_fetched_one(tmp_path: Path) -> None:
    script = (
        FETCH
        + """
    const own = new Proxy([{ id: 9 }], {});
    emit(own);
    emit(JSON.parse(JSON.stringify(body)).items);
    emit(Object.assign([], body.items));
    """
    )
    records, from_bodies = _run(tmp_path, script)
    assert records == [{"id": 9}, *ITEMS, *ITEMS]
    assert from_bodies == 0


def test_a_paged_api_served_over_http_takes_the_fast_path(
    tmp_path: Path, http_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", "s3cret")
    script = """
    const headers = { Authorization: `Bearer ${env.API_TOKEN}` };
    for (let page = 1; page; ) {
      const body = await (await fetch(`${base}/items?page=${page}`, { headers })).json();
      emit(body.items);
      page = body.next;
    }
    """
    config = {
        "script": script,
        "variables": {"base": http_server},
        "env": ["API_TOKEN"],
        "allowedHosts": [http_server.removeprefix("http://")],
    }
    run = start_run(tmp_path, "javascript", config, {})
    assert isinstance(run, JavascriptRun)
    try:
        assert [record["name"] for record in run.records()] == ["a", "b", "c"]
        assert run.records_from_bodies == 3
    finally:
        run.close()
