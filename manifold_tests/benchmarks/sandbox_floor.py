"""The floor of streaming records out of a script: what the engine and the parser must do
whatever the sandbox does around them, measured in the benchmark's own process.

dukpy lets a value leave QuickJS only as JSON text (the arguments of a host call and the
result of an evaluation both go through QuickJS's JSON.stringify in C), so the floor is the
same script building the same records in one QuickJS context with no host calls, the
engine's JSON.stringify of each batch, and orjson parsing that JSON. The building alone is
printed too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from dukpy import _dukpy

from manifold_tests.benchmarks.measure import Cost, measured


class _BareEngine:
    """A QuickJS context with no host functions: the attributes dukpy's C code looks for.
    One per evaluation, as the sandbox has one per run."""

    def __init__(self) -> None:
        self._ctx = _dukpy.create_context()

    def _check_exported_function_exists(self, name: bytes) -> bool:
        return False

    def _call_python(self, name: bytes, json_args: bytes) -> None:
        raise AssertionError("the floor makes no host calls")

    def evaluate(self, code: str) -> object:
        raw = _dukpy.eval_string(self, code.encode(), b"{}", False, "<floor>")
        return None if raw is None else orjson.loads(raw)


def _in_engine(script: str, records: int, emit: str) -> str:
    """The script as the sandbox runs it, with `emit` a local function instead of a host
    call; the evaluation's value is `result`."""
    return f"let result = 0;\nconst total = {records};\nconst emit = {emit};\n{script}\nresult;"


def quickjs_floor(
    script: str, records: int, batch_size: int, make_record: Callable[[int], Any]
) -> dict[str, Cost]:
    """The costs of building `records` records with `script` (which emits them in batches
    of `batch_size`), of building and serialising them, and of parsing their JSON. The JSON
    parsed is built in Python, checked on the first batch to be the engine's own."""
    built, count = measured(
        lambda: _BareEngine().evaluate(
            _in_engine(script, records, "(batch) => { result += batch.length; }")
        )
    )
    assert count == records, f"the floor built {count} records, not {records}"
    serialised, size = measured(
        lambda: _BareEngine().evaluate(
            _in_engine(script, records, "(batch) => { result += JSON.stringify(batch).length; }")
        )
    )
    texts = [
        orjson.dumps([make_record(i) for i in range(start, min(records, start + batch_size))])
        for start in range(0, records, batch_size)
    ]
    first_batch = _in_engine(
        script, min(records, batch_size), "(batch) => { result = JSON.stringify(batch); }"
    )
    first = _BareEngine().evaluate(first_batch)
    assert first == texts[0].decode(), "the engine's JSON is not the benchmark's"
    assert sum(len(text) for text in texts) == size
    parsed, _ = measured(lambda: [len(orjson.loads(text)) for text in texts])
    return {"build": built, "build and serialise": serialised, "parse": parsed}
