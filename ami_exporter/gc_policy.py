"""Keeps CPython's full garbage collections short while the model is large.

A full (generation 2) collection walks every container object the process holds and holds the
GIL while it does: with 10,000 queue members and their agent records, 5,000 channels and the
rest, that is 40-70 ms of CPU, more on a loaded machine, during which the AMI socket is not read
(Asterisk drops a session after ``writetimeout``, 100 ms by default). The model is long-lived and
changes slowly, so after each reconcile it is moved out of the collector's sight with
``gc.freeze()``: later full collections only walk what was allocated since.

Frozen objects are still freed by reference counting as usual; only garbage *cycles* among them
would wait. Those are rare here (a finished AMI session, an aiohttp connection), so the frozen
set is handed back to the collector when a session ends (nothing is streaming then) and at most
every ``refresh_seconds`` otherwise, in one collection at a moment we choose.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_REFRESH_SECONDS = 3600.0


class GCPolicy:
    def __init__(
        self,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._refreshed_at = clock()
        self.freezes = 0
        self.refreshes = 0

    def settle(self) -> None:
        """The model has just been reconciled: freeze what is alive now (refreshing first when due)."""
        if self._clock() - self._refreshed_at >= self._refresh_seconds:
            self.refresh()
            return
        # Young garbage cycles go first, so that they are not frozen with the model.
        gc.collect(1)
        gc.freeze()
        self.freezes += 1

    def refresh(self) -> None:
        """Hand the frozen objects back, collect everything once, and freeze what survived."""
        started = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        self._refreshed_at = self._clock()
        self.refreshes += 1
        log.debug(
            "full garbage collection: %d unreachable objects freed in %.1f ms",
            collected,
            (time.perf_counter() - started) * 1e3,
        )
