"""A batch whose records share their names is read a field at a time (versions/columns.py):
it must say a batch holds no NaN or infinity only when none is there, anywhere, and say so for
plain batches, whose nulls are then not searched."""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from manifold_pipelines.versions.columns import Columns

_FINITE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300),
    st.text(max_size=3),
)
_ANY = st.one_of(
    _FINITE,
    st.floats(),
    st.lists(st.floats(), max_size=2),
    st.dictionaries(st.just("k"), st.floats(), max_size=1),
    st.builds(lambda: float("nan")),
)


class _Float(float):
    """A float subclass, as numpy's float64 is: orjson writes its NaN as null too."""


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(map(_non_finite, value.values()))
    if isinstance(value, (list, tuple)):
        return any(map(_non_finite, value))
    return False


def _batch(rows: list[list[Any]]) -> list[dict[str, Any]]:
    width = min(map(len, rows))
    return [dict(zip("abcd", row[:width], strict=False)) for row in rows]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_ANY, min_size=1, max_size=4), min_size=1, max_size=20))
def test_finite_only_when_no_value_anywhere_is_nan_or_infinite(rows: list[list[Any]]) -> None:
    columns = Columns.of(_batch(rows))
    assert columns is not None
    if columns.finite():
        assert not any(map(_non_finite, chain.from_iterable(map(dict.values, columns.records))))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(_FINITE, min_size=1, max_size=4), min_size=1, max_size=20))
def test_a_plain_batch_is_finite(rows: list[list[Any]]) -> None:
    columns = Columns.of(_batch(rows))
    assert columns is not None and columns.finite()


def test_what_could_hide_a_nan_is_not_called_finite() -> None:
    for value in (_Float("nan"), _Float(1.0), [1.0], {"x": 1.0}, (1.0,), float("inf")):
        columns = Columns.of([{"v": value}])
        assert columns is not None and not columns.finite()
    huge = Columns.of([{"v": 1e308}, {"v": 1e308}])  # finite values, a sum that is not
    assert huge is not None and not huge.finite()


def test_records_whose_names_differ_or_come_in_another_order_are_no_columns() -> None:
    assert Columns.of([{"a": 1, "b": 2}, {"b": 2, "a": 1}]) is None
    assert Columns.of([{"a": 1}, {"a": 1, "b": 2}]) is None
    assert Columns.of([]) is None
    columns = Columns.of([{"a": 1, "b": None}, {"a": 2.5, "b": "x"}])
    assert columns is not None
    assert columns.types == [[int, float], [type(None), str]]
    assert columns.kinds == [(int, float), (type(None), str)]
