"""Series and HistogramSeries make the samples add_metric would make."""

from __future__ import annotations

import gc
import weakref

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Sample

from ami_exporter.collectors import base
from ami_exporter.collectors.base import HistogramSeries, Series, hand_over
from ami_exporter.pbx.histogram import Histogram


def test_gauge_and_counter_samples_equal_add_metric() -> None:
    gauge = Series.gauge("g", "A gauge.", labels=["queue", "member"])
    counter = Series.counter("c", "A counter.", labels=["queue"])
    labels = {"queue": "sales", "member": "Bob"}
    gauge.add(labels, 3)
    gauge.add(labels, 1.5)
    counter.add({"queue": "sales"}, 7)

    expected_gauge = GaugeMetricFamily("g", "A gauge.", labels=["queue", "member"])
    expected_gauge.add_metric(["sales", "Bob"], 3)
    expected_gauge.add_metric(["sales", "Bob"], 1.5)
    expected_counter = CounterMetricFamily("c", "A counter.", labels=["queue"])
    expected_counter.add_metric(["sales"], 7)
    assert gauge.family == expected_gauge
    assert counter.family == expected_counter
    assert [type(sample) for sample in gauge.family.samples] == [Sample, Sample]
    assert counter.family.samples[0].name == "c_total"


def test_histogram_samples_equal_add_metric() -> None:
    histogram = Histogram((0.25, 5, 10))
    for value in (0.1, 4, 7, 12, 30):
        histogram.observe(value)
    series = HistogramSeries("h_seconds", "A histogram.", labels=["queue", "outcome"])
    series.add({"queue": "sales", "outcome": "answered"}, histogram)

    buckets, total, _count = histogram.cumulative()
    expected = HistogramMetricFamily("h_seconds", "A histogram.", labels=["queue", "outcome"])
    expected.add_metric(["sales", "answered"], [(le, float(n)) for le, n in buckets], total)
    assert series.family == expected
    assert [sample.labels["le"] for sample in series.family.samples[:4]] == ["0.25", "5", "10", "+Inf"]


def test_the_fallback_constructor_makes_the_same_sample() -> None:
    fields = ("name", {"queue": "sales"}, 1.0, None, None, None)
    assert base._construct_sample(Sample, fields) == Sample("name", {"queue": "sales"}, 1.0)
    assert base._new_sample(Sample, fields) == Sample("name", {"queue": "sales"}, 1.0)


def test_hand_over_keeps_no_reference_to_a_family_already_yielded() -> None:
    families: list[Metric] = [GaugeMetricFamily(f"m{n}", "help", value=n) for n in range(3)]
    refs = [weakref.ref(family) for family in families]
    yielded = hand_over(families)
    names = []
    first = next(yielded)
    names.append(first.name)
    del first
    gc.collect()
    # The consumer let go of the first family: nothing else holds it; the others wait their turn.
    assert refs[0]() is None and refs[1]() is not None and refs[2]() is not None
    names.extend(family.name for family in yielded)
    assert names == ["m0", "m1", "m2"]
