"""Replay of the recorded b-scenario through the real client, service and model over TCP.

Ground truth: ``b-scenario/ground-truth/outcomes.txt`` (per caller: its queue events),
``Master.csv`` (88 CDR rows) and the recorded QueueStatus replies.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService

from .conftest import ServiceFactory, wait_for
from .support.captures import capture, event_counts, master_csv_rows
from .support.replay import Play, replay_server

QUEUES = ("sales", "support", "billing")
B_SCENARIO = ("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")


def outcome_totals() -> dict[str, Counter[str]]:
    """Per queue: joins, answered, completed by reason, abandons and ring-no-answer."""
    totals: dict[str, Counter[str]] = {queue: Counter() for queue in QUEUES}
    for line in capture("b-scenario/ground-truth/outcomes.txt").read_text().splitlines():
        join = re.search(r"QueueCallerJoin\((\w+)\)", line)
        if not join:
            continue  # JOINEMPTY refusals never joined
        queue = totals[join.group(1)]
        queue["joins"] += 1
        queue["ring_noanswer"] += int(re.search(r"AgentRingNoAnswer x(\d+)", line).group(1))  # type: ignore[union-attr]
        queue["abandons"] += line.count("QueueCallerAbandon(")
        queue["answered"] += line.count("AgentConnect(")
        for reason in re.findall(r"AgentComplete\(\w+,\w+,Reason=(\w+)", line):
            queue[f"completed_{reason}"] += 1
    # b20's AgentComplete lacks every caller-side field, so outcomes.txt (keyed by caller) misses
    # it; it is in exporter.rx.raw: Queue sales, MemberName Bob, Reason agent.
    totals["sales"]["completed_agent"] += 1
    return totals


@pytest.fixture
async def replayed(running_service: ServiceFactory) -> AsyncIterator[AMIService]:
    pbx = PBX()
    async with (
        replay_server([Play(*B_SCENARIO)]) as server,
        running_service(server.port, pbx=pbx) as service,
    ):
        await wait_for(lambda: server.finished.is_set(), timeout=30)
        # The last recorded QueueStatus reply was consumed; let the client fold what is buffered.
        await wait_for(lambda: pbx.events.get("QueueMemberStatus", 0) >= 64, timeout=10)
        yield service


async def test_queue_counters_match_ground_truth(replayed: AMIService) -> None:
    queues = replayed.pbx.queues.queues
    for name, expected in outcome_totals().items():
        queue = queues[name]
        assert queue.joins == expected["joins"], name
        assert queue.answered == expected["answered"], name
        assert queue.abandons == expected["abandons"], name
        assert queue.ring_noanswer == expected["ring_noanswer"], name
        completed = {reason: count for reason, count in queue.completed.items() if count}
        assert completed == {
            key.removeprefix("completed_"): count
            for key, count in expected.items()
            if key.startswith("completed_")
        }, name


async def test_abandons_include_timeouts(replayed: AMIService) -> None:
    # tests/fixtures/ami-captures/README.md (b-scenario outcomes, queue show): sales 2, billing 4
    # (1 abandon + 3 timeouts), support 0.
    queues = replayed.pbx.queues.queues
    assert {name: queues[name].abandons for name in QUEUES} == {"sales": 2, "support": 0, "billing": 4}


async def test_gauges_end_at_zero_and_members_match_last_snapshot(replayed: AMIService) -> None:
    queues = replayed.pbx.queues.queues
    for name in QUEUES:
        assert queues[name].count == 0
        assert queues[name].callers == {}
    # queue-show.txt at the end: nobody paused, all members not in use; Carol left billing.
    assert sorted(queues["billing"].members) == ["Local/agent5@agents/n", "Local/agent7@agents/n"]
    for queue in queues.values():
        for member in queue.members.values():
            assert member.status == 1, (queue.name, member.name)
            assert not member.paused
            assert not member.in_call
    params = {name: queues[name].params for name in QUEUES}
    assert {name: (p.completed, p.abandoned) for name, p in params.items() if p} == {
        "sales": (5, 2),
        "support": (5, 0),
        "billing": (1, 4),
    }


async def test_cdr_matches_master_csv(replayed: AMIService) -> None:
    rows = master_csv_rows()
    dispositions = Counter(row[14].lower().replace(" ", "_") for row in rows)
    assert replayed.pbx.system.cdr_totals() == dict(dispositions)
    assert replayed.pbx.system.cdr_billable_seconds == sum(int(row[13]) for row in rows)
    assert sum(dispositions.values()) == 88


async def test_channels_and_bridges(replayed: AMIService) -> None:
    recorded = event_counts(*B_SCENARIO)
    channels = replayed.pbx.channels
    assert sum(channels.created.values()) == recorded["Newchannel"] == 102
    assert sum(channels.hangups.values()) == recorded["Hangup"] == 102
    assert channels.channels == {}
    assert channels.bridges == set()
    causes: Counter[str] = Counter()
    for (_tech, cause), count in channels.hangups.items():
        causes[cause] += count
    assert causes == {"normal_clearing": 52, "not_defined": 40, "answered_elsewhere": 10}


async def test_every_event_counted(replayed: AMIService) -> None:
    assert replayed.pbx.events == dict(event_counts(*B_SCENARIO))


async def test_only_read_only_actions_sent(replayed: AMIService) -> None:
    assert set(replayed.sent_actions) <= {"Login", "ListCommands", "QueueStatus", "BridgeList", "Ping"}
    assert "QueueStatus" in replayed.sent_actions


async def test_per_agent_answers_and_pause_reasons(replayed: AMIService) -> None:
    """Per (queue, member): calls answered as outcomes.txt lists them; the pauses of steps.log
    (QueuePause with reasons, one of them in all queues) by reason, all ended by the end."""
    answered: Counter[tuple[str, str]] = Counter()
    for line in capture("b-scenario/ground-truth/outcomes.txt").read_text().splitlines():
        for queue, member in re.findall(r"AgentConnect\((\w+),(\w+),", line):
            answered[(queue, member)] += 1
    agents = replayed.pbx.queues.agents
    records = {**agents.retired, **agents.records}
    assert {key: r.answered for key, r in records.items() if r.answered} == dict(answered)
    reasons = {key: set(r.paused_seconds) for key, r in records.items() if r.paused_seconds}
    assert reasons == {
        ("sales", "Bob"): {"lunch"},
        ("support", "Carol"): {"break", "meeting"},
        ("support", "Dave"): {"meeting"},
        ("support", "Frank"): {"meeting"},
    }
    assert not any(r.pause_reason for r in records.values())
