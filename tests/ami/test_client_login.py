"""``Session.login`` and its three ``--ami.auth`` modes, against the simulator over real TCP.

``md5`` is the challenge only, ``auto`` the challenge and then a plain login when the server
refuses it, ``plain`` the secret itself. The simulator's ``challenge=False`` answers
``Challenge`` like an AMI proxy that does not implement it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator

import pytest

from ami_exporter.ami.client import AuthenticationError, Session
from ami_exporter.ami.protocol import Message
from ami_exporter.simulator import Simulator, SimulatorConfig

SECRET = "exportersecret"


def _ignore(message: Message) -> None:
    pass


@pytest.fixture(params=[True, False], ids=["challenge-offered", "challenge-refused"])
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig(challenge=request.param, time_scale=0, auth_failure_delay=0.0))
    await sim.start(traffic=False)
    try:
        yield sim
    finally:
        await sim.stop()


def _actions(sim: Simulator) -> list[str]:
    (stats,) = sim.session_stats.values()
    return sorted(stats.actions)


async def test_md5_is_the_challenge_or_a_clear_login_error(simulator: Simulator) -> None:
    session = await Session.connect("127.0.0.1", simulator.port, _ignore)
    try:
        if simulator.config.challenge:
            assert await session.login("exporter", SECRET, auth="md5") == "md5"
            assert session.logged_in and session.login_method == "md5"
        else:
            with pytest.raises(AuthenticationError, match="refused the MD5 challenge") as raised:
                await session.login("exporter", SECRET, auth="md5")
            assert "--ami.auth auto or plain" in str(raised.value)
            assert not session.logged_in and session.login_method is None
            assert _actions(simulator) == ["Challenge"]  # no Login: the secret never left
    finally:
        session.close()


async def test_auto_prefers_md5_and_falls_back_to_plain(simulator: Simulator) -> None:
    session = await Session.connect("127.0.0.1", simulator.port, _ignore)
    try:
        method = await session.login("exporter", SECRET, auth="auto")
        assert session.logged_in
        assert method == session.login_method == ("md5" if simulator.config.challenge else "plain")
        assert _actions(simulator) == ["Challenge", "Login"]
    finally:
        session.close()


async def test_plain_sends_no_challenge(simulator: Simulator) -> None:
    session = await Session.connect("127.0.0.1", simulator.port, _ignore)
    try:
        assert await session.login("exporter", SECRET, auth="plain") == "plain"
        assert _actions(simulator) == ["Login"]
    finally:
        session.close()


async def test_an_unknown_mode_is_refused_before_anything_is_sent(simulator: Simulator) -> None:
    session = await Session.connect("127.0.0.1", simulator.port, _ignore)
    try:
        with pytest.raises(ValueError, match="unknown AMI login method 'MD5'"):
            await session.login("exporter", SECRET, auth="MD5")
        assert not session.logged_in
    finally:
        session.close()


async def test_a_refused_value_leaves_no_reply_future_behind(
    simulator: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    # Before, the reply future was registered before encoding; the ValueError left it pending,
    # and closing the session failed it unseen: asyncio logged "exception was never retrieved".
    caplog.set_level(logging.DEBUG)
    session = await Session.connect("127.0.0.1", simulator.port, _ignore)
    with pytest.raises(ValueError, match="Username"):
        await session.login("bad\nuser", SECRET, auth="plain")
    session.close()
    await asyncio.wait_for(session.closed, 2)
    gc.collect()
    await asyncio.sleep(0)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
