"""System, CDR and security metrics."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..pbx import PBX
from ..pbx.codes import CDR_DISPOSITIONS
from .base import Liveness, Series, always_live


class SystemCollector(Collector):
    def __init__(self, pbx: PBX, *, live: Liveness = always_live) -> None:
        self._pbx = pbx
        self._live = live

    def collect(self) -> Iterator[Metric]:
        state = self._pbx.system.state
        info = GaugeMetricFamily(
            "asterisk_info",
            "Always 1. ami_version from the AMI banner; version from CoreSettings, empty when the "
            "AMI user may not run it.",
            labels=["ami_version", "version"],
        )
        info.add_metric([state.ami_version, state.version], 1)
        yield info
        # Families stay present without a sample while a value is unknown, so that the registry
        # knows their names from the start (``?name[]=`` filtering relies on it).
        yield _optional_gauge(
            "asterisk_core_start_time_seconds", "Unix time Asterisk started.", state.start_time or None
        )
        yield _optional_gauge(
            "asterisk_core_reload_time_seconds",
            "Unix time of Asterisk's last reload.",
            state.reload_time or None,
        )
        yield CounterMetricFamily(
            "asterisk_reloads", "Reload events (one per module reload).", value=state.reloads
        )
        yield CounterMetricFamily(
            "asterisk_shutdowns", "Shutdown events (Asterisk stopping or restarting).", value=state.shutdowns
        )
        yield _optional_gauge(
            "asterisk_core_active_channels",
            "Active channels as Asterisk counts them (CoreStatus CoreCurrentCalls; needs write=reporting).",
            state.current_channels if self._live() else None,
        )


def _optional_gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    if value is not None:
        family.add_metric([], value)
    return family


class CdrCollector(Collector):
    def __init__(self, pbx: PBX) -> None:
        self._pbx = pbx

    def collect(self) -> Iterator[Metric]:
        book = self._pbx.system
        extra = list(book.cdr_labels)
        cdr = Series.counter(
            "asterisk_cdr",
            "CDR records (Cdr events from cdr_manager) by disposition (and the --cdr.label fields). "
            "One call produces one record per leg, so this counts legs, not calls.",
            labels=["disposition", *extra],
        )
        counts = dict(book.cdr)
        billable = dict(book.cdr_billable) or {tuple("" for _ in extra): 0}
        known = tuple(CDR_DISPOSITIONS.values())
        names = ["disposition", *extra]
        # Every disposition is present (0 when none) for each combination of extra label values.
        for values in sorted(billable):
            seen = {key[0] for key in counts if key[1:] == values}
            for disposition in (*known, *sorted(seen - set(known))):
                labels = dict(zip(names, (disposition, *values), strict=False))
                cdr.add(labels, counts.get((disposition, *values), 0))
        yield cdr.family
        billable_family = Series.counter(
            "asterisk_cdr_billable_seconds",
            "Sum of BillableSeconds (answer to end) over all CDR records.",
            labels=extra,
        )
        for values, seconds in sorted(billable.items()):
            billable_family.add(dict(zip(extra, values, strict=False)), seconds)
        yield billable_family.family


class SecurityCollector(Collector):
    def __init__(self, pbx: PBX) -> None:
        self._pbx = pbx

    def collect(self) -> Iterator[Metric]:
        events = Series.counter(
            "asterisk_security_events",
            "Security-class events (InvalidPassword, FailedACL, RequestNotAllowed, ...) by service.",
            labels=["event", "service"],
        )
        for (event, service), number in sorted(dict(self._pbx.system.security).items()):
            events.add({"event": event, "service": service}, number)
        yield events.family
