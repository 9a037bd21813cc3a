"""The AMI session against recorded Asterisk exchanges served over real TCP."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from ami_exporter.ami.actions import ForbiddenActionError
from ami_exporter.ami.client import AuthenticationError, ConnectionLostError, DisconnectReason, Session
from ami_exporter.ami.protocol import Message

from ..support.captures import parse_actions
from ..support.replay import Play, Reset, replay_server


def _ignore(message: Message) -> None:
    pass


async def test_md5_challenge_login_sends_the_recorded_key() -> None:
    async with replay_server(
        [Play("a2-challenge-login/exporter.rx.raw", "a2-challenge-login/exporter.tx.raw")]
    ) as server:
        session = await Session.connect("127.0.0.1", server.port, _ignore)
        assert session.ami_version == "11.0.0"
        method = await session.login("exporter", "exportersecret", auth="md5", events="off")
        assert method == "md5"
        assert session.logged_in
        login = next(action for action in server.actions if action["Action"] == "Login")
        recorded = next(
            action
            for action in parse_actions("a2-challenge-login/exporter.tx.raw")
            if action["Action"] == "Login"
        )
        assert login["Key"] == recorded["Key"]
        assert "Secret" not in login  # the secret never crosses the wire with MD5
        session.close()


async def test_md5_key_is_md5_of_challenge_and_secret() -> None:
    async with replay_server(
        [Play("a2-challenge-login/exporter.rx.raw", "a2-challenge-login/exporter.tx.raw")]
    ) as server:
        session = await Session.connect("127.0.0.1", server.port, _ignore)
        await session.login("exporter", "exportersecret", auth="md5", events="off")
        login = next(action for action in server.actions if action["Action"] == "Login")
        assert login["Key"] == hashlib.md5(b"381904290" + b"exportersecret").hexdigest()
        session.close()


async def test_plain_login_and_logoff() -> None:
    plan = [Play("e-failed-login/exporter-ok.rx.raw", "e-failed-login/exporter-ok.tx.raw", skip=frozenset())]
    async with replay_server(plan) as server:
        session = await Session.connect("127.0.0.1", server.port, _ignore)
        assert await session.login("exporter", "exportersecret", auth="plain") == "plain"
        login = server.actions[0]
        assert login["Events"] == "system,call,agent,cdr,security"
        await session.logoff()
        assert await asyncio.wait_for(session.closed, 2) is DisconnectReason.EOF
        assert [a["Action"] for a in server.actions] == ["Login", "Logoff"]


@pytest.mark.parametrize(
    ("capture", "auth"),
    [
        ("exporter-wrong-secret", "plain"),
        ("unknown-user", "plain"),
        ("exporter-from-127.0.0.2", "plain"),
        ("exporter-bad-md5", "md5"),
    ],
)
async def test_failed_login_raises_and_server_closes(capture: str, auth: str) -> None:
    plan = [
        Play(f"e-failed-login/{capture}.rx.raw", f"e-failed-login/{capture}.tx.raw", close_at_end=True,
             delay_before={"Login": 0.2})
    ]  # fmt: skip
    async with replay_server(plan) as server:
        session = await Session.connect("127.0.0.1", server.port, _ignore)
        with pytest.raises(AuthenticationError, match="Authentication failed"):
            await session.login("exporter", "wrong", auth=auth)
        assert not session.logged_in
        await asyncio.wait_for(session.closed, 2)


async def test_reset_before_banner_is_a_connection_error() -> None:
    async with replay_server([Reset()]) as server:
        with pytest.raises((ConnectionLostError, ConnectionError)):
            await Session.connect("127.0.0.1", server.port, _ignore, timeout=2)


async def test_actions_outside_the_allowlist_are_never_sent() -> None:
    plan = [Play("e-failed-login/exporter-ok.rx.raw", "e-failed-login/exporter-ok.tx.raw", skip=frozenset())]
    async with replay_server(plan) as server:
        session = await Session.connect("127.0.0.1", server.port, _ignore)
        await session.login("exporter", "exportersecret", auth="plain")
        for action in ("QueueReset", "QueueReload", "Command", "Originate", "BridgeKick", "Redirect"):
            with pytest.raises(ForbiddenActionError):
                await session.action(action)
        permitted = await session.discover_permitted()
        assert "QueueStatus" in permitted and "CoreStatus" not in permitted
        # Allowlisted but not permitted for this user: refused locally, no RequestNotAllowed.
        with pytest.raises(ForbiddenActionError):
            await session.action("CoreStatus")
        assert [a["Action"] for a in server.actions] == ["Login", "ListCommands"]
        session.close()


async def test_list_action_collects_items_until_complete() -> None:
    plan = [Play("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")]
    async with replay_server(plan) as server:
        events: list[Message] = []
        session = await Session.connect("127.0.0.1", server.port, events.append)
        await session.login("exporter", "exportersecret", auth="plain", events="on")
        reply = await session.list_action("QueueStatus")
        assert reply.complete is not None
        assert int(reply.complete.fields["ListItems"]) == len(reply.items) == 11  # 3 queues, 8 members
        assert {item.name for item in reply.items} == {"QueueParams", "QueueMember"}
        # List items never reach the event callback; the FullyBooted and SuccessfulAuth events do.
        assert {event.name for event in events} >= {"FullyBooted", "SuccessfulAuth"}
        # Events with other clients' ActionIDs (OriginateResponse: admin-6) are events; ours never are.
        ours = [e for e in events if (e.fields.get("ActionID") or "").startswith("amiexp-")]
        assert ours == []
        session.close()
