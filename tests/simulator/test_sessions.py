"""Login, privileges, ListCommands and event masks behave like the captured Asterisk 22.10.1."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

import pytest

from ami_exporter.ami.protocol import Decoder, Kind, Message
from ami_exporter.simulator import Simulator

from ..support.captures import capture
from .conftest import RawClient

USERS = {"exporter": "exporter", "exporter_rep": "exporter_rep", "admin-actions": "admin"}
SECRETS = {"exporter": "exportersecret", "exporter_rep": "exportersecret", "admin": "adminsecret"}


def _results() -> dict[str, list[tuple[str, str, str | None]]]:
    out: dict[str, list[tuple[str, str, str | None]]] = {}
    for line in capture("a-login-actions/action-results.txt").read_text().splitlines():
        who, action, rest = line.split(None, 2)
        response = rest.split("Response=", 1)[1].split()[0]
        message_part = rest.split("Message=", 1)[1].rsplit(" messages=", 1)[0]
        message = None if message_part == "None" else message_part.strip("'")
        out.setdefault(USERS[who], []).append((action, response, message))
    return out


def _captured_list_commands(user: str) -> list[tuple[str, str]]:
    conn = {"admin": "admin-actions"}.get(user, user)
    data = capture(f"a-login-actions/{conn}.rx.raw").read_bytes()
    for message in Decoder().feed(data):
        if message.kind is Kind.RESPONSE and len(message.headers) > 15:
            return message.headers[2:]
    raise AssertionError("no ListCommands reply")


def _request_type(wanted: str) -> Callable[[Message], bool]:
    return lambda m: m.fields.get("RequestType") == wanted


@pytest.mark.parametrize("user", ["exporter", "exporter_rep", "admin"])
async def test_action_results_match_the_capture(sim: Simulator, user: str) -> None:
    await sim.place_call("billing", patience=300, answer=False)
    client = await RawClient.connect(sim.port)
    denied = 0
    bad_format = 0
    extra = {"QueueStatus": [{}, {"Queue": "sales"}], "Events": [{"EventMask": "off"}, {"EventMask": "on"}]}
    seen: dict[str, int] = {}
    for action, response, message in _results()[user]:
        index = seen.get(action, 0)
        seen[action] = index + 1
        fields = extra.get(action, [{}, {}])[index]
        if action == "Login":
            reply = await client.login(user, SECRETS[user])
        elif action == "Command":
            reply = await client.request(action, Command="core show channels count")
        else:
            reply = await client.request(action, **fields)
        assert reply.fields["Response"] == response, (action, reply.headers)
        assert reply.fields.get("Message") == message, (action, reply.headers)
        denied += message == "Permission denied"
        bad_format += (message or "").startswith("Invalid/unknown command")
        if action == "ListCommands":
            assert reply.headers[2:] == _captured_list_commands(user)
    await client.wait_eof()
    not_allowed = client.events("RequestNotAllowed")
    assert len(not_allowed) == denied == {"exporter": 8, "exporter_rep": 2, "admin": 0}[user]
    assert all(m.fields["AccountID"] == user for m in not_allowed)
    assert len(client.events("RequestBadFormat")) == bad_format == 1
    await client.close()


async def test_actions_before_login_are_refused_and_reported(sim: Simulator, admin: RawClient) -> None:
    client = await RawClient.connect(sim.port)
    for action in ("CoreStatus", "QueueStatus", "NoSuchAction"):
        reply = await client.request(action)
        assert (reply.fields["Response"], reply.fields["Message"]) == ("Error", "Permission denied")
    events = []
    for name in ("CoreStatus", "QueueStatus", "NoSuchAction"):
        events.append(await admin.wait_for(_request_type(f"Action: {name}")))
    assert all(e.name == "RequestNotAllowed" and e.fields["AccountID"] == "" for e in events)
    assert events[0].fields["SessionTV"] == "1970-01-01T00:00:00.000+0000"
    assert not client.eof
    await client.close()


async def test_plain_login_fullybooted_then_successfulauth(sim: Simulator) -> None:
    client = await RawClient.connect(sim.port)
    reply = await client.login("exporter", "exportersecret")
    assert reply.headers == [
        ("Response", "Success"),
        ("ActionID", "t-1"),
        ("Message", "Authentication accepted"),
    ]
    booted = await client.wait_for(lambda m: m.name == "FullyBooted")
    auth = await client.wait_for(lambda m: m.name == "SuccessfulAuth")
    assert [k for k, _ in booted.headers] == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert client.messages.index(booted) < client.messages.index(auth)
    assert auth.fields["AccountID"] == "exporter" and auth.fields["UsingPassword"] == "0"
    assert client.decoder.feed(b"") == [] and client.raw.startswith(
        b"Asterisk Call Manager/11.0.0\r\nResponse:"
    )
    pong = await client.request("Ping")
    assert pong.fields["Ping"] == "Pong" and abs(float(pong.fields["Timestamp"]) - time.time()) < 5
    bye = await client.request("Logoff")
    assert (bye.fields["Response"], bye.fields["Message"]) == ("Goodbye", "Thanks for all the fish.")
    await client.wait_eof()
    await client.close()


async def test_md5_challenge_login(sim: Simulator) -> None:
    client = await RawClient.connect(sim.port)
    challenge = (await client.request("Challenge", AuthType="MD5")).fields["Challenge"]
    key = hashlib.md5((challenge + "exportersecret").encode()).hexdigest()
    reply = await client.request("Login", AuthType="MD5", Username="exporter", Key=key, Events="off")
    assert reply.fields["Message"] == "Authentication accepted"
    await client.request("Ping")
    assert client.events() == []  # Events: off -> no FullyBooted, no SuccessfulAuth
    await client.close()


@pytest.mark.parametrize(
    ("user", "secret", "md5", "expected"),
    [
        ("exporter", "wrong", False, "InvalidPassword"),
        ("nosuchuser", "x", False, "InvalidAccountID"),
        ("exporter", "wrong", True, "ChallengeResponseFailed"),
    ],
)
async def test_failed_login_delays_closes_and_reports(
    sim: Simulator, admin: RawClient, user: str, secret: str, md5: bool, expected: str
) -> None:
    client = await RawClient.connect(sim.port)
    started = asyncio.get_running_loop().time()
    if md5:
        challenge = (await client.request("Challenge", AuthType="MD5")).fields["Challenge"]
        key = hashlib.md5((challenge + secret).encode()).hexdigest()
        reply = await client.request("Login", AuthType="MD5", Username=user, Key=key)
    else:
        reply = await client.login(user, secret)
    elapsed = asyncio.get_running_loop().time() - started
    assert (reply.fields["Response"], reply.fields["Message"]) == ("Error", "Authentication failed")
    assert elapsed >= sim.config.auth_failure_delay * 0.9
    await client.wait_eof()
    event = await admin.wait_for(lambda m: m.name == expected)
    assert event.fields["SessionTV"] == "1970-01-01T00:00:00.000+0000"
    assert event.fields["AccountID"] == ("" if md5 else user)
    await client.close()


async def test_event_mask_and_read_classes(sim: Simulator) -> None:
    client = await RawClient.connect(sim.port)
    await client.login("exporter", "exportersecret", Events="agent,cdr")
    assert (await client.request("Events", EventMask="")).fields["Message"] == "Invalid event mask"
    await sim.place_call("sales", patience=60, answer=True, ring=1, talk=5)
    await sim.advance(10)
    await client.request("Ping")
    names = {m.name for m in client.events()}
    assert names and names <= {
        "QueueCallerJoin",
        "QueueCallerLeave",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "QueueMemberStatus",
        "Cdr",
    }
    assert (await client.request("Events", EventMask="off")).fields["Events"] == "Off"
    before = len(client.events())
    await sim.place_call("sales", patience=60, answer=True, ring=1, talk=5)
    await sim.advance(10)
    await client.request("Ping")
    assert len(client.events()) == before
    await client.close()


async def test_replies_are_never_interleaved_with_events(sim: Simulator, admin: RawClient) -> None:
    for _ in range(5):
        await sim.place_call("billing", patience=200, answer=False)
    action_id = admin.send("QueueStatus")
    sim.model.start_traffic()
    await sim.advance(30)
    await admin.wait_for(lambda m: m.name == "QueueStatusComplete" and m.fields.get("ActionID") == action_id)
    ids = [i for i, m in enumerate(admin.messages) if m.fields.get("ActionID") == action_id]
    assert ids == list(range(ids[0], ids[-1] + 1))
