"""Endpoints and devices: PeerStatus, ContactStatus and DeviceStateChange as the ``f-pjsip``
recording (Asterisk 22.10.1) shows them, and the ``PJSIPShowEndpoints``/``DeviceStateList``
snapshots from its recorded replies. chan_sip and IAX2 ``PeerStatus`` values are not in any
recording: they come from Asterisk's ``main/stasis_endpoints.c``
(``peerstatus_to_ami()``), as listed in docs/asterisk-notes.md, "Endpoints"."""

from __future__ import annotations

from ami_exporter.pbx import PBX
from ami_exporter.pbx.endpoints import parse_contacts_field, reachability

from ..support.captures import decode_file, reply_items

ADMIN = "f-pjsip/admin.rx.raw"
REP = "f-pjsip/exporter_rep.rx.raw"


def recorded_events(*names: str) -> list[tuple[str, dict[str, str]]]:
    return [(m.name, m.fields) for m in decode_file("f-pjsip/exporter.rx.raw") if m.name in names]


def test_recorded_peer_and_contact_status_events() -> None:
    pbx = PBX()
    states: list[tuple[str, str]] = []
    for name, fields in recorded_events("PeerStatus", "ContactStatus"):
        pbx.apply(name, fields)
        if name == "PeerStatus":
            states.append((fields["Peer"], pbx.endpoints.endpoints[fields["Peer"]].state))
    # The six phones come up, 2101 registers, 2003 stops, 2101 unregisters, 2003 comes back.
    assert states[6:] == [
        ("PJSIP/2101", "reachable"),
        ("PJSIP/2003", "unreachable"),
        ("PJSIP/2101", "unreachable"),  # unregistered: still an endpoint, now unreachable
        ("PJSIP/2003", "reachable"),
    ]
    assert pbx.endpoints.count_by_state() == {"reachable": 6, "unreachable": 1, "unknown": 0}


def test_an_available_contact_makes_its_endpoint_reachable_without_peer_status() -> None:
    # PeerStatus comes only when the endpoint's state changes; a second contact coming up on an
    # endpoint that is already online raises ContactStatus alone.
    pbx = PBX()
    pbx.apply(
        "ContactStatus",
        {
            "URI": "sip:b@x",
            "ContactStatus": "NonQualified",
            "AOR": "b",
            "EndpointName": "b",
            "RoundtripUsec": "0",
        },
    )
    assert pbx.endpoints.endpoints["PJSIP/b"].state == "reachable"
    pbx.apply(
        "ContactStatus", {"URI": "sip:b@x", "ContactStatus": "Unreachable", "AOR": "b", "EndpointName": "b"}
    )
    assert pbx.endpoints.endpoints["PJSIP/b"].state == "reachable"  # its PeerStatus will say


def test_peer_status_values_of_every_driver() -> None:
    pbx = PBX()
    for peer, status in [
        ("PJSIP/alice", "Unreachable"),
        ("SIP/trunk", "Registered"),
        ("SIP/old", "Lagged"),
        ("IAX2/branch", "Unregistered"),
        ("SIP/bad", "Rejected"),
    ]:
        pbx.apply("PeerStatus", {"ChannelType": peer.split("/")[0], "Peer": peer, "PeerStatus": status})
    assert pbx.endpoints.count_by_state() == {
        "reachable": 0,
        "unreachable": 1,
        "unknown": 0,
        "registered": 1,
        "lagged": 1,
        "unregistered": 1,
        "rejected": 1,
    }


def test_device_states_skip_pseudo_devices_and_local_channels() -> None:
    pbx = PBX()
    for device, state in [
        ("PJSIP/alice", "INUSE"),
        ("PJSIP/bob", "NOT_INUSE"),
        ("Queue:sales_avail", "INUSE"),
        ("Queue:support_pause_Local/agent3@agents/n", "INUSE"),
        ("Local/agent5@agents", "INUSE"),
        ("DAHDI/1", "UNAVAILABLE"),
        ("PJSIP/alice", "RINGINUSE"),
    ]:
        pbx.apply("DeviceStateChange", {"Device": device, "State": state})
    counts = pbx.endpoints.devices_by_state()
    assert counts["ringinuse"] == 1
    assert counts["not_in_use"] == 1
    assert counts["unavailable"] == 1
    assert sum(counts.values()) == 3


def test_reachability_from_a_pjsip_device_state() -> None:
    assert reachability("UNAVAILABLE", idle=False) == "unreachable"
    assert reachability("NOT_INUSE", idle=False) == "reachable"
    assert reachability("UNKNOWN", idle=False) == "unknown"
    assert reachability("INUSE", idle=False) is None  # the calls' state: says nothing
    assert reachability("RINGING", idle=True) == "reachable"


def test_contacts_field_of_endpoint_list() -> None:
    assert parse_contacts_field("2001/sip:2001@127.0.0.1:5071,") == [("2001", "sip:2001@127.0.0.1:5071")]
    assert parse_contacts_field("a/sip:x@h;transport=UDP,b/sip:y@h,") == [
        ("a", "sip:x@h;transport=UDP"),
        ("b", "sip:y@h"),
    ]
    assert parse_contacts_field("") == []


def test_recorded_endpoint_list_on_an_empty_model() -> None:
    """An exporter that logs in with write=system: every endpoint at once, with its state."""
    pbx = PBX()
    pbx.new_session()
    assert pbx.reconcile_endpoint_list(reply_items(ADMIN, "admin-11")) == 9 + 6
    assert pbx.endpoints.count_by_state() == {"reachable": 6, "unreachable": 3, "unknown": 0}
    # The six static contacts exist, with no status yet: PJSIPShowEndpoint must tell.
    assert pbx.endpoints.contacts.by_state()["unknown"] == 6
    assert pbx.endpoints.needing_detail() == ["2001", "2002", "2003", "2004", "2005", "2006"]
    pbx.reconcile_endpoint_detail(reply_items(ADMIN, "admin-13"))
    assert pbx.endpoints.contacts.by_state() == {
        "reachable": 1,
        "unreachable": 0,
        "non_qualified": 0,
        "unknown": 5,
    }
    assert pbx.endpoints.contacts.roundtrips() == {"PJSIP/2001": 609e-6}
    assert pbx.endpoints.needing_detail() == ["2002", "2003", "2004", "2005", "2006"]
    assert pbx.corrections["endpoint"] == 9 and pbx.corrections["contact"] == 6


def test_endpoint_list_removes_endpoints_and_contacts_that_are_gone() -> None:
    pbx = PBX()
    pbx.apply("PeerStatus", {"Peer": "PJSIP/old", "PeerStatus": "Reachable"})
    pbx.apply("PeerStatus", {"Peer": "SIP/legacy", "PeerStatus": "Registered"})
    pbx.apply(
        "ContactStatus",
        {"AOR": "old", "URI": "sip:old@h", "ContactStatus": "Reachable", "EndpointName": "old"},
    )
    pbx.apply("ContactStatus", {"AOR": "2001", "URI": "sip:gone@h", "ContactStatus": "Reachable"})
    pbx.reconcile_endpoint_list(reply_items(ADMIN, "admin-11"))
    assert "PJSIP/old" not in pbx.endpoints.endpoints
    assert "SIP/legacy" in pbx.endpoints.endpoints  # not a PJSIP endpoint: not the list's business
    assert set(pbx.endpoints.contacts.contacts) == {
        (str(n), f"sip:{n}@127.0.0.1:{n + 3070}") for n in range(2001, 2007)
    }


def test_an_endpoint_in_a_call_keeps_what_events_said() -> None:
    """The recorded mid DeviceStateList: 2003 INUSE although unreachable, the trunk INUSE."""
    pbx = PBX()
    pbx.apply("PeerStatus", {"Peer": "PJSIP/2003", "PeerStatus": "Unreachable"})
    pbx.reconcile_devices(reply_items(REP, "exporter_rep-18"), endpoints=True)
    states = {name: e.state for name, e in pbx.endpoints.endpoints.items()}
    assert states["PJSIP/2003"] == "unreachable"
    assert states["PJSIP/trunk"] == "unknown"  # in use, never heard of: nothing says
    assert states["PJSIP/2102"] == "unreachable" and states["PJSIP/2004"] == "reachable"
    assert sorted(pbx.endpoints.devices) == [
        f"PJSIP/{n}" for n in ("2001", "2002", "2003", "2004", "2005")
    ] + [
        "PJSIP/2006",
        "PJSIP/2101",
        "PJSIP/2102",
        "PJSIP/trunk",
    ]


def test_device_list_without_endpoints_leaves_endpoints_alone() -> None:
    pbx = PBX()
    pbx.reconcile_devices(reply_items(REP, "exporter_rep-6"))
    assert pbx.endpoints.endpoints == {}
    assert pbx.endpoints.devices_by_state()["not_in_use"] == 6
    assert pbx.corrections["device"] == 9


def test_endpoints_past_the_cap_are_not_tracked() -> None:
    pbx = PBX(caps={"endpoint": 2})
    for n in range(4):
        pbx.apply("PeerStatus", {"Peer": f"PJSIP/{n}", "PeerStatus": "Reachable"})
    pbx.reconcile_endpoint_list(reply_items(ADMIN, "admin-11"))
    assert len(pbx.endpoints.endpoints) == 2
    assert pbx.caps.overflows["endpoint"] >= 2
