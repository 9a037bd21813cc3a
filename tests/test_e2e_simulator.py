"""The exporter against the simulator for a few simulated minutes: after the last reconcile every
queue gauge and counter equals the simulator's truth.

Simulated time moves only when the test advances it (``time_scale=0``), in half-second steps,
yielding to the event loop in between so the exporter reads as it would from a live PBX.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ami_exporter.ami.actions import READ_ONLY_ACTIONS
from ami_exporter.pbx import PBX
from ami_exporter.pbx.codes import CDR_DISPOSITIONS, SECURITY_EVENTS
from ami_exporter.service import AMIService, SecretSource
from ami_exporter.simulator import Simulator, SimulatorConfig, Truth

from .conftest import make_settings, wait_for

SIMULATED_SECONDS = 240


@dataclass
class Run:
    simulator: Simulator
    service: AMIService
    truth: Truth
    session_id: int


async def run_call_centre(user: str, tmp_path: Path) -> AsyncIterator[Run]:
    simulator = Simulator(
        SimulatorConfig.demo(time_scale=0, seed=11, scanner_rate=1 / 20, pause_interval=120.0)
    )
    await simulator.start(traffic=False)
    settings = make_settings(
        simulator.port,
        tmp_path / "unused",
        username=user,
        secret=SecretSource(value="exportersecret"),
        auth="md5",
        reconcile_interval=0.2,
    )
    service = AMIService(settings, PBX(now=simulator.clock.now, monotonic=simulator.clock.now))
    task = asyncio.create_task(service.run())
    try:
        await wait_for(lambda: service.status.ready, timeout=10)
        simulator.model.start_traffic()
        for _ in range(SIMULATED_SECONDS * 2):
            await simulator.advance(0.5)
            await asyncio.sleep(0.002)
        simulator.model.stop_traffic()
        (session_id,) = [sid for sid, s in simulator.truth().sessions.items() if s.open and s.user == user]

        def delivered() -> bool:
            sent = simulator.truth().sessions[session_id].events
            return sum(sent.values()) == sum(service.pbx.events.values())

        await wait_for(delivered, timeout=20)
        # A reconcile that started after the last event: the snapshot is the final truth.
        target = service.status.reconciles + 2
        await wait_for(lambda: service.status.reconciles >= target, timeout=10)
        yield Run(simulator, service, simulator.truth(), session_id)
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
