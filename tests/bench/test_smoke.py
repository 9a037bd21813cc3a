"""Tiny runs of every benchmark in ``bench/``: they run and give sane numbers (not how fast)."""

from __future__ import annotations

import importlib.util

import pytest

from bench import memory, reconcile, scrape, stall, throughput
from bench.model import TINY, build_pbx, check

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_throughput_counts_every_event_on_every_path_of_both_streams() -> None:
    every_class, recommended = throughput.run(repetitions=1, repeats=1)
    assert every_class.events > 2000  # the b-scenario's async events
    # Without dialplan (VarSet, Newexten) and user (UserEvent) events: 2710 - 591 - 305 - 1.
    assert recommended.events == every_class.events - 897
    expected = {"end_to_end", "end_to_end_process", "codec_model", "framing"}
    if importlib.util.find_spec("panoramisk") is not None:
        expected.add("panoramisk")
    for result in (every_class, recommended):
        assert set(result.seconds) == expected
        assert all(result.rate(name) > 0 for name in expected)
    throughput.report([every_class, recommended])


def test_model_builder_builds_the_requested_scale() -> None:
    check(build_pbx(TINY), TINY)


async def test_scrape_serves_every_variant_and_measures_a_floor() -> None:
    measured = await scrape.measure(TINY, repeats=2, other_repeats=1)
    assert [result.members for result in measured] == [True, False]
    on, off = measured
    for result in measured:
        assert set(result.scrapes) == {variant.name for variant in scrape.VARIANTS}
        timings = [sample for samples in result.scrapes.values() for sample in samples]
        assert all(seconds > 0 and size > 0 for seconds, size in timings)
        assert result.floor["text"] and min(result.floor["text"]) > 0
    # Per-member series make the exposition bigger; gzip makes it smaller.
    assert on.scrapes["text"][0][1] > off.scrapes["text"][0][1] > off.scrapes["text+gzip"][0][1]
    scrape.report(measured, TINY)


async def test_stall_streams_while_scraping_and_loses_nothing() -> None:
    result = await stall.measure(TINY, scrapes=3, alone_seconds=0.3)
    assert result.stream.repetitions >= 1
    assert result.events_counted == result.stream.events  # every event sent was counted
    assert result.reads > 1 and result.gap_during_scrapes >= 0
    assert result.relay is not None and result.relay.reads > 1  # the reader process read them
    inline = await stall.measure(TINY, scrapes=2, alone_seconds=0.3, reader_process=False)
    assert inline.relay is None and inline.events_counted == inline.stream.events
    stall.report(result)
    stall.report(inline)
    stall.summary([result, inline])


def test_memory_figures_are_positive_and_churn_keeps_the_channel_set() -> None:
    per_channel = memory.channel_bytes(2000)
    per_member = memory.member_bytes(4, 50)
    assert per_channel.traced > 0 and per_member.traced > 0
    result = memory.churn(TINY, 2000)
    assert result.events >= 1950 and result.channels_end == TINY.channels
    memory.report(per_channel, per_member, result)


def test_reconcile_applies_and_removes() -> None:
    result = reconcile.measure(TINY, repeats=2)
    assert result.members == TINY.queues * TINY.members_per_queue
    assert len(result.cold) == len(result.steady) == 2
    reconcile.report(result, TINY)
