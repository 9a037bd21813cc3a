"""The exporter against the simulator for a few simulated minutes: after the last reconcile every
queue gauge and counter equals the simulator's truth.

Simulated time moves only when the test advances it (``time_scale=0``), in half-second steps;
after each step the test waits until the exporter has read every event sent so far, as it would
from a live PBX. The exporter's clocks are the simulator's, so what it times (pauses) is off by
at most one step: it folds a step's events at the step's end.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ami_exporter.ami.actions import READ_ONLY_ACTIONS
from ami_exporter.pbx import PBX
from ami_exporter.pbx.agents import AGENT_STATES, NO_REASON, WrapupTimes
from ami_exporter.pbx.codes import CDR_DISPOSITIONS, SECURITY_EVENTS
from ami_exporter.service import AMIService, SecretSource
from ami_exporter.simulator import Simulator, SimulatorConfig, Truth

from .conftest import make_settings, wait_for

SIMULATED_SECONDS = 240
STEP = 0.5
STATE_CHECK = 10.0  # compare every member's agent state with the truth this often


@dataclass
class Run:
    simulator: Simulator
    service: AMIService
    truth: Truth
    session_id: int
    # Agent states compared every STATE_CHECK simulated seconds during the run.
    states_seen: Counter[str] = field(default_factory=Counter)
    state_mismatches: list[tuple[float, str, str, str, str]] = field(default_factory=list)


async def run_call_centre(user: str, tmp_path: Path) -> AsyncIterator[Run]:
    # timestampevents = yes: the events are folded after the virtual clock has moved on (up to a
    # STEP later), so only the events' own time gives the exact LastCall of a completed call.
    config = SimulatorConfig.demo(
        time_scale=0, seed=11, scanner_rate=1 / 20, pause_interval=120.0, timestamp_events=True
    )
    simulator = Simulator(config)
    await simulator.start(traffic=False)
    settings = make_settings(
        simulator.port,
        tmp_path / "unused",
        username=user,
        secret=SecretSource(value="exportersecret"),
        auth="md5",
        reconcile_interval=0.2,
    )
    # The operator passes the queues' wrap-up times (queues.conf) with --queue.wrapup-time.
    wrapup = WrapupTimes(0.0, {queue.name: queue.wrapuptime for queue in config.queues})
    pbx = PBX(now=simulator.clock.now, monotonic=simulator.clock.now, wrapup=wrapup)
    service = AMIService(settings, pbx)
    task = asyncio.create_task(service.run())
    try:
        await wait_for(lambda: service.status.ready, timeout=10)
        (session_id,) = [sid for sid, s in simulator.truth().sessions.items() if s.open and s.user == user]
        sent = simulator.session_stats[session_id].events

        def delivered() -> bool:
            return sum(sent.values()) == sum(service.pbx.events.values())

        states_seen: Counter[str] = Counter()
        mismatches: list[tuple[float, str, str, str, str]] = []
        simulator.model.start_traffic()
        for step in range(1, int(SIMULATED_SECONDS / STEP) + 1):
            await simulator.advance(STEP)
            await wait_for(delivered, timeout=20)
            if step % int(STATE_CHECK / STEP) == 0:
                now = pbx.monotonic()
                for (queue, interface), expected in simulator.model.member_truth().items():
                    member = pbx.queues.queues[queue].members[interface]
                    state = AGENT_STATES[member.agent.current(member, now)[0]]
                    states_seen[state] += 1
                    if state != expected.state:
                        mismatches.append((now, queue, interface, state, expected.state))
        simulator.model.stop_traffic()
        await wait_for(delivered, timeout=20)
        # A reconcile that started after the last event: the snapshot is the final truth.
        target = service.status.reconciles + 2
        await wait_for(lambda: service.status.reconciles >= target, timeout=10)
        yield Run(simulator, service, simulator.truth(), session_id, states_seen, mismatches)
    finally:
        await service.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await simulator.stop()


@pytest.fixture
async def reporting_run(tmp_path: Path) -> AsyncIterator[Run]:
    async for run in run_call_centre("exporter_rep", tmp_path):
        yield run


async def test_queue_state_and_counters_equal_the_truth(reporting_run: Run) -> None:
    truth, pbx = reporting_run.truth, reporting_run.service.pbx
    assert sum(queue.joins for queue in truth.queues.values()) > 100, "the run should be busy"
    for name, expected in truth.queues.items():
        queue = pbx.queues.queues[name]
        assert queue.count == expected.waiting, name
        assert set(queue.callers) == {caller.uniqueid for caller in expected.callers}, name
        assert queue.joins == expected.joins, name
        assert queue.abandons == expected.abandons, name
        assert queue.answered == expected.answered, name
        assert {k: v for k, v in queue.completed.items() if v} == {
            k: v for k, v in expected.completed.items() if v
        }
        assert queue.ring_noanswer == expected.ring_no_answer, name
        assert queue.params is not None
        assert (queue.params.completed, queue.params.abandoned) == (
            expected.completed_stat,
            expected.abandoned_stat,
        )
        assert queue.wait_answered.cumulative()[2] == expected.answered
        assert queue.wait_abandoned.cumulative()[2] == expected.abandons
    members = {
        (queue.name, member.interface): (member.status, member.paused, member.in_call, member.calls_taken)
        for queue in pbx.queues.queues.values()
        for member in queue.members.values()
    }
    assert members == {
        key: (m.status, m.paused, m.in_call, m.calls_taken) for key, m in reporting_run.truth.members.items()
    }


async def test_agent_counters_and_states_equal_the_truth(reporting_run: Run) -> None:
    """Per (queue, member): calls answered and missed and talk time exactly, the agent state
    exactly, time paused by reason within one step per pause."""
    truth, pbx = reporting_run.truth, reporting_run.service.pbx
    now = pbx.monotonic()
    for (queue, interface), expected in truth.members.items():
        member = pbx.queues.queues[queue].members[interface]
        record = member.agent
        assert (record.answered, record.ring_noanswer, record.talk_seconds) == (
            expected.answered,
            expected.ring_noanswer,
            expected.talk_seconds,
        ), (queue, interface)
        state = AGENT_STATES[record.current(member, now)[0]]
        assert state == expected.state, (queue, interface)
        ours = record.paused_totals(now)
        assert set(ours) == {reason or NO_REASON for reason in expected.paused_seconds}, (queue, interface)
        for reason, seconds in expected.paused_seconds.items():
            assert abs(ours[reason or NO_REASON] - seconds) <= STEP * expected.pauses[reason], (queue, reason)
    members = truth.members.values()
    assert sum(m.answered for m in members) > 100 and sum(m.ring_noanswer for m in members) > 10
    reasons = {reason for m in members for reason in m.paused_seconds}
    assert len(reasons) >= 3, reasons
    # During the run, every STATE_CHECK seconds, every member was in the state the truth says.
    assert reporting_run.state_mismatches == []
    assert {"available", "on_call", "wrapup", "paused"} <= set(reporting_run.states_seen), (
        reporting_run.states_seen
    )


async def test_channels_cdr_and_security_equal_the_truth(reporting_run: Run) -> None:
    truth, pbx = reporting_run.truth, reporting_run.service.pbx
    assert set(pbx.channels.channels) == set(truth.channels)
    assert pbx.channels.bridges == set(truth.bridges)
    expected_cdr = {
        CDR_DISPOSITIONS.get(name, "unknown"): count for name, count in truth.cdr_dispositions.items()
    }
    assert pbx.system.cdr_totals() == expected_cdr
    assert pbx.system.cdr_billable_seconds == truth.cdr_billable_seconds
    received = truth.sessions[reporting_run.session_id].events
    assert pbx.events == received
    security: Counter[str] = Counter()
    for (event, _service), count in pbx.system.security.items():
        security[event] += count
    assert dict(security) == {name: count for name, count in received.items() if name in SECURITY_EVENTS}
    # The exporter's own session caused no RequestNotAllowed (nor RequestBadFormat).
    assert security["RequestNotAllowed"] == 0
    assert security["RequestBadFormat"] == 0


async def test_sip_endpoints_and_registrations_equal_the_truth(reporting_run: Run) -> None:
    """write=reporting: endpoints from DeviceStateList where the device state says (idle) and
    PeerStatus otherwise, trunk registrations named by PJSIPShowRegistrationsOutbound; contacts
    only as far as their changes were seen."""
    truth, pbx = reporting_run.truth, reporting_run.service.pbx
    states = {name: endpoint.state for name, endpoint in pbx.endpoints.endpoints.items()}
    assert states == truth.endpoints
    assert pbx.registrations.named() == truth.registrations
    contacts = pbx.endpoints.contacts.contacts.values()
    assert {c.endpoint: c.status for c in contacts} == {
        name: status for name, status in truth.contacts.items() if name in {c.endpoint for c in contacts}
    }
    assert truth.emitted.get("PeerStatus", 0) > 0, "phones should come and go during the run"


async def test_only_permitted_read_only_actions_were_sent(reporting_run: Run) -> None:
    sent = set(reporting_run.service.sent_actions)
    assert sent <= READ_ONLY_ACTIONS
    assert {"QueueStatus", "CoreShowChannels", "CoreSettings"} <= sent


async def test_read_only_user_gets_queue_truth_without_privileged_actions(tmp_path: Path) -> None:
    async for run in run_call_centre("exporter", tmp_path):
        truth, pbx = run.truth, run.service.pbx
        for name, expected in truth.queues.items():
            assert pbx.queues.queues[name].count == expected.waiting
            assert pbx.queues.queues[name].joins == expected.joins
        sent = set(run.service.sent_actions)
        assert not sent & {"CoreShowChannels", "CoreSettings", "CoreStatus"}
        assert pbx.system.security.get(("RequestNotAllowed", "AMI"), 0) == 0
        # Channels seen starting since we connected: exactly the simulator's live ones.
        assert set(pbx.channels.channels) == set(truth.channels)
