"""Every event and list item the simulator writes has a header sequence seen in the real captures.

Shapes are derived from every ``*.rx.raw`` of the Asterisk 22.10.1 captures: per (name, kind),
the set of ordered header-name tuples (kind = async event, or list item when the message has no
``Privilege`` or the hard-coded ``Privilege: Call`` of Status items). Shapes that the captures
cannot show (PJSIP security events, whose optional fields differ) are checked against the field
tables of Asterisk's ``main/security_events.c`` (``sec_events[]``) instead.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict

from ami_exporter.ami.protocol import Decoder, Kind, Message
from ami_exporter.simulator import Simulator
from ami_exporter.simulator.config import PjsipConfig

from ..support.captures import CAPTURES
from .conftest import RawClient, quiet_config

Shape = tuple[str, ...]

# main/security_events.c: common fields in order, the event's own fields (required and optional),
# optional SessionTV.
SECURITY_COMMON = (
    "Privilege",
    "EventTV",
    "Severity",
    "Service",
    "EventVersion",
    "AccountID",
    "SessionID",
    "LocalAddress",
    "RemoteAddress",
)
# Not in any recording (f-pjsip has no outbound registration): docs/asterisk-notes.md for
# Registry, res_pjsip_outbound_registration.c for the list (its fields are a sorcery object set,
# whose order Asterisk does not fix, then Status and NextReg; the completion counts Registered
# and NotRegistered instead of ListItems).
TABLE_SHAPES: dict[tuple[str, str], set[Shape]] = {
    ("Registry", "event"): {("Privilege", "ChannelType", "Username", "Domain", "Status")},
    ("OutboundRegistrationDetail", "item"): {
        (
            "ActionID",
            "ObjectType",
            "ObjectName",
            "ServerUri",
            "ClientUri",
            "Transport",
            "Expiration",
            "RetryInterval",
            "MaxRetries",
            "OutboundAuth",
            "Status",
            "NextReg",
        )
    },
    ("OutboundRegistrationDetailComplete", "item"): {
        ("ActionID", "EventList", "Registered", "NotRegistered")
    },
}
SECURITY_EXTRA = {
    "InvalidAccountID": (),
    "FailedACL": ("ACLName",),
    "InvalidPassword": ("Challenge", "ReceivedChallenge", "ReceivedHash"),
    "ChallengeResponseFailed": ("Challenge", "Response", "ExpectedResponse"),
}

FOLDED_TYPES = {
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "QueueMemberStatus",
    "QueueMemberPause",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "Newchannel",
    "Newstate",
    "Hangup",
    "DialBegin",
    "DialEnd",
    "BridgeCreate",
    "BridgeEnter",
    "BridgeLeave",
    "BridgeDestroy",
    "Cdr",
    "FullyBooted",
    "Shutdown",
    "Reload",
    "SuccessfulAuth",
    "InvalidPassword",
    "InvalidAccountID",
    "FailedACL",
    "ChallengeResponseFailed",
    "RequestNotAllowed",
    "RequestBadFormat",
    "QueueParams",
    "QueueMember",
    "QueueEntry",
    "QueueStatusComplete",
    "QueueSummary",
    "QueueSummaryComplete",
    "CoreShowChannel",
    "CoreShowChannelsComplete",
    "PeerStatus",
    "ContactStatus",
    "Registry",
    "DeviceStateChange",
    "EndpointList",
    "EndpointListComplete",
    "ContactList",
    "ContactListComplete",
    "EndpointDetail",
    "TransportDetail",
    "AorDetail",
    "ContactStatusDetail",
    "EndpointDetailComplete",
    "OutboundRegistrationDetail",
    "OutboundRegistrationDetailComplete",
}
PJSIP = PjsipConfig(
    phones=("reception",),
    softphones=("mobile1", "mobile2"),
    flap_interval=120.0,
    down_time=(10.0, 30.0),
    register_interval=60.0,
    registration_failure_interval=100.0,
    registration_retry=20.0,
)


def _key(message: Message) -> tuple[str, str]:
    privilege = message.fields.get("Privilege")
    kind = "item" if privilege is None or privilege == "Call" else "event"
    return message.name, kind


def _shape(message: Message) -> Shape:
    return tuple(key for key, _ in message.headers[1:])


def captured_shapes() -> dict[tuple[str, str], set[Shape]]:
    shapes: dict[tuple[str, str], set[Shape]] = defaultdict(set)
    paths = sorted(CAPTURES.rglob("*.rx.raw"))
    assert paths, f"no captures under {CAPTURES}: the shapes cannot be checked"
    for path in paths:
        for message in Decoder(max_frame_bytes=8 * 1024 * 1024).feed(path.read_bytes()):
            if message.kind is Kind.EVENT:
                shapes[_key(message)].add(_shape(message))
    return shapes


def _security_shape_ok(name: str, shape: Shape) -> bool:
    if name not in SECURITY_EXTRA or shape[: len(SECURITY_COMMON)] != SECURITY_COMMON:
        return False
    rest = list(shape[len(SECURITY_COMMON) :])
    if rest and rest[-1] == "SessionTV":
        rest.pop()
    allowed = list(SECURITY_EXTRA[name])
    return rest == [field for field in allowed if field in rest]


async def _pjsip_lists(admin: RawClient, sim: Simulator) -> None:
    """Every PJSIP list, with and without registered contacts, for every kind of endpoint."""
    assert sim.model.sip is not None
    await admin.request_list("PJSIPShowEndpoints")
    await admin.request_list("PJSIPShowRegistrationsOutbound")
    for name in ("hank", "reception", "mobile1", "trunk"):
        await admin.request_list("PJSIPShowEndpoint", Endpoint=name)
    if sim.model.sip.registered():
        await admin.request_list("PJSIPShowContacts")
    else:
        reply = await admin.request("PJSIPShowContacts")  # Response: Error, no list
        assert reply.fields["Message"] == "No Contacts found"


async def _exercise(sim: Simulator) -> list[Message]:
    """Run traffic and every action and fault that produces events; return all messages seen."""
    admin = await RawClient.connect(sim.port)
    await admin.login("admin", "adminsecret")
    rep = await RawClient.connect(sim.port)
    await rep.login("exporter_rep", "exportersecret", Events="off")
    sim.model.start_traffic()
    for step in range(60):
        await sim.advance(5)
        if step % 10 == 5:
            for action in ("QueueStatus", "QueueSummary", "CoreShowChannels", "BridgeList", "Status"):
                await rep.request_list(action)
            await rep.request_list("DeviceStateList")
            await rep.request("CoreStatus")
            await rep.request("CoreSettings")
            await _pjsip_lists(admin, sim)
        if step == 30:
            sip = sim.model.sip
            assert sip is not None
            sip.set_phone("hank", False)
            sip.register("mobile1")
            sip.set_registration("trunk-provider", "Rejected")
            await _pjsip_lists(admin, sim)
            sip.set_phone("hank", True)
            sip.unregister("mobile1")
            sip.set_registration("trunk-provider", "Registered")
        if step == 20:
            for kind in SECURITY_EXTRA:
                for service in ("AMI", "PJSIP"):
                    sim.security_event(kind, service)
            await rep.request("Command", Command="core show channels")  # RequestNotAllowed
            await rep.request("Queues")  # RequestBadFormat
            sim.reload("app_queue.so")
        await asyncio.sleep(0.01)
    # failed logins of every kind
    for user, secret in (("exporter", "wrong"), ("nosuchuser", "x")):
        bad = await RawClient.connect(sim.port)
        await bad.login(user, secret)
        await bad.close()
    bad = await RawClient.connect(sim.port)
    challenge = await bad.request("Challenge", AuthType="MD5")
    await bad.request("Login", AuthType="MD5", Username="exporter", Key=hashlib.md5(b"nope").hexdigest())
    assert challenge.fields["Challenge"].isdigit()
    await bad.close()
    await asyncio.sleep(0.05)
    # restart with a slow boot: Shutdown, then the boot-time FullyBooted after a login
    restart = asyncio.ensure_future(sim.restart(reset_for=0.01, refuse_for=0.01, boot_delay=0.2))
    await admin.wait_eof()
    await restart
    again = await RawClient.connect(sim.port)
    await again.login("admin", "adminsecret")
    await again.wait_for(lambda m: m.name == "FullyBooted" and m.fields.get("Status") == "Fully Booted", 3)
    messages = admin.messages + rep.messages + again.messages
    for client in (admin, rep, again):
        await client.close()
    return messages


async def test_every_emitted_shape_was_seen_in_the_captures() -> None:
    captured = captured_shapes()
    assert len(captured) >= 55
    sim = Simulator(quiet_config(pause_interval=60.0, call_rate=0.5, pjsip=PJSIP))
    await sim.start(traffic=False)
    try:
        messages = await _exercise(sim)
    finally:
        await sim.stop()
    emitted: dict[tuple[str, str], set[Shape]] = defaultdict(set)
    for message in messages:
        if message.kind is Kind.EVENT:
            emitted[_key(message)].add(_shape(message))
    problems = []
    table_checked = 0
    for key, shapes in sorted(emitted.items()):
        for shape in shapes:
            if shape in captured.get(key, set()) or shape in TABLE_SHAPES.get(key, set()):
                continue
            if key[1] == "event" and _security_shape_ok(key[0], shape):
                table_checked += 1
                continue
            problems.append(f"{key}: {shape}")
    assert not problems, "\n".join(problems)
    names = {name for name, _ in emitted}
    assert names >= FOLDED_TYPES, sorted(FOLDED_TYPES - names)
    # both FullyBooted orders and PJSIP security shapes that only the table can check
    assert emitted["FullyBooted", "event"] == captured["FullyBooted", "event"]
    assert table_checked >= 2
    assert len(emitted) >= 50
