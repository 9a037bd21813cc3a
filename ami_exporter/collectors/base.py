"""Shared pieces of the scrape-time collectors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ..pbx.histogram import Histogram

log = logging.getLogger(__name__)

# Whether the model mirrors Asterisk now (logged in and reconciled): see ConnectionStatus.live.
Liveness = Callable[[], bool]


def always_live() -> bool:
    """For a model fed directly (tests, benchmarks, the catalogue): its state is the truth."""
    return True


def histogram_buckets(histogram: Histogram) -> tuple[list[tuple[str, float]], float]:
    """Buckets in the shape ``HistogramMetricFamily.add_metric`` takes, and the sum."""
    buckets, total, _count = histogram.cumulative()
    return [(le, float(count)) for le, count in buckets], total


@dataclass(slots=True)
class ScrapeResults:
    """Duration and success of each collector's last run, for ``asterisk_scrape_collector_*``."""

    results: dict[str, tuple[bool, float]] = field(default_factory=dict)


class TimedCollector(Collector):
    """Runs one subsystem collector; a failure costs that subsystem's series, never the scrape
    (like node_exporter's ``node_scrape_collector_success``)."""

    def __init__(self, name: str, inner: Collector, results: ScrapeResults) -> None:
        self.name = name
        self._inner = inner
        self._results = results

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            families = list(self._inner.collect())
        except Exception:
            log.exception("collector %s failed; its metrics are missing from this scrape", self.name)
            families = []
            ok = False
        else:
            ok = True
        self._results.results[self.name] = (ok, time.perf_counter() - started)
        yield from families
