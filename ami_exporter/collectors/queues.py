"""Queue, caller and member metrics (the agent families are built by :mod:`.agents`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..pbx import PBX
from ..pbx.agents import AGENT_STATES, AVAILABLE, PAUSED, WRAPUP
from ..pbx.codes import DEVICE_STATES
from ..pbx.labels import OVERFLOW
from ..pbx.queues import COMPLETION_REASONS, Member, Queue
from .agents import MemberAgentFamilies, QueueAgentFamilies
from .base import Liveness, always_live, histogram_buckets

# A queue's members with the agent state and its start, computed once per scrape.
MemberRows = list[tuple[Member, int, float]]

_STATUS_HELP = ", ".join(f"{code} {name}" for code, name in enumerate(DEVICE_STATES))


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

        callers = GaugeMetricFamily(
            "asterisk_queue_callers", "Callers waiting in the queue now.", labels=label
        )
        longest = GaugeMetricFamily(
            "asterisk_queue_longest_wait_seconds",
            "Wait of the oldest caller waiting now, 0 when none.",
            labels=label,
        )
        members = GaugeMetricFamily(
            "asterisk_queue_members", "Queue members by device status.", labels=["queue", "status"]
        )
        paused = GaugeMetricFamily("asterisk_queue_members_paused", "Paused queue members.", labels=label)
        available = GaugeMetricFamily(
            "asterisk_queue_members_available",
            "Members Asterisk would ring now: agent state available (not paused, device reachable "
            "and idle, not ringing, not in wrap-up).",
            labels=label,
        )
        in_call = GaugeMetricFamily(
            "asterisk_queue_members_in_call", "Members on a queue call now.", labels=label
        )
        joins = CounterMetricFamily(
            "asterisk_queue_caller_joins", "Callers that joined the queue (QueueCallerJoin).", labels=label
        )
        abandons = CounterMetricFamily(
            "asterisk_queue_caller_abandons",
            "QueueCallerAbandon events. Asterisk reports caller hang-ups, queue timeouts, "
            "leavewhenempty, withdrawals and callers cut off by a restart this way.",
            labels=label,
        )
        answered = CounterMetricFamily(
            "asterisk_queue_calls_answered", "Calls answered by a member (AgentConnect).", labels=label
        )
        completed = CounterMetricFamily(
            "asterisk_queue_calls_completed",
            "Answered calls that ended (AgentComplete), by who hung up.",
            labels=["queue", "reason"],
        )
        noanswer = CounterMetricFamily(
            "asterisk_queue_ring_noanswer",
            "Members rung who did not answer in time (AgentRingNoAnswer).",
            labels=label,
        )
        dumps = CounterMetricFamily(
            "asterisk_queue_agent_dumps",
            "Calls the member hung up during setup (AgentDump).",
            labels=label,
        )
        wait = HistogramMetricFamily(
            "asterisk_queue_wait_seconds",
            "How long callers waited, observed when the wait ended (HoldTime of AgentConnect or "
            "QueueCallerAbandon).",
            labels=["queue", "outcome"],
        )
        talk = HistogramMetricFamily(
            "asterisk_queue_talk_seconds",
            "Talk time of completed queue calls (AgentComplete TalkTime).",
            labels=label,
        )
        service_level = GaugeMetricFamily(
            "asterisk_queue_service_level_seconds",
            "The queue's configured service-level threshold (servicelevel in queues.conf).",
            labels=label,
        )
        max_callers = GaugeMetricFamily(
            "asterisk_queue_max_callers", "Maximum callers allowed (maxlen); 0 means unlimited.", labels=label
        )
        stats_completed = GaugeMetricFamily(
            "asterisk_queue_stats_completed",
            "Asterisk's own Completed count since its last stats reset (QueueParams; resets on "
            "restart and QueueReset).",
            labels=label,
        )
        stats_abandoned = GaugeMetricFamily(
            "asterisk_queue_stats_abandoned",
            "Asterisk's own Abandoned count since its last stats reset (QueueParams).",
            labels=label,
        )
        stats_sl = GaugeMetricFamily(
            "asterisk_queue_stats_service_level_ratio",
            "Asterisk's ServicelevelPerf / 100: completed calls answered within the service level.",
            labels=label,
        )
        stats_hold = GaugeMetricFamily(
            "asterisk_queue_stats_holdtime_seconds",
            "Asterisk's moving-average hold time (weight 1/4 on the newest call).",
            labels=label,
        )
        stats_talk = GaugeMetricFamily(
            "asterisk_queue_stats_talktime_seconds",
            "Asterisk's moving-average talk time (weight 1/4 on the newest call).",
            labels=label,
        )

        agents = QueueAgentFamilies()
        rows_by_queue: list[tuple[Queue, MemberRows]] = []
        for queue in queues:
            name = queue.name
            labels = [name]
            if live:
                callers.add_metric(labels, queue.count)
                longest.add_metric(labels, queue.longest_wait(now))
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
                    members.add_metric([name, status_name], number)
                paused.add_metric(labels, paused_count)
                available.add_metric(labels, by_state[AVAILABLE])
                in_call.add_metric(labels, in_call_count)
                agents.add(name, by_state, reasons)
            joins.add_metric(labels, queue.joins)
            abandons.add_metric(labels, queue.abandons)
            answered.add_metric(labels, queue.answered)
            completions = dict(queue.completed)
            for reason in (*COMPLETION_REASONS, *sorted(set(completions) - set(COMPLETION_REASONS))):
                completed.add_metric([name, reason], completions.get(reason, 0))
            noanswer.add_metric(labels, queue.ring_noanswer)
            dumps.add_metric(labels, queue.dumps)
            for outcome, histogram in (
                ("answered", queue.wait_answered),
                ("abandoned", queue.wait_abandoned),
            ):
                buckets, total = histogram_buckets(histogram)
                wait.add_metric([name, outcome], buckets, total)
            buckets, total = histogram_buckets(queue.talk)
            talk.add_metric(labels, buckets, total)
            params = queue.params
            if params is not None:
                service_level.add_metric(labels, params.service_level)
                max_callers.add_metric(labels, params.max_callers)
                if live:
                    stats_completed.add_metric(labels, params.completed)
                    stats_abandoned.add_metric(labels, params.abandoned)
                    stats_sl.add_metric(labels, params.service_level_perf / 100)
                    stats_hold.add_metric(labels, params.holdtime)
                    stats_talk.add_metric(labels, params.talktime)

        yield from (
            callers,
            longest,
            members,
            paused,
            available,
            in_call,
            *agents.families(),
            joins,
            abandons,
            answered,
            completed,
        )
        yield from (noanswer, dumps, wait, talk, service_level, max_callers)
        yield from (stats_completed, stats_abandoned, stats_sl, stats_hold, stats_talk)
        if self._members:
            yield from self._member_families(rows_by_queue)  # no rows while not live
            yield from self._agent_families(queues, rows_by_queue if live else None, now)

    def _agent_families(
        self, queues: list[Queue], rows_by_queue: list[tuple[Queue, MemberRows]] | None, now: float
    ) -> Iterator[Metric]:
        """Per-member agent families. Not live (``rows_by_queue`` None): the counters only."""
        families = MemberAgentFamilies()
        if rows_by_queue is not None:
            for queue, rows in rows_by_queue:
                for member, state, since in rows:
                    if member.agent.tracked:  # past the member cap: no series of its own
                        families.add_member(queue.name, member.name, member.agent, state, since, now)
        else:
            for queue in queues:
                for member in list(queue.members.values()):
                    if member.agent.tracked:
                        families.add_counters(member.agent, now)
        for record in list(self._pbx.queues.agents.retired.values()):
            families.add_counters(record, now)
        yield from families.families()

    @staticmethod
    def _member_families(rows_by_queue: list[tuple[Queue, MemberRows]]) -> Iterator[Metric]:
        """Per-member gauges; no rows while not live (the families stay known)."""
        labels = ["queue", "member"]
        status = GaugeMetricFamily(
            "asterisk_queue_member_status", f"Member device status: {_STATUS_HELP}.", labels=labels
        )
        paused = GaugeMetricFamily(
            "asterisk_queue_member_paused", "1 when the member is paused.", labels=labels
        )
        in_call = GaugeMetricFamily(
            "asterisk_queue_member_in_call", "1 while the member is on a queue call.", labels=labels
        )
        calls_taken = GaugeMetricFamily(
            "asterisk_queue_member_calls_taken",
            "Calls the member completed, per Asterisk (resets with the queue stats).",
            labels=labels,
        )
        last_call = GaugeMetricFamily(
            "asterisk_queue_member_last_call_time_seconds",
            "Unix time the member's last queue call ended, 0 when never.",
            labels=labels,
        )
        last_pause = GaugeMetricFamily(
            "asterisk_queue_member_last_pause_time_seconds",
            "Unix time the member was last paused, 0 when never.",
            labels=labels,
        )
        login_time = GaugeMetricFamily(
            "asterisk_queue_member_login_time_seconds",
            "Unix time the member was added to the queue (or loaded with it).",
            labels=labels,
        )
        for queue, rows in rows_by_queue:
            for member, _state, _since in rows:
                label = member.name  # unique within the queue and capped (QueueBook._admit_label)
                if label == OVERFLOW:
                    continue  # past the member cap: counted in the queue totals, no series of its own
                values = [queue.name, label]
                status.add_metric(values, member.status)
                paused.add_metric(values, member.paused)
                in_call.add_metric(values, member.in_call)
                calls_taken.add_metric(values, member.calls_taken)
                last_call.add_metric(values, member.last_call)
                last_pause.add_metric(values, member.last_pause)
                login_time.add_metric(values, member.login_time)
        yield from (status, paused, in_call, calls_taken, last_call, last_pause, login_time)
