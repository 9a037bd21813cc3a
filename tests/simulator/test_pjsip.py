"""The simulator's PJSIP: phones, softphones, trunk and outbound registrations behave as the
``f-pjsip`` recording shows (shapes: ``test_shapes.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ami_exporter.simulator import Simulator
from ami_exporter.simulator.config import PjsipConfig
from ami_exporter.simulator.pjsip import SipPlant

from .conftest import RawClient, quiet_config

PJSIP = PjsipConfig(phones=("reception",), softphones=("mobile1",), phones_down=("ivy",))


@pytest.fixture
async def sip_sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(quiet_config(pjsip=PJSIP))
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def sip_admin(sip_sim: Simulator) -> AsyncIterator[RawClient]:
    client = await RawClient.connect(sip_sim.port)
    await client.login("admin", "adminsecret")
    yield client
    await client.close()


def _plant(sim: Simulator) -> SipPlant:
    assert sim.model.sip is not None
    return sim.model.sip


async def test_a_member_phone_that_drops_off_becomes_unavailable(
    sip_sim: Simulator, sip_admin: RawClient
) -> None:
    start = len(sip_admin.messages)
    _plant(sip_sim).set_phone("hank", False)
    await sip_admin.wait_for(lambda m: m.name == "QueueMemberStatus", start=start)
    names = [
        (
            m.name,
            m.fields.get("PeerStatus")
            or m.fields.get("ContactStatus")
            or m.fields.get("State")
            or m.fields.get("Status"),
        )
        for m in sip_admin.messages[start:]
    ]
    assert names == [
        ("PeerStatus", "Unreachable"),
        ("ContactStatus", "Unreachable"),
        ("DeviceStateChange", "UNAVAILABLE"),
        ("QueueMemberStatus", "5"),
    ]
    contact = sip_admin.messages[start + 1].fields
    assert contact["RoundtripUsec"] == "0" and contact["URI"].startswith("sip:hank@")
    assert sip_sim.truth().members["sales", "PJSIP/hank"].status == 5


async def test_a_phone_down_at_start_is_unavailable_and_not_rung(
    sip_sim: Simulator, sip_admin: RawClient
) -> None:
    assert sip_sim.truth().members["sales", "PJSIP/ivy"].status == 5
    items = await sip_admin.request_list("PJSIPShowEndpoint", Endpoint="ivy")
    (detail,) = [m for m in items if m.name == "ContactStatusDetail"]
    assert (detail.fields["Status"], detail.fields["ID"].startswith("ivy@@")) == ("Unreachable", True)
    start = len(sip_admin.messages)
    _plant(sip_sim).set_phone("ivy", True)
    await sip_admin.wait_for(lambda m: m.name == "QueueMemberStatus", start=start)
    assert sip_sim.truth().members["sales", "PJSIP/ivy"].status == 1


async def test_softphone_registration_and_the_irregular_empty_contact_list(
    sip_sim: Simulator, sip_admin: RawClient
) -> None:
    raw_start = len(sip_admin.raw)
    reply = await sip_admin.request("PJSIPShowContacts")
    assert reply.fields["Message"] == "No Contacts found"
    assert b"Message: No Contacts found\n\r\n\r\n" in bytes(sip_admin.raw[raw_start:])
    start = len(sip_admin.messages)
    _plant(sip_sim).register("mobile1")
    await sip_admin.wait_for(lambda m: m.name == "DeviceStateChange", start=start)
    assert [
        m.fields.get("ContactStatus") for m in sip_admin.messages[start:] if m.name == "ContactStatus"
    ] == ["NonQualified"]
    items = await sip_admin.request_list("PJSIPShowContacts")
    (contact,) = [m for m in items if m.name == "ContactList"]
    assert contact.fields["ObjectName"].startswith("mobile1;@") and contact.fields["Status"] == "NonQualified"
    endpoints = {
        m.fields["ObjectName"]: m.fields
        for m in await sip_admin.request_list("PJSIPShowEndpoints")
        if m.name == "EndpointList"
    }
    assert endpoints["mobile1"]["Contacts"].startswith("mobile1/sip:mobile1@")
    assert endpoints["trunk"]["DeviceState"] == "Unavailable" and "Contacts" not in endpoints["trunk"]
    assert endpoints["ivy"]["DeviceState"] == "Unavailable"
    start = len(sip_admin.messages)
    _plant(sip_sim).unregister("mobile1")
    removed = await sip_admin.wait_for(lambda m: m.name == "ContactStatus", start=start)
    assert removed.fields["ContactStatus"] == "Removed"


async def test_outbound_registration_fails_and_recovers(sip_sim: Simulator, sip_admin: RawClient) -> None:
    start = len(sip_admin.messages)
    _plant(sip_sim).set_registration("trunk-provider", "Rejected")
    event = await sip_admin.wait_for(lambda m: m.name == "Registry", start=start)
    assert (event.fields["ChannelType"], event.fields["Status"]) == ("PJSIP", "Rejected")
    items = await sip_admin.request_list("PJSIPShowRegistrationsOutbound")
    (detail,) = [m for m in items if m.name == "OutboundRegistrationDetail"]
    assert (detail.fields["ObjectName"], detail.fields["Status"]) == ("trunk-provider", "Rejected")
    assert items[-1].fields["NotRegistered"] == "1"


async def test_privileges_of_the_pjsip_actions(sip_sim: Simulator) -> None:
    rep = await RawClient.connect(sip_sim.port)
    await rep.login("exporter_rep", "exportersecret")
    listed = {key for key, _ in (await rep.request("ListCommands")).headers}
    # write=reporting may list outbound registrations, and may also act: qualify, (un)register.
    assert {"PJSIPShowRegistrationsOutbound", "PJSIPQualify", "PJSIPRegister", "PJSIPUnregister"} <= listed
    assert not {"PJSIPShowEndpoints", "PJSIPShowContacts", "PJSIPShowEndpoint"} & listed
    reply = await rep.request("PJSIPShowEndpoints")
    assert reply.fields["Message"] == "Permission denied"
    await rep.close()


async def test_without_pjsip_there_are_no_pjsip_actions(sim: Simulator, admin: RawClient) -> None:
    listed = {key for key, _ in (await admin.request("ListCommands")).headers}
    assert not any(name.startswith("PJSIP") for name in listed)
    assert sim.model.sip is None
