"""Labels stay bounded and never carry personal or per-call data."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.pbx.labels import OVERFLOW
from ami_exporter.service import ConnectionStatus

CALLS = 10_000


def exposition(pbx: PBX, *, endpoint_details: bool = False) -> str:
    registry = build_registry(
        pbx,
        ConnectionStatus(up=True, ready=True),
        CollectorOptions(process=False, endpoint_details=endpoint_details),
    )
    return generate_latest(registry).decode()


def label_values(text: str) -> set[str]:
    return {
        value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        for value in sample.labels.values()
    }


def busy_pbx() -> tuple[PBX, set[str]]:
    """10,000 calls, each with its own channel, Uniqueid, caller number and name, plus the
    personal data Asterisk puts in CDRs, queue entries, pauses and security events."""
    pbx = PBX(now=lambda: 1_800_000_000.0)
    private: set[str] = set()
    for i in range(CALLS):
        channel = f"PJSIP/customer{i}-{i:08x}"
        uniqueid = f"1800000000.{i}"
        linkedid = f"1800000000.{i + 500_000}"
        number = f"+4930{5550000 + i}"
        name = f"Customer Nr {i}"
        address = f"IPV4/UDP/10.{i // 256 % 256}.{i % 256}.7/5060"
        private |= {channel, uniqueid, linkedid, number, name, address}
        snapshot = {
            "Channel": channel,
            "ChannelState": "6",
            "ChannelStateDesc": "Up",
            "CallerIDNum": number,
            "CallerIDName": name,
            "ConnectedLineNum": number,
            "ConnectedLineName": name,
            "Uniqueid": uniqueid,
            "Linkedid": linkedid,
            "AccountCode": "",
        }
        pbx.apply("Newchannel", snapshot)
        pbx.apply("QueueCallerJoin", {**snapshot, "Queue": "sales", "Position": "1", "Count": "1"})
        pbx.apply("QueueCallerLeave", {**snapshot, "Queue": "sales", "Position": "1", "Count": "0"})
        pbx.apply(
            "AgentConnect",
            {
                **snapshot,
                "Queue": "sales",
                "Interface": "PJSIP/alice",
                "MemberName": "Alice",
                "HoldTime": "3",
            },
        )
        pbx.apply(
            "Cdr",
            {
                "Source": number,
                "Destination": f"0{number}",
                "CallerID": f'"{name}" <{number}>',
                "Channel": channel,
                "Disposition": "ANSWERED",
                "BillableSeconds": "42",
                "UniqueID": uniqueid,
            },
        )
        pbx.apply(
            "InvalidPassword",
            {"Service": "PJSIP", "AccountID": number, "RemoteAddress": address, "SessionID": f"0x{i:x}"},
        )
        pbx.apply("Hangup", {**snapshot, "Cause": "16", "Cause-txt": "Normal Clearing"})
        pbx.apply("DeviceStateChange", {"Device": f"PJSIP/customer{i}", "State": "NOT_INUSE"})
    pbx.reconcile_queues(
        QueueSnapshot.from_items(
            [
                ("QueueParams", {"Queue": "sales", "ServiceLevel": "30"}),
                (
                    "QueueMember",
                    {
                        "Queue": "sales",
                        "Name": "Alice",
                        "Location": "PJSIP/alice",
                        "Status": "1",
                        "Paused": "1",
                        "PausedReason": "doctor",
                    },
                ),
                (
                    "QueueEntry",
                    {
                        "Queue": "sales",
                        "Position": "1",
                        "Channel": "PJSIP/customer1-00000001",
                        "Uniqueid": "1800000000.1",
                        "CallerIDNum": "+49305550001",
                        "CallerIDName": "Customer Nr 1",
                        "Wait": "12",
                    },
                ),
            ]
        )
    )
    return pbx, private


def test_no_label_value_is_a_channel_uniqueid_number_name_or_address() -> None:
    pbx, private = busy_pbx()
    text = exposition(pbx)
    values = label_values(text)
    assert not values & private
    for secret in ("Customer Nr", "customer", "+4930", "10.0.", "0x"):
        assert secret not in text, secret
    # The pause reason is a label by design (operator-chosen codes, capped by --limits.pause-reasons).
    assert 'asterisk_queue_member_pause_reason{member="Alice",queue="sales",reason="doctor"} 1.0' in text
    # The whole exposition stays small: series do not grow with calls.
    assert len(text.splitlines()) < 600


def test_counts_survive_without_per_call_labels() -> None:
    pbx, _private = busy_pbx()
    assert pbx.channels.created == {"PJSIP": CALLS}
    assert pbx.channels.hangups == {("PJSIP", "normal_clearing"): CALLS}
    assert pbx.system.cdr_totals() == {"answered": CALLS}
    assert pbx.system.security == {("InvalidPassword", "PJSIP"): CALLS}
    # 10,000 devices: past the device cap they are not tracked, and the overflow is counted.
    assert len(pbx.endpoints.devices) == CALLS  # under the default device cap of 20,000


def test_queue_cap_folds_into_overflow_and_counts_it() -> None:
    pbx = PBX(caps={"queue": 10})
    for i in range(50):
        pbx.apply("QueueCallerJoin", {"Queue": f"q{i}", "Uniqueid": f"u{i}", "Count": "1"})
    assert len(pbx.queues.queues) == 11
    assert pbx.queues.queues[OVERFLOW].joins == 40
    assert pbx.caps.overflows["queue"] == 40
    text = exposition(pbx)
    assert 'asterisk_queue_caller_joins_total{queue="__overflow__"} 40.0' in text
    assert 'asterisk_exporter_label_overflow_total{metric="queue"} 40.0' in text


def test_every_capped_label_set_overflows() -> None:
    caps = {
        "member": 3,
        "technology": 2,
        "cause": 2,
        "event": 5,
        "security_event": 2,
        "security_service": 2,
        "channel_state": 2,
        "endpoint": 2,
    }
    pbx = PBX(caps=caps)
    for i in range(10):
        pbx.apply("QueueMemberAdded", {"Queue": "q", "Interface": f"PJSIP/a{i}", "MemberName": f"Agent {i}"})
        pbx.apply(
            "Newchannel", {"Channel": f"Tech{i}/x-1", "Uniqueid": f"c{i}", "ChannelStateDesc": f"State {i}"}
        )
        pbx.apply("Hangup", {"Channel": f"Tech{i}/x-1", "Uniqueid": f"c{i}", "Cause": str(i)})
        pbx.count(f"Event{i}")
        pbx.apply(
            f"{['InvalidPassword', 'FailedACL', 'ChallengeSent', 'InvalidAccountID'][i % 4]}",
            {"Service": f"S{i}"},
        )
        pbx.apply("PeerStatus", {"Peer": f"SIP/peer{i}", "PeerStatus": "Reachable"})
    for metric in caps:
        assert pbx.caps.overflows.get(metric, 0) > 0, metric
    text = exposition(pbx, endpoint_details=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert "Agent 9" not in sample.labels.values()
    assert 'member="__overflow__"' not in text  # overflowed members have no per-member series
    overflowed = {
        sample.labels["metric"]
        for family in text_string_to_metric_families(text)
        if family.name == "asterisk_exporter_label_overflow"
        for sample in family.samples
    }
    assert overflowed == set(caps)


def test_cdr_labels_in_the_exposition_zero_fill_each_combination() -> None:
    pbx = PBX(cdr_labels=("amaflags",))
    pbx.apply("Cdr", {"AMAFlags": "DOCUMENTATION", "Disposition": "ANSWERED", "BillableSeconds": "9"})
    text = exposition(pbx)
    assert 'asterisk_cdr_total{amaflags="DOCUMENTATION",disposition="answered"} 1.0' in text
    assert 'asterisk_cdr_total{amaflags="DOCUMENTATION",disposition="busy"} 0.0' in text
    assert 'asterisk_cdr_billable_seconds_total{amaflags="DOCUMENTATION"} 9.0' in text


def test_contact_uris_addresses_user_agents_and_registry_uris_never_become_labels() -> None:
    pbx = PBX(now=lambda: 1_800_000_000.0)
    private: set[str] = set()
    for i in range(2000):
        uri = f"sip:phone{i}@10.1.{i // 256}.{i % 256}:5060;transport=UDP"
        agent = f"Yealink SIP-T46U 66.86.0.{i}"
        private |= {uri, agent}
        pbx.apply(
            "ContactStatus",
            {
                "URI": uri,
                "ContactStatus": "Reachable",
                "AOR": f"ext{i}",
                "EndpointName": f"ext{i}",
                "RoundtripUsec": "900",
            },
        )
        pbx.reconcile_contacts(
            [
                {
                    "ObjectName": f"ext{i};@{i:032x}",
                    "Uri": uri,
                    "UserAgent": agent,
                    "ViaAddr": "10.1.0.1",
                    "Endpoint": f"ext{i}",
                    "Status": "Reachable",
                    "RoundtripUsec": "800",
                }
            ]
        )
        client, server = f"sip:+4930{5550000 + i}@voip.example", f"sip:198.51.100.{i % 256}"
        private |= {client, server}
        pbx.apply(
            "Registry", {"ChannelType": "PJSIP", "Username": client, "Domain": server, "Status": "Registered"}
        )
    text = exposition(pbx, endpoint_details=True)
    values = label_values(text)
    assert not values & private
    for secret in ("10.1.", "Yealink", "+4930", "198.51.100", "sip:"):
        assert secret not in text, secret
    assert 'asterisk_registrations{state="registered"} 1000.0' in text  # capped keys: 1,000
    assert pbx.caps.overflows["registration_key"] == 1000
    assert 'asterisk_contacts{state="reachable"} 2000.0' in text


def test_registration_names_overflow() -> None:
    pbx = PBX(caps={"registration": 2})
    pbx.reconcile_registrations(
        [
            {
                "ObjectName": f"trunk{i}",
                "ClientUri": f"sip:{i}@p",
                "ServerUri": "sip:p",
                "Status": "Registered",
            }
            for i in range(5)
        ]
    )
    text = exposition(pbx)
    assert 'asterisk_registration_up{registration="__overflow__"} 1.0' in text
    assert 'asterisk_exporter_label_overflow_total{metric="registration"} 3.0' in text


def test_pause_reasons_past_the_cap_fold_into_overflow_at_scale() -> None:
    """200 queues x 50 members, every member paused with one of 60 reasons: the first 50 reasons
    are kept, the other 10 become __overflow__, and each overflowing admission is counted."""
    reasons = [f"reason {i:02d}" for i in range(60)]
    items: list[tuple[str, dict[str, str]]] = []
    for q in range(200):
        items.append(("QueueParams", {"Queue": f"q{q:03d}"}))
        for m in range(50):
            items.append(
                (
                    "QueueMember",
                    {
                        "Queue": f"q{q:03d}",
                        "Name": f"Agent {m:02d}",
                        "Location": f"PJSIP/agent{m:02d}",
                        "Status": "1",
                        "Paused": "1",
                        "PausedReason": reasons[(q * 50 + m) % 60],
                        "LastPause": "1799999000",
                    },
                )
            )
    pbx = PBX(now=lambda: 1_800_000_000.0, monotonic=lambda: 1_800_000_000.0)
    pbx.reconcile_queues(QueueSnapshot.from_items(items))
    text = exposition(pbx)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    kept: set[str] = set()
    for name in (
        "asterisk_queue_members_paused_by_reason",
        "asterisk_queue_member_pause_reason",
        "asterisk_queue_member_paused_seconds",
    ):
        seen = {sample.labels["reason"] for sample in families[name].samples}
        assert OVERFLOW in seen, name
        kept = kept or seen - {OVERFLOW}
        assert seen - {OVERFLOW} == kept, name  # the same 50 reasons in every family
    assert len(kept) == 50 and kept < set(reasons)
    overflowing = sum(1 for i in range(200 * 50) if reasons[i % 60] not in kept)
    assert pbx.caps.overflows["pause_reason"] == overflowing >= 1660  # 10 of 60 reasons, ~166 each
    assert f'asterisk_exporter_label_overflow_total{{metric="pause_reason"}} {overflowing:.1f}' in text
    paused = sum(sample.value for sample in families["asterisk_queue_members_paused_by_reason"].samples)
    assert paused == 200 * 50  # every paused member is counted under some reason
