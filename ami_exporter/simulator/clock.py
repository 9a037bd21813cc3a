"""A virtual clock with a timer heap: the call-center model's only notion of time."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Timer", "VirtualClock"]


@dataclass(order=True, slots=True)
class Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Simulated epoch seconds. Nothing happens until ``advance()`` runs the due timers in order."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(max(when, self._now), next(self._seq), callback)
        heapq.heappush(self._heap, timer)
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self._now + max(delay, 0.0), callback)

    def advance(self, seconds: float) -> None:
        self.advance_to(self._now + seconds)

    def advance_to(self, target: float) -> None:
        heap = self._heap
        while heap and heap[0].when <= target:
            timer = heapq.heappop(heap)
            if timer.cancelled:
                continue
            self._now = timer.when
            timer.callback()
        self._now = max(self._now, target)

    def clear(self) -> None:
        self._heap.clear()

    @property
    def pending(self) -> int:
        return sum(1 for timer in self._heap if not timer.cancelled)
