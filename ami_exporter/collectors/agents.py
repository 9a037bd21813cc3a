"""Agent metrics: queue members by agent state and by pause reason, and per member its state,
pause reason and counters (calls answered and missed, talk and pause time).

:class:`QueueCollector` computes each member's state once per scrape and hands it, with the
member's label dict (shared by all of its series), to both family sets here.
"""

from __future__ import annotations

from prometheus_client.metrics_core import Metric

from ..pbx.agents import AGENT_STATES, PAUSED, AgentRecord
from .base import Series

STATE_HELP = ", ".join(f"{code} {name}" for code, name in enumerate(AGENT_STATES))


class QueueAgentFamilies:
    """Per-queue families: agents by state (all six, 0 when none) and paused members by reason."""

    def __init__(self) -> None:
        self.by_state = Series.gauge(
            "asterisk_queue_agents",
            "Queue members by agent state, exactly one each: paused; unavailable (device unavailable, "
            "invalid or unknown); on_call (a queue call, or with ringinuse off any call on the device); "
            "ringing; wrapup (within the wrap-up time after the last queue call); else available.",
            labels=["queue", "state"],
        )
        self.paused_by_reason = Series.gauge(
            "asterisk_queue_members_paused_by_reason",
            "Paused queue members by pause reason (PausedReason; an empty reason is none; capped by "
            "--limits.pause-reasons).",
            labels=["queue", "reason"],
        )

    def add(self, queue: str, counts: list[int], reasons: dict[str, int]) -> None:
        add = self.by_state.add
        for state, number in zip(AGENT_STATES, counts, strict=True):
            add({"queue": queue, "state": state}, number)
        for reason, number in sorted(reasons.items()):
            self.paused_by_reason.add({"queue": queue, "reason": reason}, number)

    def families(self) -> tuple[Metric, ...]:
        return (self.by_state.family, self.paused_by_reason.family)


class MemberAgentFamilies:
    """Per-member families (``--collector.queue-members``)."""

    def __init__(self) -> None:
        member = ["queue", "member"]
        self.state = Series.gauge(
            "asterisk_queue_member_state", f"Agent state of the member: {STATE_HELP}.", labels=member
        )
        self.since = Series.gauge(
            "asterisk_queue_member_state_since_seconds",
            "Unix time the member entered its current agent state (a pause: when it began, "
            "Asterisk's LastPause if it began before the exporter connected).",
            labels=member,
        )
        self.pause_reason = Series.gauge(
            "asterisk_queue_member_pause_reason",
            "1 while the member is paused, with the current pause reason; absent when not paused.",
            labels=["queue", "member", "reason"],
        )
        self.answered = Series.counter(
            "asterisk_queue_member_calls_answered",
            "Queue calls the member answered (AgentConnect).",
            labels=member,
        )
        self.noanswer = Series.counter(
            "asterisk_queue_member_ring_noanswer",
            "Times the member was rung and did not answer in time (AgentRingNoAnswer): missed calls.",
            labels=member,
        )
        self.talk = Series.counter(
            "asterisk_queue_member_talk_seconds",
            "Talk time of the member's completed queue calls (AgentComplete TalkTime).",
            labels=member,
        )
        self.paused = Series.counter(
            "asterisk_queue_member_paused_seconds",
            "Time the member spent paused in this queue, by pause reason; includes the pause in "
            "progress up to the scrape.",
            labels=["queue", "member", "reason"],
        )

    def add_member(
        self, labels: dict[str, str], record: AgentRecord, state: int, since: float, now: float
    ) -> None:
        """A member in the queue now (``labels``: its queue and member): state, pause reason and
        counters. ``now`` is monotonic."""
        self.state.add(labels, state)
        self.since.add(labels, since)
        if state == PAUSED and record.pause_reason:
            self.pause_reason.add({**labels, "reason": record.pause_reason}, 1.0)
        self.add_counters(labels, record, now)

    def add_counters(self, labels: dict[str, str], record: AgentRecord, now: float) -> None:
        """Counters only: also for a member no longer in the queue, or any member while not live."""
        self.answered.add(labels, record.answered)
        self.noanswer.add(labels, record.ring_noanswer)
        self.talk.add(labels, record.talk_seconds)
        if record.paused_seconds:
            for reason, seconds in sorted(record.paused_totals(now).items()):
                self.paused.add({**labels, "reason": reason}, seconds)

    def families(self) -> tuple[Metric, ...]:
        return (
            self.state.family,
            self.since.family,
            self.pause_reason.family,
            self.answered.family,
            self.noanswer.family,
            self.talk.family,
            self.paused.family,
        )
