"""Endpoints and devices. The captures have no SIP channel driver, so these events are built from
the fields Asterisk writes in ``main/stasis_endpoints.c`` (``peerstatus_to_ami()``,
``contactstatus_to_ami()``) and ``main/devicestate.c`` (``devstate_to_ami()``), as listed in
docs/asterisk-notes.md, "Endpoints"."""

from __future__ import annotations

from ami_exporter.pbx import PBX


def test_pjsip_contact_status_with_roundtrip_and_removal() -> None:
    pbx = PBX()
    pbx.apply(
        "ContactStatus",
        {
            "URI": "sip:alice@192.0.2.10:5060",
            "ContactStatus": "Reachable",
            "AOR": "alice",
            "EndpointName": "alice",
            "RoundtripUsec": "15234",
        },
    )
    pbx.apply(
        "ContactStatus",
        {"URI": "sip:bob@x", "ContactStatus": "NonQualified", "AOR": "bob", "EndpointName": "bob"},
    )
    endpoints = pbx.endpoints
    assert endpoints.count_by_state() == {"reachable": 1, "non_qualified": 1}
    assert endpoints.endpoints["PJSIP/alice"].roundtrip_seconds == 0.015234
    pbx.apply(
        "ContactStatus", {"URI": "sip:bob@x", "ContactStatus": "Removed", "AOR": "bob", "EndpointName": "bob"}
    )
    assert endpoints.count_by_state() == {"reachable": 1}


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
        "unreachable": 1,
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
