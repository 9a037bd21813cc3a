"""Per-member gauges as Asterisk reports them (``--collector.queue-members``)."""

from __future__ import annotations

from prometheus_client.metrics_core import Metric

from ..pbx.codes import DEVICE_STATES
from ..pbx.queues import Member
from .base import Series

_STATUS_HELP = ", ".join(f"{code} {name}" for code, name in enumerate(DEVICE_STATES))


class MemberFamilies:
    """Device status, pause, call and time gauges of each member, labelled queue and member."""

    def __init__(self) -> None:
        labels = ["queue", "member"]
        self.status = Series.gauge(
            "asterisk_queue_member_status", f"Member device status: {_STATUS_HELP}.", labels=labels
        )
        self.paused = Series.gauge(
            "asterisk_queue_member_paused", "1 when the member is paused.", labels=labels
        )
        self.in_call = Series.gauge(
            "asterisk_queue_member_in_call", "1 while the member is on a queue call.", labels=labels
        )
        self.calls_taken = Series.gauge(
            "asterisk_queue_member_calls_taken",
            "Calls the member completed, per Asterisk (resets with the queue stats).",
            labels=labels,
        )
        self.last_call = Series.gauge(
            "asterisk_queue_member_last_call_time_seconds",
            "Unix time the member's last queue call ended, 0 when never.",
            labels=labels,
        )
        self.last_pause = Series.gauge(
            "asterisk_queue_member_last_pause_time_seconds",
            "Unix time the member was last paused, 0 when never.",
            labels=labels,
        )
        self.login_time = Series.gauge(
            "asterisk_queue_member_login_time_seconds",
            "Unix time the member was added to the queue (or loaded with it).",
            labels=labels,
        )

    def add(self, labels: dict[str, str], member: Member) -> None:
        """``labels``: the member's queue and member label, shared with its other series."""
        self.status.add(labels, member.status)
        self.paused.add(labels, member.paused)
        self.in_call.add(labels, member.in_call)
        self.calls_taken.add(labels, member.calls_taken)
        self.last_call.add(labels, member.last_call)
        self.last_pause.add(labels, member.last_pause)
        self.login_time.add(labels, member.login_time)

    def families(self) -> tuple[Metric, ...]:
        return (
            self.status.family,
            self.paused.family,
            self.in_call.family,
            self.calls_taken.family,
            self.last_call.family,
            self.last_pause.family,
            self.login_time.family,
        )
