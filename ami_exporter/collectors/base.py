"""Shared pieces of the scrape-time collectors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from ..pbx.histogram import Histogram

log = logging.getLogger(__name__)

# Whether the model mirrors Asterisk now (logged in and reconciled): see ConnectionStatus.live.
Liveness = Callable[[], bool]


def always_live() -> bool:
    """For a model fed directly (tests, benchmarks, the catalogue): its state is the truth."""
    return True


# Samples are built here rather than with ``add_metric``: that makes a ``dict(zip(names,
# values))`` and a ``Sample`` through its Python-level ``__new__`` per series, which at 10,000
# queue members was most of collect(). A collector builds one label dict per object (a queue, a
# member) and every series of that object shares it; the renderer only reads label dicts.
# ``tuple.__new__`` over all six fields is what ``Sample(name, labels, value)`` does, without its
# Python frame; should prometheus_client change the fields, the plain constructor takes over.
_SAMPLE_FIELDS = ("name", "labels", "value", "timestamp", "exemplar", "native_histogram")


def _construct_sample(
    cls: type[Sample], fields: tuple[str, dict[str, str], float, None, None, None]
) -> Sample:
    return cls(*fields[:3])


_new_sample: Callable[[type[Sample], tuple[str, dict[str, str], float, None, None, None]], Sample] = (
    tuple.__new__ if Sample._fields == _SAMPLE_FIELDS else _construct_sample
)


class Series:
    """One family and the sample name it takes (a counter's ends in ``_total``); ``add``
    appends a sample as ``add_metric`` would, with a label dict the caller may share."""

    __slots__ = ("_append", "family", "name")

    def __init__(self, family: Metric, name: str) -> None:
        self.family = family
        self.name = name
        self._append = family.samples.append

    @classmethod
    def gauge(cls, name: str, documentation: str, labels: Sequence[str] = ()) -> Series:
        return cls(GaugeMetricFamily(name, documentation, labels=labels), name)

    @classmethod
    def counter(cls, name: str, documentation: str, labels: Sequence[str] = ()) -> Series:
        family = CounterMetricFamily(name, documentation, labels=labels)
        return cls(family, family.name + "_total")

    def add(self, labels: dict[str, str], value: float) -> None:
        self._append(_new_sample(Sample, (self.name, labels, value, None, None, None)))


class HistogramSeries:
    """A histogram family fed from :class:`Histogram`: the samples ``add_metric`` would make."""

    __slots__ = ("_append", "_bucket", "_count", "_sum", "family")

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.family = HistogramMetricFamily(name, documentation, labels=labels)
        self._bucket = name + "_bucket"
        self._count = name + "_count"
        self._sum = name + "_sum"
        self._append = self.family.samples.append

    def add(self, labels: dict[str, str], histogram: Histogram) -> None:
        buckets, total, count = histogram.cumulative()
        append = self._append
        bucket = self._bucket
        for le, number in buckets:
            append(_new_sample(Sample, (bucket, {**labels, "le": le}, float(number), None, None, None)))
        # add_metric omits the count and sum when a bucket bound is negative; ours never are.
        append(_new_sample(Sample, (self._count, labels, float(count), None, None, None)))
        append(_new_sample(Sample, (self._sum, labels, total, None, None, None)))


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
        yield from hand_over(families)


def hand_over(families: list[Metric]) -> Iterator[Metric]:
    """Yield each family and keep no reference to it (the list is emptied as it goes).

    The renderer drops a family when it moves on to the next, so each is freed on its own, a few
    milliseconds of deallocation. Kept in a list until the end, the 140,000 samples of a
    10,000-member scrape were freed in one cascade that held the GIL for 40-50 ms and stalled
    the AMI reader (bench.stall)."""
    families.reverse()
    while families:
        yield families.pop()
