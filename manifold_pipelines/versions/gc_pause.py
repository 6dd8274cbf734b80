"""Pausing Python's cyclic garbage collector while a version is built or read.

Imports and reads create millions of dicts and tuples and no reference cycles; each
allocation burst triggers full collections that walk every live object, which measured here
tripled the cost of parsing a version. Reference counting still frees everything.

What the paused work leaves alive (an import's diff details: a few objects per changed
record) would be walked by the first collection after the pause, all of it at once: 25 ms
of an incremental import of 11,000 changes that costs 250 ms in all. Those objects are the
caller's result, hold no cycles and stay alive a while, which is what the oldest generation
is for, so they are moved there directly (freezing then unfreezing moves every tracked object
into it in constant time). Only when nothing else is frozen: a process that froze objects of
its own (a pre-forking server) keeps them frozen, and pays the walk instead.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()
