"""Script code that runs inside the host's own code (replaced builtins, and the getters, toJSON
methods and Proxy traps the host calls while it serialises records) changes only the script's
own results: the records the host receives, the console cap, the order timers fire in and the
rule "return or emit, never both" stay as the host defines them, and a record that does not
serialise to a JSON object is refused by row instead of vanishing or corrupting the batch."""

from __future__ import annotations

import pytest

from manifold_pipelines import SeparatedDatabaseManager
from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.conftest import make_source

GOOD_VERSION = [{"id": 1, "name": "kept"}]

REPLACE_BUILTINS = """
const forged = () => "forged";
for (const name of ["join", "push", "map", "splice", "shift", "findIndex", "sort"]) {
  Array.prototype[name] = forged;
}
JSON.stringify = forged; JSON.parse = forged; Array.isArray = () => false;
Object.entries = forged; Object.keys = forged; Object.freeze = forged;
Math.max = forged; Math.min = forged; Date.now = () => 0;
Promise.prototype.then = forged; Function.prototype.apply = forged;
String.prototype.toLowerCase = forged;
"""


def test_replaced_builtins_do_not_change_what_a_script_emits(
    manager: SeparatedDatabaseManager,
) -> None:
    script = REPLACE_BUILTINS + 'emit([{ id: 1, name: "a" }, { id: 2, tags: ["x", "y"] }]);'
    make_source(manager, script=script)
    manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == [
        {"id": 1, "name": "a"},
        {"id": 2, "tags": ["x", "y"]},
    ]


def test_console_cap_holds_when_builtins_are_replaced(manager: SeparatedDatabaseManager) -> None:
    script = REPLACE_BUILTINS + "for (let i = 0; i < 5000; i++) console.log('line', i); emit([]);"
    make_source(manager, script=script)
    manager.run_data_source("demo", "api")
    log = manager.get_import_logs("demo", "api")[0].log or ""
    assert log.count("[info] line") == 1000 and "(console output truncated)" in log


def test_timers_fire_in_due_order_when_builtins_are_replaced(
    manager: SeparatedDatabaseManager,
) -> None:
    script = (
        REPLACE_BUILTINS
        + """
    const fired = [];
    setTimeout(() => { fired[fired.length] = "late"; }, 30);
    setTimeout(() => { fired[fired.length] = "early"; }, 1);
    setTimeout(() => { fired[fired.length] = "middle"; }, 15);
    const report = () => fired.length + ":" + fired[0] + fired[1] + fired[2];
    setTimeout(() => emit([{ id: 1, fired: report() }]), 60);
    """
    )
    make_source(manager, script=script)
    manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == [{"id": 1, "fired": "3:earlymiddlelate"}]


# What a record's toJSON() (or a Date or Number object standing as a record) turns into, and
# how the refusal names it.
NOT_AN_OBJECT = [
    ("return undefined", "undefined"),
    ("return 5", "a number"),
    ('return "five"', "a string"),
    ("return [1, 2]", "an array"),
    ("return null", "null"),
    ("return true", "a boolean"),
]
HANDED_OVER = {"returned": "return {rows};", "emitted": "emit([{{ id: 0 }}]); emit({rows});"}


@pytest.mark.parametrize(("path", "template"), HANDED_OVER.items(), ids=HANDED_OVER.keys())
@pytest.mark.parametrize(("body", "kind"), NOT_AN_OBJECT, ids=[k for _, k in NOT_AN_OBJECT])
def test_a_record_that_serialises_to_no_object_is_refused_by_row(
    manager: SeparatedDatabaseManager, path: str, template: str, body: str, kind: str
) -> None:
    rows = f"[{{ id: 1 }}, {{ id: 2, toJSON() {{ {body}; }} }}, {{ id: 3 }}]"
    make_source(manager, script=template.format(rows=rows))
    manager.import_data("demo", "api", GOOD_VERSION)
    row = 2 if path == "emitted" else 1  # emitted rows count on from earlier batches
    with pytest.raises(SourceRunError, match=rf"row {row} serialises to {kind}, not an object"):
        manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == GOOD_VERSION


def test_getters_proxies_and_dates_that_keep_the_rules_still_import(
    manager: SeparatedDatabaseManager,
) -> None:
    script = """
    const when = new Date(Date.UTC(2026, 0, 2));
    const rows = [
      { id: 1, get doubled() { return 2; }, when },
      { id: 2, toJSON() { return { id: 2 }; } },
    ];
    return new Proxy(rows, { get: (target, key) => target[key] });
    """
    make_source(manager, script=script)
    manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == [
        {"id": 1, "doubled": 2, "when": "2026-01-02T00:00:00.000Z"},
        {"id": 2},
    ]


def test_emit_from_a_timer_after_the_script_returned_nothing_still_imports(
    manager: SeparatedDatabaseManager,
) -> None:
    script = "setTimeout(() => emit([{ id: 2 }]), 10); emit([{ id: 1 }]);"
    make_source(manager, script=script)
    manager.run_data_source("demo", "api")
    assert manager.get_latest_data("demo", "api").data == [{"id": 1}, {"id": 2}]
