"""The garbage-collection policy: the model leaves the collector's sight, garbage cycles do not leak."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ami_exporter.gc_policy import GCPolicy


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


@pytest.fixture(autouse=True)
def _thawed() -> Iterator[None]:
    yield
    gc.unfreeze()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_settle_freezes_what_is_alive() -> None:
    policy = GCPolicy(clock=Clock())
    gc.unfreeze()
    model = [Node() for _ in range(1000)]
    policy.settle()
    assert gc.get_freeze_count() >= len(model)
    assert policy.freezes == 1 and policy.refreshes == 0


def test_young_garbage_cycles_are_collected_before_freezing() -> None:
    policy = GCPolicy(clock=Clock())
    gc.unfreeze()
    gc.collect()
    garbage = cycle()
    del garbage
    policy.settle()
    # The cycle was freed by settle's young collection, not frozen: nothing left to find.
    gc.unfreeze()
    assert not any(isinstance(obj, Node) for obj in gc.get_objects())


def test_refresh_frees_cycles_that_died_while_frozen() -> None:
    clock = Clock()
    policy = GCPolicy(refresh_seconds=60, clock=clock)
    gc.unfreeze()
    kept = cycle()
    policy.settle()
    del kept  # a frozen cycle becomes garbage: no automatic collection will see it
    gc.collect()
    assert sum(isinstance(obj, Node) for obj in gc.get_objects()) == 0  # invisible while frozen
    gc.unfreeze()
    assert sum(isinstance(obj, Node) for obj in gc.get_objects()) == 2  # ...but still alive
    gc.freeze()
    clock.now = 61.0
    policy.settle()  # due: refresh instead of a plain freeze
    assert policy.refreshes == 1
    gc.unfreeze()
    assert sum(isinstance(obj, Node) for obj in gc.get_objects()) == 0
