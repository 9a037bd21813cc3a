"""The SIP snapshots of a reconcile (``ami_exporter/sip_snapshots.py``) against the simulator over
TCP, for each kind of AMI user: what an exporter that logs in while phones are already down
reports at once, and what it may never send."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService
from ami_exporter.simulator import Simulator, SimulatorConfig, UserConfig
from ami_exporter.simulator.config import EXPORTER_READ, PjsipConfig, default_users

from .conftest import ServiceFactory, wait_for
from .support.scripted import (
    READ_ONLY_COMMANDS,
    ScriptedSession,
    default_handler,
    event,
    list_reply,
    scripted_server,
)

# Every member phone and the extra one are down before the exporter starts; mobile1 is not
# registered, the trunk has no contact.
PHONES_DOWN = ("hank", "ivy", "judy", "ken", "leo", "reception")
ACTING = {"PJSIPQualify", "PJSIPRegister", "PJSIPUnregister"}
USERS = (
    *default_users(),
    UserConfig("exporter_sys", "exportersecret", read=EXPORTER_READ, write="system,reporting"),
)


def config(**pjsip: object) -> SimulatorConfig:
    values: dict[str, object] = {
        "phones": ("reception",),
        "softphones": ("mobile1",),
        "phones_down": PHONES_DOWN,
    }
    values.update(pjsip)
    return dataclasses.replace(
        SimulatorConfig.demo(),
        pjsip=PjsipConfig(**values),  # type: ignore[arg-type]
        users=USERS,
        call_rate=0.0,
        pause_interval=0.0,
        scanner_rate=0.0,
        time_scale=0.0,
    )


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(config())
    await simulator.start()
    yield simulator
    await simulator.stop()


def sent(sim: Simulator, user: str) -> dict[str, int]:
    actions: dict[str, int] = {}
    for session in sim.truth().sessions.values():
        if session.user == user:
            for name, count in session.actions.items():
                actions[name] = actions.get(name, 0) + count
    return actions


async def reconciled(service: AMIService, times: int = 1) -> None:
    await wait_for(lambda: service.status.reconciles >= times, timeout=10)


async def test_system_user_reports_phones_that_were_down_before_it_started(
    sim: Simulator, running_service: ServiceFactory
) -> None:
    pbx = PBX()
    async with running_service(sim.port, pbx=pbx, username="exporter_sys", reconcile_interval=0.1) as service:
        await reconciled(service)
        book = pbx.endpoints
        # 6 phones down + mobile1 (not registered) + the trunk, at once.
        assert book.count_by_state() == {"reachable": 0, "unreachable": 8, "unknown": 0}
        # Static contacts are only in PJSIPShowEndpoint: one per phone, at login.
        assert book.contacts.by_state() == {
            "reachable": 0,
            "unreachable": 6,
            "non_qualified": 0,
            "unknown": 0,
        }
        assert sent(sim, "exporter_sys")["PJSIPShowEndpoint"] == 6
        assert {
            m.status
            for q in pbx.queues.queues.values()
            for i, m in q.members.items()
            if i.startswith("PJSIP/")
        } == {5}
        await reconciled(service, 3)
        assert sent(sim, "exporter_sys")["PJSIPShowEndpoint"] == 6  # events keep them current now
        sip = sim.model.sip
        assert sip is not None
        sip.set_phone("hank", True)
        sip.register("mobile1")
        await wait_for(lambda: book.contacts.by_state()["non_qualified"] == 1)
        assert book.count_by_state()["reachable"] == 2
        assert book.contacts.by_state()["reachable"] == 1
        assert not ACTING & set(sent(sim, "exporter_sys"))


async def test_a_reconnect_asks_again_for_static_contacts(
    sim: Simulator, running_service: ServiceFactory
) -> None:
    pbx = PBX()
    async with running_service(sim.port, pbx=pbx, username="exporter_sys", reconcile_interval=0.1) as service:
        await reconciled(service)
        sip = sim.model.sip
        assert sip is not None
        sim.drop_mid_frame()  # events sent while we are away are missed
        sip.set_phone("judy", True)
        await wait_for(lambda: service.status.logins["success"] == 2)
        await wait_for(lambda: pbx.endpoints.endpoints["PJSIP/judy"].state == "reachable")
        await wait_for(lambda: pbx.endpoints.contacts.by_state()["reachable"] == 1)
        # Every static phone asked about again in the new session (6 + 6), then no more.
        await wait_for(lambda: sent(sim, "exporter_sys").get("PJSIPShowEndpoint", 0) >= 12)
        done = service.status.reconciles
        await wait_for(lambda: service.status.reconciles >= done + 2)
        assert sent(sim, "exporter_sys")["PJSIPShowEndpoint"] == 12
        assert pbx.corrections["contact"] >= 1 and pbx.corrections["endpoint"] >= 1


async def test_reporting_user_sees_endpoints_down_but_no_contacts(
    sim: Simulator, running_service: ServiceFactory
) -> None:
    """docs/asterisk-notes.md: DeviceStateList says an idle endpoint is offline (UNAVAILABLE);
    contacts need write=system."""
    pbx = PBX()
    async with running_service(sim.port, pbx=pbx, username="exporter_rep", reconcile_interval=0.1) as service:
        await reconciled(service, 2)
        assert pbx.endpoints.count_by_state() == {"reachable": 0, "unreachable": 8, "unknown": 0}
        assert sum(pbx.endpoints.contacts.by_state().values()) == 0
        assert pbx.registrations.named() == {"trunk-provider": "registered"}
        actions = sent(sim, "exporter_rep")
        assert {"DeviceStateList", "PJSIPShowRegistrationsOutbound"} <= set(actions)
        assert not {"PJSIPShowEndpoints", "PJSIPShowContacts", "PJSIPShowEndpoint"} & set(actions)
        # ListCommands lists them for this user; the allowlist keeps them out.
        assert not ACTING & set(actions)


async def test_write_less_user_sees_only_changes(sim: Simulator, running_service: ServiceFactory) -> None:
    pbx = PBX()
    async with running_service(sim.port, pbx=pbx, username="exporter", reconcile_interval=0.1) as service:
        await reconciled(service, 2)
        assert pbx.endpoints.endpoints == {}
        sip = sim.model.sip
        assert sip is not None
        sip.set_phone("leo", True)
        await wait_for(lambda: pbx.endpoints.count_by_state()["reachable"] == 1)
        assert pbx.endpoints.contacts.by_state()["reachable"] == 1


async def test_a_failing_trunk_registration(sim: Simulator, running_service: ServiceFactory) -> None:
    pbx = PBX()
    async with running_service(sim.port, pbx=pbx, username="exporter_rep", reconcile_interval=0.1) as service:
        await reconciled(service)
        sip = sim.model.sip
        assert sip is not None
        sip.set_registration("trunk-provider", "Rejected")
        await wait_for(lambda: pbx.registrations.named() == {"trunk-provider": "rejected"})
        assert pbx.registrations.by_state()["rejected"] == 1
        sip.set_registration("trunk-provider", "Registered")
        await wait_for(lambda: pbx.registrations.named() == {"trunk-provider": "registered"})
        assert pbx.corrections["registration"] == 1  # the first snapshot named it; nothing since


# -- a SIP snapshot lands where its Complete is in the stream --------------------------------------


async def test_device_list_lands_before_the_phone_that_comes_back_right_after_it(
    running_service: ServiceFactory,
) -> None:
    """The phone answered a qualify while Asterisk wrote the list: its PeerStatus, ContactStatus
    and DeviceStateChange follow the Complete in the same write, and must win over the list."""
    commands = (*READ_ONLY_COMMANDS, "DeviceStateList")
    base = default_handler(commands)
    lists = 0

    def handler(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        nonlocal lists
        if action.get("Action") != "DeviceStateList":
            return base(session, action)
        lists += 1
        item = event(
            "DeviceStateChange",
            ("ActionID", action["ActionID"]),
            ("Device", "PJSIP/2003"),
            ("State", "UNAVAILABLE"),
        )
        data = list_reply(action, "DeviceStateListComplete", [item])
        if lists == 1:
            data += (
                event(
                    "PeerStatus",
                    ("Privilege", "system,all"),
                    ("ChannelType", "PJSIP"),
                    ("Peer", "PJSIP/2003"),
                    ("PeerStatus", "Reachable"),
                )
                + event(
                    "ContactStatus",
                    ("Privilege", "system,all"),
                    ("URI", "sip:2003@h"),
                    ("ContactStatus", "Reachable"),
                    ("AOR", "2003"),
                    ("EndpointName", "2003"),
                    ("RoundtripUsec", "543"),
                )
                + event(
                    "DeviceStateChange",
                    ("Privilege", "call,all"),
                    ("Device", "PJSIP/2003"),
                    ("State", "NOT_INUSE"),
                )
            )
        else:  # the next lists say what the events said
            data = data.replace(b"UNAVAILABLE", b"NOT_INUSE")
        return data

    pbx = PBX()
    async with (
        scripted_server(handler) as server,
        running_service(server.port, pbx=pbx, reconcile_interval=10.0) as service,
    ):
        await wait_for(lambda: service.status.reconciles >= 1)
        await wait_for(lambda: pbx.events.get("DeviceStateChange", 0) == 1)
        assert pbx.endpoints.endpoints["PJSIP/2003"].state == "reachable"
        assert pbx.endpoints.devices == {"PJSIP/2003": "not_in_use"}
        assert pbx.corrections["device"] == 1 and pbx.corrections["endpoint"] == 1  # first sight only
