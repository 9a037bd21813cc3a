"""Channels and bridges, folded from call-class events and replaced by ``CoreShowChannels`` /
``BridgeList`` snapshots when the AMI user may run them.

A strictly read-only user (empty ``write=``) cannot list channels: then the model knows only
channels it saw start. Gauges are computed from the tracked set, so a ``Hangup`` for a channel
we never saw is counted as a hangup but can never push a gauge below zero or below the truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .codes import hangup_cause_label, snake
from .histogram import CHANNEL_DURATION_BUCKETS, Histogram
from .labels import LabelCaps
from .numbers import clean_text, first


@dataclass(slots=True)
class Channel:
    technology: str
    state: str
    created: float  # on the model's monotonic clock
    seen_start: bool  # False when it came from a snapshot: its lifetime is unknown


def technology_of(channel_name: str) -> str:
    """``PJSIP/alice-0000002a`` -> ``PJSIP``; ``Local/x@ctx-00000024;2`` -> ``Local``."""
    tech, sep, _ = channel_name.partition("/")
    return tech if sep and tech else "unknown"


def parse_duration(text: str | None) -> int:
    """``CoreShowChannel.Duration`` is ``HH:MM:SS``."""
    if not text:
        return 0
    total = 0
    for part in text.split(":"):
        if not part.isdigit():
            return 0
        total = total * 60 + int(part)
    return total


class ChannelBook:
    def __init__(self, caps: LabelCaps, monotonic: Callable[[], float]) -> None:
        self._caps = caps
        self._now = monotonic  # only for lifetimes: durations never follow wall-clock steps
        self.channels: dict[str, Channel] = {}
        self.bridges: set[str] = set()
        self.created: dict[str, int] = {}
        self.hangups: dict[tuple[str, str], int] = {}
        self.durations: dict[str, Histogram] = {}

    def _technology(self, fields: Mapping[str, str]) -> str:
        return self._caps.admit("technology", clean_text(technology_of(fields.get("Channel", ""))))

    def _state(self, fields: Mapping[str, str]) -> str:
        return self._caps.admit("channel_state", snake(fields.get("ChannelStateDesc") or "unknown"))

    # -- events ---------------------------------------------------------------------------------

    def new_channel(self, fields: Mapping[str, str]) -> None:
        technology = self._technology(fields)
        self.created[technology] = self.created.get(technology, 0) + 1
        uniqueid = fields.get("Uniqueid")
        if uniqueid:
            self.channels[uniqueid] = Channel(technology, self._state(fields), self._now(), True)

    def new_state(self, fields: Mapping[str, str]) -> None:
        channel = self.channels.get(fields.get("Uniqueid", ""))
        if channel is not None:
            channel.state = self._state(fields)

    def hangup(self, fields: Mapping[str, str]) -> None:
        channel = self.channels.pop(fields.get("Uniqueid", ""), None)
        technology = channel.technology if channel else self._technology(fields)
        cause = self._caps.admit("cause", hangup_cause_label(fields.get("Cause", "")))
        key = (technology, cause)
        self.hangups[key] = self.hangups.get(key, 0) + 1
        if channel is not None and channel.seen_start:
            histogram = self.durations.get(technology)
            if histogram is None:
                histogram = self.durations[technology] = Histogram(CHANNEL_DURATION_BUCKETS)
            histogram.observe(max(0.0, self._now() - channel.created))

    def bridge_create(self, fields: Mapping[str, str]) -> None:
        bridge = fields.get("BridgeUniqueid")
        if bridge:
            self.bridges.add(bridge)

    def bridge_enter(self, fields: Mapping[str, str]) -> None:
        # A bridge created before we connected is first seen when a channel enters it.
        self.bridge_create(fields)

    def bridge_destroy(self, fields: Mapping[str, str]) -> None:
        self.bridges.discard(fields.get("BridgeUniqueid", ""))

    # -- reconcile ------------------------------------------------------------------------------

    def reconcile_channels(self, items: Iterable[Mapping[str, str]]) -> int:
        """Replace the channel set with a complete ``CoreShowChannels`` reply; returns corrections."""
        now = self._now()
        fresh: dict[str, Channel] = {}
        corrections = 0
        for fields in items:
            uniqueid = first(fields, "Uniqueid", "UniqueID")
            if not uniqueid:
                continue
            state = self._state(fields)
            known = self.channels.get(uniqueid)
            if known is None:
                corrections += 1
                age = parse_duration(fields.get("Duration"))
                fresh[uniqueid] = Channel(self._technology(fields), state, now - age, False)
            else:
                if known.state != state:
                    corrections += 1
                    known.state = state
                fresh[uniqueid] = known
        corrections += sum(1 for uniqueid in self.channels if uniqueid not in fresh)
        self.channels = fresh
        return corrections

    def reconcile_bridges(self, items: Iterable[Mapping[str, str]]) -> int:
        fresh = {bridge for fields in items if (bridge := fields.get("BridgeUniqueid"))}
        corrections = len(fresh ^ self.bridges)
        self.bridges = fresh
        return corrections

    def clear(self) -> None:
        """Asterisk restarted: every channel and bridge of the old process is gone."""
        self.clear_channels()
        self.clear_bridges()

    def clear_channels(self) -> None:
        """Forget every tracked channel (counters stay): a new session without a channel
        snapshot cannot tell which of them hung up while we were away."""
        self.channels = {}

    def clear_bridges(self) -> None:
        self.bridges = set()
