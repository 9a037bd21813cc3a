"""Outbound registrations. No recording has one (f-pjsip has no ``registration`` section), so the
``Registry`` event follows the field table of docs/asterisk-notes.md and
``OutboundRegistrationDetail`` Asterisk's ``res_pjsip_outbound_registration.c``."""

from __future__ import annotations

from ami_exporter.pbx import PBX

CLIENT = "sip:4930123@sip.provider.example"
SERVER = "sip:sip.provider.example"


def detail(name: str, status: str, client: str = CLIENT, server: str = SERVER) -> dict[str, str]:
    return {
        "Event": "OutboundRegistrationDetail",
        "ObjectType": "registration",
        "ObjectName": name,
        "ServerUri": server,
        "ClientUri": client,
        "Status": status,
        "NextReg": "3540",
    }


def test_registry_events_of_every_driver_count_by_state() -> None:
    pbx = PBX()
    pbx.apply(
        "Registry", {"ChannelType": "PJSIP", "Username": CLIENT, "Domain": SERVER, "Status": "Registered"}
    )
    pbx.apply(
        "Registry",
        {"ChannelType": "SIP", "Username": "alice", "Domain": "192.0.2.1", "Status": "Request Sent"},
    )
    pbx.apply(
        "Registry", {"ChannelType": "IAX2", "Username": "b", "Domain": "h", "Status": "Timeout", "Cause": "x"}
    )
    assert pbx.registrations.by_state() == {
        "registered": 1,
        "unregistered": 0,
        "rejected": 0,
        "failed": 0,
        "stopped": 0,
        "request_sent": 1,
        "timeout": 1,
    }
    # Registry names no registration and its fields are URIs: no per-registration series yet.
    assert pbx.registrations.named() == {}


def test_snapshot_names_registrations_and_events_then_update_them() -> None:
    pbx = PBX()
    pbx.apply(
        "Registry", {"ChannelType": "PJSIP", "Username": CLIENT, "Domain": SERVER, "Status": "Registered"}
    )
    assert (
        pbx.reconcile_registrations(
            [detail("trunk-provider", "Registered"), detail("backup", "Rejected", "sip:b@h")]
        )
        == 1
    )
    assert pbx.registrations.named() == {"trunk-provider": "registered", "backup": "rejected"}
    pbx.apply(
        "Registry", {"ChannelType": "PJSIP", "Username": CLIENT, "Domain": SERVER, "Status": "Rejected"}
    )
    assert pbx.registrations.named()["trunk-provider"] == "rejected"
    # The backup trunk is removed from pjsip.conf: the next snapshot forgets it.
    assert pbx.reconcile_registrations([detail("trunk-provider", "Registered")]) == 2
    assert pbx.registrations.named() == {"trunk-provider": "registered"}
    assert pbx.corrections["registration"] == 3


def test_snapshot_ignores_auth_items_and_leaves_chan_sip_alone() -> None:
    pbx = PBX()
    pbx.apply("Registry", {"ChannelType": "SIP", "Username": "u", "Domain": "h", "Status": "Registered"})
    auth = {"Event": "AuthDetail", "ObjectType": "auth", "ObjectName": "trunk-auth", "Username": "u"}
    pbx.reconcile_registrations([detail("trunk", "Unregistered"), auth])
    assert pbx.registrations.by_state()["registered"] == 1
    assert pbx.registrations.named() == {"trunk": "unregistered"}


def test_registration_labels_are_capped() -> None:
    pbx = PBX(caps={"registration": 2})
    pbx.reconcile_registrations([detail(f"t{n}", "Registered", f"sip:{n}@h") for n in range(4)])
    assert sorted(pbx.registrations.named()) == ["__overflow__", "t0", "t1"]
    assert pbx.caps.overflows["registration"] == 2
