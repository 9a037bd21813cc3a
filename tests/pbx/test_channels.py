"""Channels, bridges and hang-up causes."""

from __future__ import annotations

import pytest

from ami_exporter.pbx import PBX
from ami_exporter.pbx.channels import parse_duration, technology_of
from ami_exporter.pbx.codes import hangup_cause_label, snake


@pytest.mark.parametrize(
    ("name", "technology"),
    [
        ("PJSIP/alice-0000002a", "PJSIP"),
        ("Local/sales@incoming-00000024;2", "Local"),
        ("SIP/trunk-00000001", "SIP"),
        ("IAX2/peer-123", "IAX2"),
        ("DAHDI/i1/5551234-1", "DAHDI"),
        ("none", "unknown"),
        ("", "unknown"),
    ],
)
def test_technology_is_the_part_before_the_first_slash(name: str, technology: str) -> None:
    assert technology_of(name) == technology


@pytest.mark.parametrize(
    ("cause", "label"),
    [
        ("16", "normal_clearing"),
        ("17", "user_busy"),
        ("19", "no_answer"),
        ("26", "answered_elsewhere"),
        ("0", "not_defined"),
        ("34", "normal_circuit_congestion"),
        ("4", "4"),
        ("250", "250"),
        ("x", "unknown"),
    ],
)
def test_hangup_cause_labels(cause: str, label: str) -> None:
    assert hangup_cause_label(cause) == label


def test_channel_state_labels() -> None:
    assert [snake(s) for s in ("Up", "Ring", "Ringing", "Dialing Offhook", "Pre-ring", "Unknown (12)")] == [
        "up",
        "ring",
        "ringing",
        "dialing_offhook",
        "pre_ring",
        "unknown_12",
    ]


def test_lifecycle_and_duration_only_for_channels_seen_from_their_start() -> None:
    now = [100.0]
    pbx = PBX(now=lambda: now[0], monotonic=lambda: now[0])
    pbx.apply("Newchannel", {"Channel": "PJSIP/a-1", "Uniqueid": "1", "ChannelStateDesc": "Ring"})
    pbx.apply("Newstate", {"Channel": "PJSIP/a-1", "Uniqueid": "1", "ChannelStateDesc": "Up"})
    assert pbx.channels.channels["1"].state == "up"
    now[0] = 145.0
    pbx.apply("Hangup", {"Channel": "PJSIP/a-1", "Uniqueid": "1", "Cause": "16"})
    assert pbx.channels.channels == {}
    assert pbx.channels.durations["PJSIP"].cumulative()[1:] == (45.0, 1)
    # A hangup for a channel that started before we connected: counted, no gauge below zero.
    pbx.apply("Hangup", {"Channel": "SIP/b-2", "Uniqueid": "2", "Cause": "17"})
    assert pbx.channels.hangups == {("PJSIP", "normal_clearing"): 1, ("SIP", "user_busy"): 1}
    assert "SIP" not in pbx.channels.durations
    assert pbx.channels.created == {"PJSIP": 1}


def test_bridges_from_events_and_from_enter_of_an_unknown_bridge() -> None:
    pbx = PBX()
    pbx.apply("BridgeCreate", {"BridgeUniqueid": "b1"})
    pbx.apply("BridgeEnter", {"BridgeUniqueid": "b0"})  # created before we connected
    assert pbx.channels.bridges == {"b0", "b1"}
    pbx.apply("BridgeDestroy", {"BridgeUniqueid": "b1"})
    pbx.apply("BridgeDestroy", {"BridgeUniqueid": "never-seen"})
    assert pbx.channels.bridges == {"b0"}


def test_core_show_channels_reconcile() -> None:
    now = [1000.0]
    pbx = PBX(now=lambda: now[0], monotonic=lambda: now[0])
    pbx.apply("Newchannel", {"Channel": "PJSIP/a-1", "Uniqueid": "1", "ChannelStateDesc": "Ring"})
    pbx.apply("Newchannel", {"Channel": "PJSIP/gone-3", "Uniqueid": "3", "ChannelStateDesc": "Up"})
    corrections = pbx.reconcile_channels(
        [
            {
                "ActionID": "x",
                "Channel": "PJSIP/a-1",
                "Uniqueid": "1",
                "ChannelStateDesc": "Up",
                "Duration": "00:00:05",
            },
            {
                "ActionID": "x",
                "Channel": "IAX2/b-2",
                "Uniqueid": "2",
                "ChannelStateDesc": "Up",
                "Duration": "01:00:01",
            },
        ]
    )
    # a-1 changed state, b-2 was unknown, gone-3 vanished.
    assert corrections == 3
    assert pbx.corrections["channel"] == 3
    assert pbx.channels.channels["2"].created == 1000.0 - 3601
    assert not pbx.channels.channels["2"].seen_start
    assert pbx.channels.channels["1"].seen_start
    assert set(pbx.channels.channels) == {"1", "2"}
    assert pbx.reconcile_bridges([{"BridgeUniqueid": "x"}]) == 1


def test_parse_duration() -> None:
    assert parse_duration("01:02:03") == 3723
    assert parse_duration("bad") == 0
    assert parse_duration(None) == 0


def test_channel_lifetimes_follow_the_monotonic_clock() -> None:
    wall, steady = [1_800_000_000.0], [50.0]
    pbx = PBX(now=lambda: wall[0], monotonic=lambda: steady[0])
    pbx.apply("Newchannel", {"Channel": "PJSIP/a-1", "Uniqueid": "1", "ChannelStateDesc": "Ring"})
    wall[0] += 86_400  # a wall-clock jump of a day
    steady[0] += 30
    pbx.apply("Hangup", {"Channel": "PJSIP/a-1", "Uniqueid": "1", "Cause": "16"})
    assert pbx.channels.durations["PJSIP"].cumulative()[1:] == (30.0, 1)
