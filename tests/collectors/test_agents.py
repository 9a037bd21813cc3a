"""The agent families: which series exist when, and what they say."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX
from ami_exporter.pbx.agents import AGENT_STATES, WrapupTimes
from ami_exporter.service import ConnectionStatus

from ..pbx.test_agents import Clocks, bob

LIVE = ConnectionStatus(up=True, ready=True)
PER_MEMBER = (
    "asterisk_queue_member_state",
    "asterisk_queue_member_state_since_seconds",
    "asterisk_queue_member_pause_reason",
    "asterisk_queue_member_calls_answered_total",
    "asterisk_queue_member_ring_noanswer_total",
    "asterisk_queue_member_talk_seconds_total",
    "asterisk_queue_member_paused_seconds_total",
)


def shift() -> tuple[PBX, Clocks]:
    """Bob on a call then in wrap-up; Eve paused for lunch; Ann logged off after a call."""
    clocks = Clocks()
    pbx = PBX(now=clocks.wall, monotonic=clocks.mono, wrapup=WrapupTimes(30.0))
    pbx.apply("QueueMemberAdded", bob())
    pbx.apply("QueueMemberAdded", bob(MemberName="Eve", Interface="PJSIP/eve"))
    pbx.apply("QueueMemberAdded", bob(MemberName="Ann", Interface="PJSIP/ann"))
    for name, interface, talk in (("Bob", "Local/agent2@agents/n", "20"), ("Ann", "PJSIP/ann", "7")):
        fields = {"Queue": "sales", "Interface": interface, "MemberName": name}
        pbx.apply("AgentConnect", fields)
        clocks.advance(20)
        pbx.apply("AgentComplete", {**fields, "TalkTime": talk})
    pbx.apply("AgentRingNoAnswer", {"Queue": "sales", "Interface": "PJSIP/eve", "MemberName": "Eve"})
    pbx.apply(
        "QueueMemberPause", bob(MemberName="Eve", Interface="PJSIP/eve", Paused="1", PausedReason="lunch")
    )
    pbx.apply("QueueMemberRemoved", bob(MemberName="Ann", Interface="PJSIP/ann"))
    clocks.advance(5)
    return pbx, clocks


def samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_what_a_supervisor_sees() -> None:
    pbx, clocks = shift()
    got = samples(build_registry(pbx, LIVE, CollectorOptions(process=False)))
    sales = (("queue", "sales"),)
    by_state = {
        state: got[("asterisk_queue_agents", (("queue", "sales"), ("state", state)))]
        for state in AGENT_STATES
    }
    assert by_state == {
        "available": 0,
        "ringing": 0,
        "on_call": 0,
        "wrapup": 1,
        "paused": 1,
        "unavailable": 0,
    }
    assert got[("asterisk_queue_members_paused_by_reason", (*sales, ("reason", "lunch")))] == 1
    bob_labels = (("member", "Bob"), ("queue", "sales"))
    eve_labels = (("member", "Eve"), ("queue", "sales"))
    assert got[("asterisk_queue_member_state", bob_labels)] == AGENT_STATES.index("wrapup")
    assert got[("asterisk_queue_member_state_since_seconds", bob_labels)] == clocks.wall_now - 25
    assert got[("asterisk_queue_member_state_since_seconds", eve_labels)] == clocks.wall_now - 5
    assert got[("asterisk_queue_member_pause_reason", (*eve_labels, ("reason", "lunch")))] == 1
    assert ("asterisk_queue_member_pause_reason", (*bob_labels, ("reason", "lunch"))) not in got
    assert got[("asterisk_queue_member_calls_answered_total", bob_labels)] == 1
    assert got[("asterisk_queue_member_talk_seconds_total", bob_labels)] == 20
    assert got[("asterisk_queue_member_ring_noanswer_total", eve_labels)] == 1
    assert got[("asterisk_queue_member_paused_seconds_total", (*eve_labels, ("reason", "lunch")))] == 5
    # Ann logged off: her counters stay, her state does not.
    ann = (("member", "Ann"), ("queue", "sales"))
    assert got[("asterisk_queue_member_talk_seconds_total", ann)] == 7
    assert ("asterisk_queue_member_state", ann) not in got


def test_states_are_not_exported_while_not_live_but_counters_are() -> None:
    pbx, _clocks = shift()
    got = samples(build_registry(pbx, ConnectionStatus(up=False), CollectorOptions(process=False)))
    names = {name for name, _labels in got}
    for gauge in (
        "asterisk_queue_agents",
        "asterisk_queue_members_paused_by_reason",
        "asterisk_queue_member_state",
        "asterisk_queue_member_state_since_seconds",
        "asterisk_queue_member_pause_reason",
    ):
        assert gauge not in names, gauge
    bob_labels = (("member", "Bob"), ("queue", "sales"))
    assert got[("asterisk_queue_member_talk_seconds_total", bob_labels)] == 20
    assert got[("asterisk_queue_member_talk_seconds_total", (("member", "Ann"), ("queue", "sales")))] == 7


def test_per_member_families_follow_the_queue_members_collector() -> None:
    pbx, _clocks = shift()
    got = samples(build_registry(pbx, LIVE, CollectorOptions(process=False, queue_members=False)))
    names = {name for name, _labels in got}
    assert not names & set(PER_MEMBER)
    assert {"asterisk_queue_agents", "asterisk_queue_members_paused_by_reason"} <= names


def test_since_is_the_same_at_every_scrape() -> None:
    pbx, clocks = shift()
    registry = build_registry(pbx, LIVE, CollectorOptions(process=False))
    key = ("asterisk_queue_member_state_since_seconds", (("member", "Bob"), ("queue", "sales")))
    first = samples(registry)[key]
    clocks.advance(3)
    assert samples(registry)[key] == first
    clocks.advance(30)  # the wrap-up ended between two scrapes: available since its end
    later = samples(registry)
    assert later[("asterisk_queue_member_state", key[1])] == AGENT_STATES.index("available")
    assert later[key] == first + 30
