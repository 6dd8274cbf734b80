"""Builtins a script replaces change only the script's own code: the records the host receives,
the console cap and the order timers fire in stay as the host defines them, so a script cannot
use the host's own code against it."""

from __future__ import annotations

from manifold_pipelines import SeparatedDatabaseManager
from manifold_tests.conftest import make_source

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
