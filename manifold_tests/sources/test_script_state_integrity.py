"""The state and the deletions the host receives are what the script's own `state` and
`deleteRecords` gave, and nothing else: a committed state decides what every later import
fetches, and a deletion removes data, so a script must not be able to send either behind
the prelude's back (calling the host function, an entry point of the host, or the prelude's
own code through replaced builtins and prototype accessors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from manifold_pipelines.sources.base import SourceRunError
from manifold_tests.sources.direct_runs import run_script, start_run

REACH_FOR_THE_HOST = """
const tries = [
  () => call_python("state", '{"cursor": 666}'),
  () => call_python("delete", '[666]'),
  () => dukpy.token,
  () => globalThis.call_python("delete", "[666]"),
  () => __manifold.finish(),
  () => __manifold.start(),
  () => __manifold.runNextTimer(),
  () => Object.defineProperty(globalThis, "call_python", { set(f) { f("delete", "[666]"); } }),
];
let refused = 0;
for (const attempt of tries) {
  try { attempt(); } catch (e) { refused += 1; }
}
setTimeout(() => { try { __manifold.finish(); } catch (e) { refused += 1; } }, 1);
await new Promise(resolve => setTimeout(resolve, 5));
state.refused = refused;
deleteRecords([1]);
return [{ id: 1 }];
"""


def test_a_script_cannot_send_a_state_or_deletions_past_the_prelude(tmp_path: Path) -> None:
    outcome = run_script(tmp_path, REACH_FOR_THE_HOST, {"cursor": 5})
    assert outcome.state == {"cursor": 5, "refused": 9}
    assert outcome.deleted == [1]
    assert outcome.records == [{"id": 1}]


REPLACE_BUILTINS = """
const forged = () => "forged";
for (const name of ["join", "push", "map", "slice", "concat", "forEach"]) {
  Array.prototype[name] = forged;
}
Array.prototype[Symbol.iterator] = function* () { yield "forged"; };
JSON.stringify = forged; JSON.parse = () => ({ forged: true }); Array.isArray = () => true;
Object.keys = () => []; Object.create = () => ({}); Object.defineProperty = forged;
Number.isFinite = () => true; Number.isSafeInteger = () => true;
Reflect.apply = forged; Function.prototype.apply = forged; Function.prototype.call = forged;
String = forged; Math.min = () => 0;
"""


def test_replaced_builtins_change_neither_the_keys_nor_the_state_the_host_receives(
    tmp_path: Path,
) -> None:
    script = (
        REPLACE_BUILTINS
        + """
    deleteRecords([1, "two", { region: "eu", id: 3 }]);
    state.cursor = "2026-01-10";
    let refused = "no";
    try { deleteRecords([{ id: { nested: 1 } }]); } catch (e) { refused = "yes"; }
    state.refused = refused;
    return [];
    """
    )
    outcome = run_script(tmp_path, script)
    assert outcome.deleted == [1, "two", {"region": "eu", "id": 3}]
    assert outcome.state == {"cursor": "2026-01-10", "refused": "yes"}


@pytest.mark.parametrize("prototype", ["Array", "Object"])
def test_an_index_accessor_on_a_prototype_never_puts_forged_keys_in_a_frame(
    tmp_path: Path, prototype: str
) -> None:
    """The getter answers for index 0 of any array or object the prelude's code would read,
    then removes itself so the host call that follows would go through."""
    script = f"""
    Object.defineProperty({prototype}.prototype, "0", {{
      configurable: true,
      get() {{ delete {prototype}.prototype[0]; return '[{{"forged": {{"deep": 1}}}}]'; }},
    }});
    deleteRecords([1, 2]);
    return [];
    """
    run = start_run(tmp_path, "javascript", {"script": script}, {})
    try:
        list(run.records())
        assert run.deleted == [1, 2]
    except SourceRunError:
        assert run.deleted == []
    finally:
        run.close()


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "deleteRecords([{ id: 1, toJSON() { deleteRecords([2]); return 1; } }]); return [];",
            r"called deleteRecords\(\) while a deleteRecords\(\) was reading its keys",
        ),
        (
            "deleteRecords([{ toJSON() { emit([{ id: 2 }]); return 1; } }]);",
            r"called emit\(\) while a deleteRecords\(\) was reading its keys",
        ),
        (
            "emit([{ id: 1, toJSON() { deleteRecords([2]); return { id: 1 }; } }]);",
            r"called deleteRecords\(\) while an emit\(\) was reading its records",
        ),
        (
            "return [{ id: 1, get name() { deleteRecords([2]); return 'a'; } }];",
            r"called deleteRecords\(\) from code the host ran while reading its result",
        ),
        (
            "state = { toJSON() { deleteRecords([2]); return {}; } }; return [];",
            r"called deleteRecords\(\) from code the host ran while reading its result",
        ),
        (
            "state = { toJSON() { Promise.resolve().then(() => deleteRecords([2])); return {}; } };"
            " return [];",
            r"called deleteRecords\(\) from code the host ran while reading its result",
        ),
    ],
    ids=[
        "delete inside delete",
        "emit inside delete",
        "delete inside emit",
        "delete from a returned record",
        "delete from the state",
        "delete queued by the state",
    ],
)
def test_deletions_from_code_the_host_runs_while_reading_are_refused(
    tmp_path: Path, script: str, message: str
) -> None:
    """Script code the host runs while it reads keys, records or the state (getters, toJSON,
    Proxy traps, jobs they queue) could otherwise send deletions after the state the host took
    as final, or in the middle of another call's keys. The run ends at once: an error thrown
    back into that code could be caught there."""
    run = start_run(tmp_path, "javascript", {"script": script}, {})
    try:
        with pytest.raises(SourceRunError, match=f"{message}.*Nothing was imported"):
            list(run.records())
        assert 2 not in run.deleted
    finally:
        run.close()
