"""The exporter's own health: connection, logins, events, corrections, malformed frames."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .. import __version__
from ..pbx import PBX
from ..service import ConnectionStatus
from .base import ScrapeResults, Series


class ExporterCollector(Collector):
    def __init__(self, pbx: PBX, status: ConnectionStatus) -> None:
        self._pbx = pbx
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status
        pbx = self._pbx
        yield GaugeMetricFamily(
            "asterisk_up", "1 while the AMI session is logged in, else 0.", value=1 if status.up else 0
        )
        build = GaugeMetricFamily("asterisk_exporter_build_info", "Always 1.", labels=["version"])
        build.add_metric([__version__], 1)
        yield build
        logins = Series.counter(
            "asterisk_exporter_ami_logins", "AMI login attempts by result.", labels=["result"]
        )
        for result, number in dict(status.logins).items():
            logins.add({"result": result}, number)
        yield logins.family
        disconnects = Series.counter(
            "asterisk_exporter_ami_disconnects", "AMI sessions lost, by reason.", labels=["reason"]
        )
        for reason, number in dict(status.disconnects).items():
            disconnects.add({"reason": reason}, number)
        yield disconnects.family
        events = Series.counter(
            "asterisk_exporter_events",
            "AMI events received, by event name (list replies excluded).",
            labels=["event"],
        )
        for name, number in sorted(dict(pbx.events).items()):
            events.add({"event": name}, number)
        yield events.family
        last_event = GaugeMetricFamily(
            "asterisk_exporter_last_event_timestamp_seconds", "Receive time of the newest AMI event."
        )
        if pbx.last_event_time:
            last_event.add_metric([], pbx.last_event_time)
        yield last_event
        corrections = Series.counter(
            "asterisk_exporter_reconcile_corrections",
            "Differences a snapshot (QueueStatus, CoreShowChannels, BridgeList) corrected in the model.",
            labels=["object"],
        )
        for kind, number in dict(pbx.corrections).items():
            corrections.add({"object": kind}, number)
        yield corrections.family
        last_reconcile = GaugeMetricFamily(
            "asterisk_exporter_last_reconcile_timestamp_seconds",
            "Unix time the last complete reconcile (QueueStatus and the other permitted snapshots) finished.",
        )
        if status.last_reconcile_time:
            last_reconcile.add_metric([], status.last_reconcile_time)
        yield last_reconcile
        yield CounterMetricFamily(
            "asterisk_exporter_malformed_messages",
            "AMI frames that could not be parsed (oversized, garbage) and were skipped.",
            value=status.malformed_total(),
        )
        overflow = Series.counter(
            "asterisk_exporter_label_overflow",
            "Label values folded into __overflow__ because a label's value cap was reached.",
            labels=["metric"],
        )
        for metric in sorted(pbx.caps.overflows):
            overflow.add({"metric": metric}, pbx.caps.overflows[metric])
        yield overflow.family
        session = status.session
        yield GaugeMetricFamily(
            "asterisk_exporter_ami_backlog_bytes",
            "AMI bytes read from Asterisk and not yet folded into the model (with the reader process: "
            "its buffer as of its last report, at most 0.5 s old, plus the exporter's own).",
            value=session.backlog_bytes if session is not None else 0,
        )
        yield GaugeMetricFamily(
            "asterisk_exporter_ami_reader_process",
            "1 while the AMI session reads through the reader process (--ami.reader-process), 0 when "
            "the exporter reads the socket itself (turned off, or the process could not start).",
            value=1 if session is not None and session.relay is not None else 0,
        )
        yield GaugeMetricFamily(
            "asterisk_exporter_ami_backlog_peak_bytes",
            "The largest AMI backlog since the exporter started.",
            value=status.backlog.peak_bytes,
        )
        yield CounterMetricFamily(
            "asterisk_exporter_ami_backlog_full",
            "Times the AMI backlog (the reader process's buffer, or without it the exporter's own) "
            "reached its limit and reading paused until folding made room.",
            value=status.backlog.times_full,
        )


class ScrapeCollector(Collector):
    """Emits ``asterisk_scrape_collector_*`` for the collectors that ran before it."""

    def __init__(self, results: ScrapeResults) -> None:
        self._results = results

    def collect(self) -> Iterator[Metric]:
        success = Series.gauge(
            "asterisk_scrape_collector_success", "1 when the collector succeeded.", labels=["collector"]
        )
        duration = Series.gauge(
            "asterisk_scrape_collector_duration_seconds", "Time the collector took.", labels=["collector"]
        )
        for name, (ok, seconds) in sorted(dict(self._results.results).items()):
            labels = {"collector": name}
            success.add(labels, 1 if ok else 0)
            duration.add(labels, seconds)
        yield success.family
        yield duration.family
