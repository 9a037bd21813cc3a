"""Bounded label value sets: past a cap, new values fold into ``__overflow__``."""

from __future__ import annotations

OVERFLOW = "__overflow__"


class LabelCaps:
    """Admits label values per metric up to a cap and counts what overflowed.

    One instance is shared by the whole model so that
    ``asterisk_exporter_label_overflow_total{metric}`` has a single source.
    """

    __slots__ = ("_caps", "_default", "_seen", "overflows")

    def __init__(self, caps: dict[str, int] | None = None, default_cap: int = 1000) -> None:
        self._caps = dict(caps or {})
        self._default = default_cap
        self._seen: dict[str, set[str]] = {}
        self.overflows: dict[str, int] = {}

    def cap(self, metric: str) -> int:
        return self._caps.get(metric, self._default)

    def admit(self, metric: str, value: str) -> str:
        seen = self._seen.get(metric)
        if seen is None:
            seen = self._seen[metric] = set()
        if value in seen:
            return value
        if len(seen) < self.cap(metric):
            seen.add(value)
            return value
        self.overflows[metric] = self.overflows.get(metric, 0) + 1
        return OVERFLOW

    def release(self, metric: str, value: str) -> None:
        """Forget a value whose series is gone (a removed queue or member), freeing its slot."""
        seen = self._seen.get(metric)
        if seen is not None:
            seen.discard(value)
