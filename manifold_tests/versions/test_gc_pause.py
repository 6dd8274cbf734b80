"""The collector pause around imports and reads: what the paused work leaves alive goes
straight to the oldest generation (no walk of it at the next collection), collection comes
back on, and objects a process froze of its own stay frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from manifold_pipelines.versions.gc_pause import gc_paused


class Node:
    """A tracked object, as the diff's models are."""

    def __init__(self) -> None:
        self.children: list[Node] = []


def _generation_of(target: object) -> int | None:
    for generation in range(3):
        if any(item is target for item in gc.get_objects(generation)):
            return generation
    return None


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def test_what_the_pause_leaves_alive_is_in_the_oldest_generation_and_collection_resumes() -> None:
    with gc_paused():
        assert not gc.isenabled()
        survivor = Node()
    assert gc.isenabled()
    assert _generation_of(survivor) == 2
    assert gc.get_freeze_count() == 0


def test_a_cycle_made_during_the_pause_is_still_collected_by_a_full_collection() -> None:
    with gc_paused():
        cycle = Node()
        cycle.children.append(cycle)
    del cycle
    assert gc.collect() >= 2  # the node and its list


def test_objects_the_process_froze_stay_frozen_and_the_pause_leaves_its_own_young() -> None:
    kept = Node()
    gc.freeze()
    frozen = gc.get_freeze_count()
    with gc_paused():
        survivor = Node()
    # Not one more frozen, and not all thawed; one fewer when another thread of the process
    # freed a frozen object meanwhile.
    assert 0 < gc.get_freeze_count() <= frozen
    assert _generation_of(kept) is None  # still in the permanent generation
    assert _generation_of(survivor) != 2  # young, walked by the collector as usual


def test_a_pause_inside_a_disabled_collector_leaves_it_disabled() -> None:
    gc.disable()
    with gc_paused():
        survivor = Node()
    assert not gc.isenabled()
    assert _generation_of(survivor) == 0
