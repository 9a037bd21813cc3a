"""Queue, caller and member metrics (the agent families are built by :mod:`.agents`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ..pbx import PBX
from ..pbx.agents import AGENT_STATES, AVAILABLE, PAUSED, WRAPUP
from ..pbx.codes import DEVICE_STATES
from ..pbx.labels import OVERFLOW
from ..pbx.queues import COMPLETION_REASONS, Member, Queue
from .agents import MemberAgentFamilies, QueueAgentFamilies
from .base import HistogramSeries, Liveness, Series, always_live
from .members import MemberFamilies

# A queue's members with the agent state and its start, computed once per scrape.
MemberRows = list[tuple[Member, int, float]]


class QueueCollector(Collector):
    """Queue families. Gauges of live state (callers, waits, members, Asterisk's own queue
    stats) have samples only while ``live()``: the numbers of a PBX we cannot see would be
    served as if current. Counters and configuration are always exported."""

    def __init__(self, pbx: PBX, *, members: bool = True, live: Liveness = always_live) -> None:
        self._pbx = pbx
        self._members = members
        self._live = live

    def collect(self) -> Iterator[Metric]:
        live = self._live()
        now = self._pbx.monotonic()
        queues = list(self._pbx.queues.queues.values())
        label = ["queue"]

        callers = Series.gauge("asterisk_queue_callers", "Callers waiting in the queue now.", labels=label)
        longest = Series.gauge(
            "asterisk_queue_longest_wait_seconds",
            "Wait of the oldest caller waiting now, 0 when none.",
            labels=label,
        )
        members = Series.gauge(
            "asterisk_queue_members", "Queue members by device status.", labels=["queue", "status"]
        )
        paused = Series.gauge("asterisk_queue_members_paused", "Paused queue members.", labels=label)
        available = Series.gauge(
            "asterisk_queue_members_available",
            "Members Asterisk would ring now: agent state available (not paused, device reachable "
            "and idle, not ringing, not in wrap-up).",
            labels=label,
        )
        in_call = Series.gauge("asterisk_queue_members_in_call", "Members on a queue call now.", labels=label)
        joins = Series.counter(
            "asterisk_queue_caller_joins", "Callers that joined the queue (QueueCallerJoin).", labels=label
        )
        abandons = Series.counter(
            "asterisk_queue_caller_abandons",
            "QueueCallerAbandon events. Asterisk reports caller hang-ups, queue timeouts, "
            "leavewhenempty, withdrawals and callers cut off by a restart this way.",
            labels=label,
        )
        answered = Series.counter(
            "asterisk_queue_calls_answered", "Calls answered by a member (AgentConnect).", labels=label
        )
        completed = Series.counter(
            "asterisk_queue_calls_completed",
            "Answered calls that ended (AgentComplete), by who hung up.",
            labels=["queue", "reason"],
        )
        noanswer = Series.counter(
            "asterisk_queue_ring_noanswer",
            "Members rung who did not answer in time (AgentRingNoAnswer).",
            labels=label,
        )
        dumps = Series.counter(
            "asterisk_queue_agent_dumps",
            "Calls the member hung up during setup (AgentDump).",
            labels=label,
        )
        wait = HistogramSeries(
            "asterisk_queue_wait_seconds",
            "How long callers waited, observed when the wait ended (HoldTime of AgentConnect or "
            "QueueCallerAbandon).",
            labels=["queue", "outcome"],
        )
        talk = HistogramSeries(
            "asterisk_queue_talk_seconds",
            "Talk time of completed queue calls (AgentComplete TalkTime).",
            labels=label,
        )
        service_level = Series.gauge(
            "asterisk_queue_service_level_seconds",
            "The queue's configured service-level threshold (servicelevel in queues.conf).",
            labels=label,
        )
        max_callers = Series.gauge(
            "asterisk_queue_max_callers", "Maximum callers allowed (maxlen); 0 means unlimited.", labels=label
        )
        stats_completed = Series.gauge(
            "asterisk_queue_stats_completed",
            "Asterisk's own Completed count since its last stats reset (QueueParams; resets on "
            "restart and QueueReset).",
            labels=label,
        )
        stats_abandoned = Series.gauge(
            "asterisk_queue_stats_abandoned",
            "Asterisk's own Abandoned count since its last stats reset (QueueParams).",
            labels=label,
        )
        stats_sl = Series.gauge(
            "asterisk_queue_stats_service_level_ratio",
            "Asterisk's ServicelevelPerf / 100: completed calls answered within the service level.",
            labels=label,
        )
        stats_hold = Series.gauge(
            "asterisk_queue_stats_holdtime_seconds",
            "Asterisk's moving-average hold time (weight 1/4 on the newest call).",
            labels=label,
        )
        stats_talk = Series.gauge(
            "asterisk_queue_stats_talktime_seconds",
            "Asterisk's moving-average talk time (weight 1/4 on the newest call).",
            labels=label,
        )

        agents = QueueAgentFamilies()
        rows_by_queue: list[tuple[Queue, MemberRows]] = []
        for queue in queues:
            name = queue.name
            labels = {"queue": name}  # shared by the queue's single-label series
            if live:
                callers.add(labels, queue.count)
                longest.add(labels, queue.longest_wait(now))
                by_status = [0] * len(DEVICE_STATES)
                by_state = [0] * len(AGENT_STATES)
                reasons: dict[str, int] = {}
                paused_count = in_call_count = 0
                rows: MemberRows = []
                keep_rows = self._members
                for member in list(queue.members.values()):
                    status = member.status if 0 <= member.status < len(DEVICE_STATES) else 0
                    by_status[status] += 1
                    paused_count += member.paused
                    in_call_count += member.in_call
                    record = member.agent
                    state = record.state
                    if state < 0 or (state == WRAPUP and now >= record.wrapup_until):
                        state, since = record.current(member, now)  # what changed without an event
                    else:
                        since = record.since
                    by_state[state] += 1
                    if state == PAUSED:
                        reasons[record.pause_reason] = reasons.get(record.pause_reason, 0) + 1
                    if keep_rows:
                        rows.append((member, state, since))
                rows_by_queue.append((queue, rows))
                for status_name, number in zip(DEVICE_STATES, by_status, strict=True):
                    members.add({"queue": name, "status": status_name}, number)
                paused.add(labels, paused_count)
                available.add(labels, by_state[AVAILABLE])
                in_call.add(labels, in_call_count)
                agents.add(name, by_state, reasons)
            joins.add(labels, queue.joins)
            abandons.add(labels, queue.abandons)
            answered.add(labels, queue.answered)
            completions = dict(queue.completed)
            for reason in (*COMPLETION_REASONS, *sorted(set(completions) - set(COMPLETION_REASONS))):
                completed.add({"queue": name, "reason": reason}, completions.get(reason, 0))
            noanswer.add(labels, queue.ring_noanswer)
            dumps.add(labels, queue.dumps)
            wait.add({"queue": name, "outcome": "answered"}, queue.wait_answered)
            wait.add({"queue": name, "outcome": "abandoned"}, queue.wait_abandoned)
            talk.add(labels, queue.talk)
            params = queue.params
            if params is not None:
                service_level.add(labels, params.service_level)
                max_callers.add(labels, params.max_callers)
                if live:
                    stats_completed.add(labels, params.completed)
                    stats_abandoned.add(labels, params.abandoned)
                    stats_sl.add(labels, params.service_level_perf / 100)
                    stats_hold.add(labels, params.holdtime)
                    stats_talk.add(labels, params.talktime)

        yield from (
            callers.family,
            longest.family,
            members.family,
            paused.family,
            available.family,
            in_call.family,
            *agents.families(),
            joins.family,
            abandons.family,
            answered.family,
            completed.family,
        )
        yield from (noanswer.family, dumps.family, wait.family, talk.family)
        yield from (service_level.family, max_callers.family)
        yield from (stats_completed.family, stats_abandoned.family, stats_sl.family)
        yield from (stats_hold.family, stats_talk.family)
        if self._members:
            yield from self._member_families(queues, rows_by_queue if live else None, now)

    def _member_families(
        self, queues: list[Queue], rows_by_queue: list[tuple[Queue, MemberRows]] | None, now: float
    ) -> Iterator[Metric]:
        """Per-member families, one label dict per member for all of its series. Not live
        (``rows_by_queue`` None): the gauge families without samples, and the agent counters."""
        gauges = MemberFamilies()
        agents = MemberAgentFamilies()
        if rows_by_queue is not None:
            for queue, rows in rows_by_queue:
                name = queue.name
                for member, state, since in rows:
                    # The label is unique within the queue and capped (QueueBook._admit_label).
                    labels = {"queue": name, "member": member.name}
                    if member.name != OVERFLOW:  # past the cap: counted in the queue totals only
                        gauges.add(labels, member)
                    if member.agent.tracked:  # past the member cap: no series of its own
                        agents.add_member(labels, member.agent, state, since, now)
        else:
            for queue in queues:
                for member in list(queue.members.values()):
                    record = member.agent
                    if record.tracked:
                        agents.add_counters({"queue": record.queue, "member": record.label}, record, now)
        for record in list(self._pbx.queues.agents.retired.values()):
            agents.add_counters({"queue": record.queue, "member": record.label}, record, now)
        yield from gauges.families()
        yield from agents.families()
