"""``--ami.auth`` through the reconnecting service: what is logged, counted and exported.

The simulator's ``challenge=False`` refuses ``Challenge`` like an AMI proxy that lacks it; the
sessions are dropped a few times so that the service logs in again and again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from ami_exporter.collectors import build_registry
from ami_exporter.secret import SecretSource
from ami_exporter.simulator import Simulator, SimulatorConfig

from .conftest import ServiceFactory, wait_for

FALLBACK = "refused the MD5 challenge, so the secret was sent in plain text"


@pytest.fixture
async def no_challenge() -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig(challenge=False, time_scale=0, auth_failure_delay=0.0))
    await sim.start(traffic=False)
    try:
        yield sim
    finally:
        await sim.stop()


async def test_auto_falls_back_to_plain_and_says_so_once(
    no_challenge: Simulator, running_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="ami_exporter")  # whatever an earlier test left
    secret = SecretSource(value="exportersecret")
    async with running_service(no_challenge.port, auth="auto", secret=secret) as service:
        status = service.status
        for logins in (1, 2, 3):

            def logged_in(n: int = logins) -> bool:
                return status.up and status.logins["success"] == n

            await wait_for(logged_in)
            if logins < 3:
                assert no_challenge.drop_mid_frame() == 1
                await wait_for(lambda: not service.status.up)
    warnings = [r for r in caplog.records if FALLBACK in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING
    assert "--ami.auth plain" in warnings[0].getMessage()


async def test_md5_refuses_the_fallback_with_one_clear_error(
    no_challenge: Simulator, running_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="ami_exporter")  # whatever an earlier test left
    secret = SecretSource(value="exportersecret")
    async with running_service(no_challenge.port, auth="md5", secret=secret) as service:
        registry = build_registry(service.pbx, service.status)
        await wait_for(lambda: service.status.logins["auth_failed"] >= 3)
        assert registry.get_sample_value("asterisk_up") == 0
        assert service.status.logins["success"] == 0
    # Each attempt sent a Challenge and never a Login: the secret did not cross the wire.
    assert {action for stats in no_challenge.session_stats.values() for action in stats.actions} == {
        "Challenge"
    }
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert "refused the MD5 challenge" in errors[0] and "--ami.auth auto or plain" in errors[0]
    assert not any(FALLBACK in r.getMessage() for r in caplog.records)
