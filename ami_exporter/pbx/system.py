"""System-, CDR- and security-class state: start and reload times, version, reloads, CDR and
security event counters."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .codes import CDR_DISPOSITIONS
from .labels import LabelCaps
from .numbers import clean_text, to_int


@dataclass(slots=True)
class SystemState:
    ami_version: str = ""
    version: str = ""
    system_name: str = ""
    start_time: float = 0.0
    reload_time: float = 0.0
    reloads: int = 0
    shutdowns: int = 0
    current_channels: int | None = None  # CoreStatus CoreCurrentCalls (it counts channels)
    processed_calls: int | None = None


# Optional CDR labels (--cdr.label): CDR fields with a small set of values per PBX. Never the
# caller, the destination number or channel names.
CDR_LABEL_FIELDS = {
    "accountcode": "AccountCode",
    "amaflags": "AMAFlags",
    "destination_context": "DestinationContext",
    "last_application": "LastApplication",
}


class SystemBook:
    def __init__(self, caps: LabelCaps, now: Callable[[], float], cdr_labels: tuple[str, ...] = ()) -> None:
        self._caps = caps
        self._now = now
        self.state = SystemState()
        unknown = set(cdr_labels) - set(CDR_LABEL_FIELDS)
        if unknown:
            raise ValueError(f"unknown CDR label(s): {', '.join(sorted(unknown))}")
        self.cdr_labels = cdr_labels
        # Keyed by (disposition, *values of cdr_labels); billable seconds by the label values.
        self.cdr: dict[tuple[str, ...], int] = {}
        self.cdr_billable: dict[tuple[str, ...], int] = {}
        self.security: dict[tuple[str, str], int] = {}
        # Asterisk's UTC offset in seconds, learned from EventTV; None until a security event.
        self.utc_offset: int | None = None

    # -- system class ---------------------------------------------------------------------------

    def fully_booted(self, fields: Mapping[str, str]) -> None:
        # Two header orders exist (login-time vs boot-time); only keys matter. Asterisk 11/13
        # send no Uptime/LastReload: keep what we had.
        now = self._now()
        uptime = fields.get("Uptime")
        if uptime is not None:
            # max(0): an uptime longer than the Unix epoch is garbage, not a start in 1969.
            started = max(0.0, float(int(now) - to_int(uptime)))
            self.state.start_time = _stable(self.state.start_time, started)
        last_reload = fields.get("LastReload")
        if last_reload is not None:
            reloaded = max(0.0, float(int(now) - to_int(last_reload)))
            self.state.reload_time = _stable(self.state.reload_time, reloaded)

    def reload(self, fields: Mapping[str, str]) -> None:
        self.state.reloads += 1
        self.state.reload_time = self._now()

    def shutdown(self, fields: Mapping[str, str]) -> None:
        self.state.shutdowns += 1

    def set_ami_version(self, banner_version: str) -> None:
        self.state.ami_version = clean_text(banner_version)

    def core_settings(self, fields: Mapping[str, str]) -> None:
        self.state.version = clean_text(fields.get("AsteriskVersion", ""))
        self.state.system_name = clean_text(fields.get("SystemName", ""))
        if ami := fields.get("AMIversion"):
            self.state.ami_version = clean_text(ami)

    def core_status(self, fields: Mapping[str, str]) -> None:
        # CoreStatus gives Asterisk's local wall-clock dates without a zone. FullyBooted's
        # relative Uptime is exact and wins when we have it (every user with the system class
        # on Asterisk >= 12); otherwise read them in Asterisk's own UTC offset, learned from
        # the EventTV of its security events, and only without one in the exporter's zone.
        now = self._now()
        if not self.state.start_time:
            started = _asterisk_epoch(
                fields.get("CoreStartupDate"), fields.get("CoreStartupTime"), self.utc_offset
            )
            if 0 < started <= now + _CLOCK_SKEW:  # a start in the future is a zone mix-up
                self.state.start_time = started
        if not self.state.reload_time:
            reloaded = _asterisk_epoch(
                fields.get("CoreReloadDate"), fields.get("CoreReloadTime"), self.utc_offset
            )
            if 0 < reloaded <= now + _CLOCK_SKEW:
                self.state.reload_time = reloaded
        if (calls := fields.get("CoreCurrentCalls")) is not None:
            self.state.current_channels = to_int(calls)
        if (processed := fields.get("CoreProcessedCalls")) is not None:
            self.state.processed_calls = to_int(processed)

    # -- cdr class ------------------------------------------------------------------------------

    def cdr_event(self, fields: Mapping[str, str]) -> None:
        disposition = CDR_DISPOSITIONS.get(fields.get("Disposition", ""), "unknown")
        values = tuple(
            self._caps.admit(f"cdr_{label}", clean_text(fields.get(CDR_LABEL_FIELDS[label], "")))
            for label in self.cdr_labels
        )
        key = (disposition, *values)
        self.cdr[key] = self.cdr.get(key, 0) + 1
        self.cdr_billable[values] = self.cdr_billable.get(values, 0) + to_int(fields.get("BillableSeconds"))

    def cdr_totals(self) -> dict[str, int]:
        """CDR counts by disposition alone, whatever the extra labels."""
        totals: dict[str, int] = {}
        for (disposition, *_values), count in list(self.cdr.items()):
            totals[disposition] = totals.get(disposition, 0) + count
        return totals

    @property
    def cdr_billable_seconds(self) -> int:
        return sum(list(self.cdr_billable.values()))

    # -- security class -------------------------------------------------------------------------

    def security_event(self, name: str, fields: Mapping[str, str]) -> None:
        if self.utc_offset is None:
            self.utc_offset = _utc_offset(fields.get("EventTV"))
        event = self._caps.admit("security_event", name)
        service = self._caps.admit("security_service", clean_text(fields.get("Service", "")) or "unknown")
        key = (event, service)
        self.security[key] = self.security.get(key, 0) + 1


def _stable(current: float, derived: float) -> float:
    """``now - Uptime`` wobbles by a second between logins (both are whole seconds, read at
    different moments). Keep the known value unless it really moved, so that alerts on
    ``changes(asterisk_core_start_time_seconds)`` fire for restarts only."""
    if current and abs(current - derived) <= 2:
        return current
    return derived


# Asterisk and the exporter may disagree on the time by this much before a date counts as future.
_CLOCK_SKEW = 300.0


def _utc_offset(event_tv: str | None) -> int | None:
    """Asterisk's UTC offset in seconds from a security event's ``EventTV``
    (``2026-12-02T17:52:54.009+0100``: Asterisk formats it in its own local zone)."""
    if not event_tv:
        return None
    try:
        offset = datetime.strptime(event_tv.strip(), "%Y-%m-%dT%H:%M:%S.%f%z").utcoffset()
    except ValueError:
        return None
    return None if offset is None else int(offset.total_seconds())


def _asterisk_epoch(date: str | None, clock: str | None, utc_offset: int | None) -> float:
    """A CoreStatus date and time as Unix time: in Asterisk's UTC offset when known, else in
    the exporter's local zone (right when both run on one host)."""
    if not date or not clock:
        return 0.0
    try:
        parsed = datetime.strptime(f"{date} {clock}", "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return 0.0
    if utc_offset is None:
        return parsed.timestamp()  # naive: the exporter's local zone
    return parsed.replace(tzinfo=timezone(timedelta(seconds=utc_offset))).timestamp()
