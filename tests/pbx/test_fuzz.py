"""Fuzzing the model and the codec (hypothesis, a bounded number of examples for CI).

* Any sequence of well-formed events (every name the model folds, plus list items) with
  arbitrary field values (missing, unknown objects, negative, huge, non-numeric, invalid UTF-8
  as the decoder surrogate-escapes it, out of order) never raises and never makes a gauge
  negative in the exposition; a following reconcile restores the snapshot exactly.
* Random bytes interleaved with valid frames, cut into random reads, through the ``Decoder``
  into the ``PBX``: never raises, the buffer stays bounded, every valid frame is folded.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.ami.actions import LIST_REPLY_EVENTS
from ami_exporter.ami.protocol import Decoder, Kind, encode_message
from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.service import ConnectionStatus

EXAMPLES = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

EVENT_NAMES = sorted(set(PBX().handlers) | LIST_REPLY_EVENTS)
QUEUES = ["q1", "q2", "q3"]
INTERFACES = ["PJSIP/a", "PJSIP/b", "Local/c@agents/n", "SIP/d"]
UNIQUEIDS = ["1.1", "1.2", "1.3", "2.1", "2.2"]
BRIDGES = ["b-1", "b-2", "b-3"]
KEYS = [
    "Queue", "Uniqueid", "UniqueID", "Interface", "Location", "StateInterface", "MemberName", "Name",
    "Count", "Position", "Wait", "HoldTime", "TalkTime", "RingTime", "Reason", "Status", "Paused",
    "PausedReason", "InCall", "Penalty", "CallsTaken", "LastCall", "LastPause", "LoginTime", "Wrapuptime",
    "Ringinuse", "Channel", "ChannelState", "ChannelStateDesc", "Cause", "Duration", "BridgeUniqueid",
    "Uptime", "LastReload", "Disposition", "BillableSeconds", "Service", "Module", "Shutdown", "Restart",
    "Max", "Strategy", "Completed", "Abandoned", "ServiceLevel", "ServicelevelPerf", "Weight", "Peer",
    "PeerStatus", "AOR", "ContactStatus", "Device", "State", "EventList", "URI", "EndpointName",
    "RoundtripUsec", "ChannelType", "Username", "Domain", "ObjectName", "ObjectType", "Contacts",
    "DeviceState", "ActiveChannels", "Aor", "Uri", "Endpoint", "ClientUri", "ServerUri", "ID",
]  # fmt: skip
NASTY_VALUES = [
    "", "0", "1", "-1", "-99999999999", "3", "42", "1e308", "-1e308", "inf", "-inf", "nan", "NaN",
    "18446744073709551617", "99999999999999999999999999999999", "abc", "1.5", " 7", "yes", "true",
    "00:01:02", "99:99:99", "Up", "Ringing", "Down", "\udcff\udcfe", "Caf\u00e9", "x" * 300,
]  # fmt: skip

values = st.one_of(
    st.sampled_from(NASTY_VALUES + QUEUES + INTERFACES + UNIQUEIDS + BRIDGES),
    st.text(max_size=12),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
fields = st.dictionaries(st.sampled_from(KEYS), values, max_size=12)
events = st.lists(st.tuples(st.sampled_from(EVENT_NAMES), fields), max_size=40)


def exposition_gauges(pbx: PBX) -> list[tuple[str, float]]:
    registry = build_registry(
        pbx, ConnectionStatus(up=True, ready=True), CollectorOptions(endpoint_details=True)
    )
    text = generate_latest(registry).decode()
    samples: list[tuple[str, float]] = []
    for family in text_string_to_metric_families(text):
        if family.type == "gauge":
            samples.extend((sample.name, sample.value) for sample in family.samples)
    return samples


def assert_no_negative_gauge(pbx: PBX) -> None:
    for queue in pbx.queues.queues.values():
        assert queue.count >= 0, queue
        assert queue.longest_wait(pbx.now()) >= 0
        for member in queue.members.values():
            assert member.calls_taken >= 0 and member.penalty >= 0
    for name, value in exposition_gauges(pbx):
        assert not math.isnan(value), name
        assert value >= 0, (name, value)


def fold(pbx: PBX, sequence: list[tuple[str, dict[str, str]]]) -> None:
    for name, event_fields in sequence:
        pbx.count(name)
        pbx.apply(name, event_fields)


# -- snapshots --------------------------------------------------------------------------------------

member_item = st.fixed_dictionaries(
    {
        "Location": st.sampled_from(INTERFACES),
        "Status": st.sampled_from(["0", "1", "2", "5", "6", "-3", "x"]),
        "Paused": st.sampled_from(["0", "1"]),
        "InCall": st.sampled_from(["0", "1"]),
        "Penalty": st.sampled_from(["0", "1", "-2"]),
        "CallsTaken": st.sampled_from(["0", "7", "-1"]),
    }
)
queue_snapshot = st.dictionaries(
    st.sampled_from(QUEUES),
    st.tuples(
        st.lists(member_item, max_size=4, unique_by=lambda item: item["Location"]),
        st.lists(st.sampled_from(UNIQUEIDS), max_size=4, unique=True),
    ),
    max_size=3,
)
channel_items = st.lists(
    st.fixed_dictionaries(
        {
            "Uniqueid": st.sampled_from(UNIQUEIDS),
            "Channel": st.sampled_from(["PJSIP/a-1", "Local/x@y-2;1", "garbage"]),
            "ChannelStateDesc": st.sampled_from(["Up", "Ring", "Ringing", ""]),
            "Duration": st.sampled_from(["00:00:05", "bad", ""]),
        }
    ),
    max_size=5,
    unique_by=lambda item: item["Uniqueid"],
)
bridge_items = st.lists(st.sampled_from(BRIDGES), max_size=3, unique=True)


def snapshot_items(
    snapshot: Mapping[str, tuple[list[dict[str, str]], list[str]]],
) -> list[tuple[str, dict[str, str]]]:
    items: list[tuple[str, dict[str, str]]] = []
    for queue, (members, callers) in snapshot.items():
        items.append(("QueueParams", {"Queue": queue, "Max": "0", "Calls": str(len(callers))}))
        items.extend(
            ("QueueMember", {"Queue": queue, "Name": member["Location"], **member}) for member in members
        )
        items.extend(
            ("QueueEntry", {"Queue": queue, "Uniqueid": uid, "Position": str(i + 1), "Wait": "3"})
            for i, uid in enumerate(callers)
        )
    return items


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        self.now += 0.5  # time moves on with every look at it; never backwards
        return self.now


@EXAMPLES
@given(sequence=events, snapshot=queue_snapshot, channels=channel_items, bridges=bridge_items)
def test_any_event_sequence_keeps_gauges_sane_and_reconcile_restores_the_snapshot(
    sequence: list[tuple[str, dict[str, str]]],
    snapshot: dict[str, tuple[list[dict[str, str]], list[str]]],
    channels: list[dict[str, str]],
    bridges: list[str],
) -> None:
    pbx = PBX(now=(clock := Clock()), monotonic=clock)
    fold(pbx, sequence)
    assert_no_negative_gauge(pbx)

    pbx.reconcile_queues(QueueSnapshot.from_items(snapshot_items(snapshot)))
    pbx.reconcile_channels(channels)
    pbx.reconcile_bridges({"BridgeUniqueid": bridge} for bridge in bridges)
    assert set(pbx.queues.queues) == set(snapshot)
    for name, (members, callers) in snapshot.items():
        queue = pbx.queues.queues[name]
        assert set(queue.members) == {member["Location"] for member in members}
        for member in members:
            model = queue.members[member["Location"]]
            assert model.paused == (member["Paused"] == "1")
            assert model.in_call == (member["InCall"] == "1")
        assert set(queue.callers) == set(callers)
        assert queue.count == len(callers)
    assert set(pbx.channels.channels) == {item["Uniqueid"] for item in channels}
    assert pbx.channels.bridges == set(bridges)
    assert_no_negative_gauge(pbx)

    # More arbitrary events after the reconcile: still sane.
    fold(pbx, sequence[::-1])
    assert_no_negative_gauge(pbx)


# -- SIP snapshots ------------------------------------------------------------------------------------

ENDPOINTS = ["2001", "2002", "trunk", "", "a/b", "x" * 40]
sip_item = st.fixed_dictionaries(
    {
        "ObjectName": st.sampled_from([*ENDPOINTS, "2001;@ab", "2002@@cd"]),
        "Aor": st.sampled_from(["2001", "", "2001,2002", ","]),
        "Contacts": st.sampled_from(["", "2001/sip:2001@h,", "2002/sip:x@h,2001/sip:y@h,", "garbage", "/,/"]),
        "DeviceState": st.sampled_from(
            ["Not in use", "Unavailable", "In use", "Unknown", "Ringing", "", "??"]
        ),
        "ActiveChannels": st.sampled_from(["0", "1", "-1", "x", ""]),
        "Device": st.sampled_from(["PJSIP/2001", "PJSIP/trunk", "Queue:q1_avail", "Local/x@y", "", "PJSIP/"]),
        "State": st.sampled_from(["NOT_INUSE", "INUSE", "UNAVAILABLE", "INVALID", "UNKNOWN", "", "BOGUS"]),
        "Uri": st.sampled_from(["sip:2001@h", "", "sip:x@h"]),
        "URI": st.sampled_from(["sip:2001@h", "", "sip:y@h"]),
        "AOR": st.sampled_from(["2001", "2002", ""]),
        "Status": st.sampled_from(
            ["Reachable", "Unreachable", "NonQualified", "Registered", "Rejected", "", "??"]
        ),
        "RoundtripUsec": st.sampled_from(["609", "0", "N/A", "-5", "1e9", ""]),
        "EndpointName": st.sampled_from(ENDPOINTS),
        "Endpoint": st.sampled_from(ENDPOINTS),
        "ClientUri": st.sampled_from(["sip:a@p", "", "sip:b@p"]),
        "ServerUri": st.sampled_from(["sip:p", ""]),
        "ObjectType": st.sampled_from(["endpoint", "registration", "auth", "contact"]),
    }
)
sip_items = st.lists(sip_item, max_size=6)


@EXAMPLES
@given(sequence=events, items=st.lists(sip_items, min_size=5, max_size=5))
def test_any_sip_snapshot_keeps_gauges_sane_and_a_second_one_corrects_nothing(
    sequence: list[tuple[str, dict[str, str]]], items: list[list[dict[str, str]]]
) -> None:
    pbx = PBX(now=Clock())
    pbx.new_session()
    fold(pbx, sequence)
    devices, contacts, endpoints, detail, registrations = items
    reporting = bool(len(devices) % 2)
    for _ in range(2):
        before = dict(pbx.corrections)
        pbx.reconcile_devices(devices, endpoints=reporting)
        pbx.reconcile_contacts(contacts)
        if not reporting:
            pbx.reconcile_endpoint_list(endpoints)
        pbx.reconcile_endpoint_detail(detail)
        pbx.reconcile_registrations(registrations)
        assert_no_negative_gauge(pbx)
    # The same replies again change nothing (except what a later list in the pass undid).
    assert pbx.corrections["registration"] == before["registration"]
    assert pbx.corrections["device"] == before["device"]
    fold(pbx, sequence[::-1])
    assert_no_negative_gauge(pbx)


# -- codec + model -----------------------------------------------------------------------------------

valid_frame = st.tuples(st.sampled_from(EVENT_NAMES), fields).map(
    lambda event: (
        event[0],
        encode_message(
            [("Event", event[0])]
            + [(k, v.replace("\r", " ").replace("\n", " ")) for k, v in event[1].items() if k != "Event"]
        ),
    )
)
garbage = (
    st.binary(min_size=1, max_size=300)
    .map(lambda data: data.lstrip(b"\r\n") + b"\r\n\r\n")
    .filter(lambda data: not data.lstrip(b"\r\n").startswith((b"Event", b"Response")))
)
stream = st.lists(st.one_of(valid_frame, garbage.map(lambda data: ("", data))), min_size=1, max_size=40)


@EXAMPLES
@given(parts=stream, cuts=st.lists(st.integers(min_value=1, max_value=97), min_size=1, max_size=20))
def test_random_bytes_and_valid_frames_through_the_decoder_into_the_model(
    parts: list[tuple[str, bytes]], cuts: list[int]
) -> None:
    pbx = PBX(now=(clock := Clock()), monotonic=clock)
    decoder = Decoder(wants=pbx.wants, expect_banner=False, max_frame_bytes=4096)
    data = b"".join(frame for _name, frame in parts)
    received: list[str] = []
    position = 0
    index = 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        index += 1
        for message in decoder.feed(data[position : position + size]):
            assert message.kind is Kind.EVENT
            received.append(message.name)
            pbx.count(message.name)
            pbx.apply(message.name, message.fields)
        pbx.count_many(decoder.take_skipped())  # events the model does not fold: counted only
        position += size
        assert decoder.buffered <= decoder.max_frame_bytes + 2
    assert received == [name for name, _frame in parts if name and pbx.wants(name)]
    assert pbx.events == dict(Counter(name for name, _frame in parts if name))
    assert decoder.buffered == 0
    assert_no_negative_gauge(pbx)
