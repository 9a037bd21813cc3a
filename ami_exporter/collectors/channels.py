"""Channel, bridge and hang-up metrics."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..pbx import PBX
from .base import HistogramSeries, Liveness, Series, always_live


class ChannelCollector(Collector):
    """Channel families; the channel and bridge gauges have samples only while ``live()``."""

    def __init__(self, pbx: PBX, *, live: Liveness = always_live) -> None:
        self._pbx = pbx
        self._live = live

    def collect(self) -> Iterator[Metric]:
        book = self._pbx.channels
        live = self._live()
        channels = Series.gauge(
            "asterisk_channels",
            "Active channels by technology and state. With an AMI user that may not run "
            "CoreShowChannels, only channels seen starting since the exporter connected.",
            labels=["technology", "state"],
        )
        counts: dict[tuple[str, str], int] = {}
        for channel in list(book.channels.values()) if live else []:
            key = (channel.technology, channel.state)
            counts[key] = counts.get(key, 0) + 1
        for (technology, state), number in sorted(counts.items()):
            channels.add({"technology": technology, "state": state}, number)
        yield channels.family

        created = Series.counter(
            "asterisk_channels_created", "Channels created (Newchannel).", labels=["technology"]
        )
        for technology, number in sorted(dict(book.created).items()):
            created.add({"technology": technology}, number)
        yield created.family

        hangups = Series.counter(
            "asterisk_channel_hangups",
            "Channels hung up (Hangup), by technology and Q.850 cause name (the number when unknown).",
            labels=["technology", "cause"],
        )
        for (technology, cause), number in sorted(dict(book.hangups).items()):
            hangups.add({"technology": technology, "cause": cause}, number)
        yield hangups.family

        durations = HistogramSeries(
            "asterisk_channel_duration_seconds",
            "Channel lifetime, observed at hang-up, for channels seen from their start.",
            labels=["technology"],
        )
        for technology, histogram in sorted(dict(book.durations).items()):
            durations.add({"technology": technology}, histogram)
        yield durations.family

        bridges = GaugeMetricFamily("asterisk_bridges", "Active bridges.")
        if live:
            bridges.add_metric([], len(book.bridges))
        yield bridges
