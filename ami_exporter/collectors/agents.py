"""Agent metrics: queue members by agent state and by pause reason, and per member its state,
pause reason and counters (calls answered and missed, talk and pause time).

:class:`QueueCollector` computes each member's state once per scrape and hands it to both
family sets here. Per-member samples share one label dict per member and are built directly as
``Sample`` tuples: at 10,000 members the ``dict(zip(...))`` that ``add_metric`` makes per series
is a measurable part of a scrape, and these families add several series per member.
"""

from __future__ import annotations

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.samples import Sample

from ..pbx.agents import AGENT_STATES, PAUSED, AgentRecord

STATE_HELP = ", ".join(f"{code} {name}" for code, name in enumerate(AGENT_STATES))


class QueueAgentFamilies:
    """Per-queue families: agents by state (all six, 0 when none) and paused members by reason."""

    def __init__(self) -> None:
        self.by_state = GaugeMetricFamily(
            "asterisk_queue_agents",
            "Queue members by agent state, exactly one each: paused; unavailable (device unavailable, "
            "invalid or unknown); on_call (a queue call, or with ringinuse off any call on the device); "
            "ringing; wrapup (within the wrap-up time after the last queue call); else available.",
            labels=["queue", "state"],
        )
        self.paused_by_reason = GaugeMetricFamily(
            "asterisk_queue_members_paused_by_reason",
            "Paused queue members by pause reason (PausedReason; an empty reason is none; capped by "
            "--limits.pause-reasons).",
            labels=["queue", "reason"],
        )

    def add(self, queue: str, counts: list[int], reasons: dict[str, int]) -> None:
        for state, number in zip(AGENT_STATES, counts, strict=True):
            self.by_state.add_metric([queue, state], number)
        for reason, number in sorted(reasons.items()):
            self.paused_by_reason.add_metric([queue, reason], number)

    def families(self) -> tuple[Metric, ...]:
        return (self.by_state, self.paused_by_reason)


class MemberAgentFamilies:
    """Per-member families (``--collector.queue-members``)."""

    def __init__(self) -> None:
        member = ["queue", "member"]
        self.state = GaugeMetricFamily(
            "asterisk_queue_member_state", f"Agent state of the member: {STATE_HELP}.", labels=member
        )
        self.since = GaugeMetricFamily(
            "asterisk_queue_member_state_since_seconds",
            "Unix time the member entered its current agent state (a pause: when it began, "
            "Asterisk's LastPause if it began before the exporter connected).",
            labels=member,
        )
        self.pause_reason = GaugeMetricFamily(
            "asterisk_queue_member_pause_reason",
            "1 while the member is paused, with the current pause reason; absent when not paused.",
            labels=["queue", "member", "reason"],
        )
        self.answered = CounterMetricFamily(
            "asterisk_queue_member_calls_answered",
            "Queue calls the member answered (AgentConnect).",
            labels=member,
        )
        self.noanswer = CounterMetricFamily(
            "asterisk_queue_member_ring_noanswer",
            "Times the member was rung and did not answer in time (AgentRingNoAnswer): missed calls.",
            labels=member,
        )
        self.talk = CounterMetricFamily(
            "asterisk_queue_member_talk_seconds",
            "Talk time of the member's completed queue calls (AgentComplete TalkTime).",
            labels=member,
        )
        self.paused = CounterMetricFamily(
            "asterisk_queue_member_paused_seconds",
            "Time the member spent paused in this queue, by pause reason; includes the pause in "
            "progress up to the scrape.",
            labels=["queue", "member", "reason"],
        )
        # Counter samples carry the _total suffix (what add_metric would append).
        self._answered = "asterisk_queue_member_calls_answered_total"
        self._noanswer = "asterisk_queue_member_ring_noanswer_total"
        self._talk = "asterisk_queue_member_talk_seconds_total"
        self._paused = "asterisk_queue_member_paused_seconds_total"

    def add_member(
        self, queue: str, label: str, record: AgentRecord, state: int, since: float, now: float
    ) -> None:
        """A member in the queue now: state, pause reason and counters. ``now`` is monotonic."""
        labels = {"queue": queue, "member": label}
        self.state.samples.append(Sample("asterisk_queue_member_state", labels, state))
        self.since.samples.append(Sample("asterisk_queue_member_state_since_seconds", labels, since))
        if state == PAUSED and record.pause_reason:
            self.pause_reason.samples.append(
                Sample(
                    "asterisk_queue_member_pause_reason",
                    {"queue": queue, "member": label, "reason": record.pause_reason},
                    1.0,
                )
            )
        self._counters(labels, record, now)

    def add_counters(self, record: AgentRecord, now: float) -> None:
        """Counters only: a member no longer in the queue, or any member while not live."""
        self._counters({"queue": record.queue, "member": record.label}, record, now)

    def _counters(self, labels: dict[str, str], record: AgentRecord, now: float) -> None:
        self.answered.samples.append(Sample(self._answered, labels, record.answered))
        self.noanswer.samples.append(Sample(self._noanswer, labels, record.ring_noanswer))
        self.talk.samples.append(Sample(self._talk, labels, record.talk_seconds))
        if record.paused_seconds:
            for reason, seconds in sorted(record.paused_totals(now).items()):
                self.paused.samples.append(Sample(self._paused, {**labels, "reason": reason}, seconds))

    def families(self) -> tuple[Metric, ...]:
        return (
            self.state,
            self.since,
            self.pause_reason,
            self.answered,
            self.noanswer,
            self.talk,
            self.paused,
        )
