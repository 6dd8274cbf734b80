"""A batch of records that share their field names, in one order, read a field at a time.

Most sources give every record the same fields in the same order (a script's objects, a
table's rows). The types of a batch of them are one flat list, record after record, made by
C-level calls, and field `i`'s types a slice of it. Counting types and looking for NaN down
those slices costs a fraction of doing it a record at a time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import is_, itemgetter
from typing import Any

_PLAIN = frozenset({str, int, bool, float, type(None)})
"""Types that hold no other value, so no NaN can hide inside one but a float."""


@dataclass(frozen=True)
class Columns:
    records: Sequence[dict[str, Any]]
    names: tuple[str, ...]
    types: list[list[type]]
    """Each field's types, one a record."""
    kinds: list[tuple[type, ...]]
    """Each field's distinct types, in the order they first occur."""

    @classmethod
    def of(cls, records: Sequence[dict[str, Any]]) -> Columns | None:
        """The batch as columns, or None when its records' names differ (or come in another
        order) or there are none."""
        if not records:
            return None
        names = tuple(records[0])
        if list(chain.from_iterable(records)) != list(names) * len(records):
            return None
        every_type = list(map(type, chain.from_iterable(map(dict.values, records))))
        types = [every_type[at :: len(names)] for at in range(len(names))]
        return cls(records, names, types, list(map(_kinds, types)))

    def finite(self) -> bool:
        """Whether no value can be a NaN or an infinity, which orjson writes as null: every
        value is of a plain type (a list or object could hold one, a float subclass such as
        numpy's be one), and each field's floats add up to a finite number (one float sum a
        field: a NaN or an infinity makes the sum one too; a sum that merely overflows says
        False, and the records are then looked at one by one). 0.05 s a million records of
        10 fields, one of them floats, against 0.26 s to search their JSON for nulls."""
        if not _PLAIN.issuperset(chain.from_iterable(self.kinds)):
            return False
        for name, types, kinds in zip(self.names, self.types, self.kinds, strict=True):
            if float not in kinds:
                continue
            values = list(map(itemgetter(name), self.records))
            if kinds != (float,):
                values = list(compress(values, map(is_, types, repeat(float))))
            if not math.isfinite(sum(values)):
                return False
        return True


def _kinds(types: list[type]) -> tuple[type, ...]:
    first = types[0]
    if types.count(first) == len(types):
        return (first,)
    return tuple(sorted(set(types), key=types.index))
