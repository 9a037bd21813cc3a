"""SIP contacts: ContactStatus as Asterisk 22.10.1 sends it (``f-pjsip``), the recorded
``PJSIPShowContacts`` and ``PJSIPShowEndpoint`` replies, and the values older versions send."""

from __future__ import annotations

from ami_exporter.pbx import PBX
from ami_exporter.pbx.contacts import aor_of, contact_status_label

from ..support.captures import decode_file, reply_items

ADMIN = "f-pjsip/admin.rx.raw"


def test_recorded_contact_lifecycle() -> None:
    pbx = PBX()
    counts = []
    for message in decode_file("f-pjsip/exporter.rx.raw"):
        if message.name == "ContactStatus":
            pbx.apply(message.name, message.fields)
            counts.append(pbx.endpoints.contacts.by_state())
    book = pbx.endpoints.contacts
    # six phones Reachable, 2101 registers (NonQualified, never Created), 2003 Unreachable,
    # 2101 unregisters (Removed), 2003 Reachable again.
    assert counts[6] == {"reachable": 6, "unreachable": 0, "non_qualified": 1, "unknown": 0}
    assert counts[7] == {"reachable": 5, "unreachable": 1, "non_qualified": 1, "unknown": 0}
    assert counts[-1] == {"reachable": 6, "unreachable": 0, "non_qualified": 0, "unknown": 0}
    assert ("2101", "sip:2101@127.0.0.1:5081;transport=UDP") not in book.contacts
    # RoundtripUsec is 0 unless Reachable: no round trip for an unreachable or unqualified one.
    assert book.roundtrips()["PJSIP/2003"] == 543e-6
    assert len(book.roundtrips()) == 6


def test_recorded_contact_list_and_no_contacts_found() -> None:
    pbx = PBX()
    assert reply_items(ADMIN, "admin-12") == []  # Response: Error, "No Contacts found"
    assert pbx.reconcile_contacts([]) == 0
    assert pbx.reconcile_contacts(reply_items(ADMIN, "admin-15")) == 1
    (contact,) = pbx.endpoints.contacts.contacts.values()
    assert (contact.endpoint, contact.status, contact.roundtrip_seconds) == (
        "PJSIP/2101",
        "non_qualified",
        None,
    )
    assert pbx.corrections["contact"] == 1


def test_recorded_endpoint_detail_gives_a_static_contact() -> None:
    pbx = PBX()
    items = reply_items(ADMIN, "admin-13")
    assert [fields.get("Event", "") for fields in items] == [
        "EndpointDetail",
        "TransportDetail",
        "AorDetail",
        "ContactStatusDetail",
    ]
    pbx.reconcile_endpoint_detail(items)
    contact = pbx.endpoints.contacts.contacts["2001", "sip:2001@127.0.0.1:5071"]
    assert (contact.status, contact.roundtrip_seconds) == ("reachable", 609e-6)


def test_status_words_of_every_version() -> None:
    assert contact_status_label("Reachable") == "reachable"
    assert contact_status_label("NonQualified") == "non_qualified"
    assert contact_status_label("Created") == "non_qualified"  # Asterisk 13
    assert contact_status_label("Unknown") == "unknown"
    assert contact_status_label("") == "unknown"


def test_updated_keeps_the_status_and_removed_forgets() -> None:
    pbx = PBX()
    base = {"AOR": "a", "URI": "sip:a@h", "EndpointName": "a"}
    pbx.apply("ContactStatus", {**base, "ContactStatus": "Reachable", "RoundtripUsec": "1500"})
    pbx.apply("ContactStatus", {**base, "ContactStatus": "Updated"})
    assert pbx.endpoints.contacts.contacts["a", "sip:a@h"].status == "reachable"
    pbx.apply("ContactStatus", {**base, "ContactStatus": "Removed"})
    assert pbx.endpoints.contacts.contacts == {}
    pbx.apply("ContactStatus", {**base, "ContactStatus": "Updated"})  # never heard of: unknown
    assert pbx.endpoints.contacts.contacts["a", "sip:a@h"].status == "unknown"


def test_contact_ids() -> None:
    assert aor_of("2101;@91f9a9f7a88da07629178aa441e687f2") == "2101"
    assert aor_of("2001@@2ed83aa6bfaa824e2646a5b5a1ad95fe") == "2001"
    assert aor_of("odd") == "odd"


def test_contacts_are_bounded() -> None:
    pbx = PBX(caps={"contact": 3})
    for n in range(10):
        pbx.apply("ContactStatus", {"AOR": "x", "URI": f"sip:{n}@h", "ContactStatus": "NonQualified"})
    assert len(pbx.endpoints.contacts.contacts) == 3
    assert pbx.caps.overflows["contact"] == 7


def test_a_new_session_makes_statuses_stale_until_heard_again() -> None:
    pbx = PBX()
    pbx.new_session()
    pbx.reconcile_endpoint_list(reply_items(ADMIN, "admin-11"))
    for n in range(2001, 2007):
        pbx.apply(
            "ContactStatus",
            {"AOR": str(n), "URI": f"sip:{n}@127.0.0.1:{n + 3070}", "ContactStatus": "Unreachable"},
        )
    assert pbx.endpoints.needing_detail() == []
    pbx.new_session()  # a reconnect: changes may have been missed meanwhile
    assert len(pbx.endpoints.needing_detail()) == 6
    assert pbx.endpoints.contacts.by_state()["unreachable"] == 6  # kept until corrected
