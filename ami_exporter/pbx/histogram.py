"""A fixed-bucket histogram of plain numbers, folded on the event loop and read at scrape time."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from functools import cache

# Chosen for service levels, so that le="30" answers "answered within 30 s".
WAIT_BUCKETS: tuple[float, ...] = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
TALK_BUCKETS: tuple[float, ...] = (*WAIT_BUCKETS, 900, 1800, 3600)
CHANNEL_DURATION_BUCKETS: tuple[float, ...] = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class Histogram:
    """Per-bucket (non-cumulative) counts; the last slot is +Inf. The count is derived from the
    buckets so a reader in another thread always sees a consistent count and +Inf bucket."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket (le is inclusive).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> tuple[list[tuple[str, int]], float, int]:
        """``([(le, cumulative count), ..., ("+Inf", n)], sum, count)``."""
        counts = list(self.counts)  # one atomic copy
        running = 0
        out: list[tuple[str, int]] = []
        for le, count in zip(_le_labels(self.bounds), counts, strict=True):
            running += count
            out.append((le, running))
        return out, self.total, running


@cache
def _le_labels(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """The ``le`` values of the bounds and +Inf, formatted once per bucket layout (a few module
    constants) rather than per histogram and scrape."""
    return (*(str(int(bound)) if bound == int(bound) else repr(bound) for bound in bounds), "+Inf")
