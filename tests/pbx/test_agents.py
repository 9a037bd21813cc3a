"""Agent state precedence, wrap-up, pause spans by reason and per-agent counters."""

from __future__ import annotations

import itertools

import pytest

from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.pbx.agents import (
    AGENT_STATES,
    AVAILABLE,
    ON_CALL,
    PAUSED,
    RINGING,
    UNAVAILABLE,
    WRAPUP,
    WrapupTimes,
    agent_state,
)
from ami_exporter.pbx.codes import DEVICE_STATES
from ami_exporter.pbx.queues import Member
from ami_exporter.service import ConnectionStatus

from .test_queues import member_blob

WALL0 = 1_796_000_000.0


class Clocks:
    """A wall clock and a monotonic clock that move together (unless told otherwise)."""

    def __init__(self) -> None:
        self.wall_now = WALL0
        self.mono_now = 500.0

    def wall(self) -> float:
        return self.wall_now

    def mono(self) -> float:
        return self.mono_now

    def advance(self, seconds: float) -> None:
        self.wall_now += seconds
        self.mono_now += seconds


def model(wrapup: WrapupTimes | None = None, **caps: int) -> tuple[PBX, Clocks]:
    clocks = Clocks()
    return PBX(now=clocks.wall, monotonic=clocks.mono, wrapup=wrapup, caps=caps), clocks


def bob(**fields: str) -> dict[str, str]:
    """Bob in sales, idle and unpaused, no call yet."""
    values = {"Paused": "0", "PausedReason": "", "LastCall": "0", "LastPause": "0", "CallsTaken": "0"}
    return member_blob(**{**values, **fields})


def snapshot(*members: dict[str, str]) -> QueueSnapshot:
    """A complete QueueStatus reply for the queues of these members."""
    queues = dict.fromkeys(m["Queue"] for m in members)
    return QueueSnapshot.from_items(
        [("QueueParams", {"Queue": q}) for q in queues] + [("QueueMember", m) for m in members]
    )


def member(pbx: PBX, queue: str = "sales", interface: str = "Local/agent2@agents/n") -> Member:
    return pbx.queues.queues[queue].members[interface]


def state(pbx: PBX, queue: str = "sales", interface: str = "Local/agent2@agents/n") -> tuple[str, float]:
    found = member(pbx, queue, interface)
    code, since = found.agent.current(found, pbx.monotonic())
    return AGENT_STATES[code], since


# -- precedence ---------------------------------------------------------------------------------


def test_precedence_over_every_combination() -> None:
    """Exactly one state for every combination, by the documented order."""
    device = {name: code for code, name in enumerate(DEVICE_STATES)}
    for paused, status, in_call, ringinuse, wrapup in itertools.product(
        (False, True), range(-1, 10), (False, True), (False, True), (False, True)
    ):
        got = agent_state(
            paused=paused, status=status, in_call=in_call, ringinuse=ringinuse, in_wrapup=wrapup
        )
        if paused:
            expected = PAUSED
        elif status in (device["unknown"], device["invalid"], device["unavailable"]) or not 0 <= status <= 8:
            expected = UNAVAILABLE
        elif in_call or (not ringinuse and status in (device["in_use"], device["busy"], device["on_hold"])):
            expected = ON_CALL
        elif status in (device["ringing"], device["ringinuse"]):
            expected = RINGING
        elif wrapup:
            expected = WRAPUP
        else:
            expected = AVAILABLE
        assert got == expected, (paused, status, in_call, ringinuse, wrapup)


def test_examples_of_the_precedence() -> None:
    def s(**kw: object) -> str:
        args = {"paused": False, "status": 1, "in_call": False, "ringinuse": False, "in_wrapup": False}
        return AGENT_STATES[agent_state(**{**args, **kw})]  # type: ignore[arg-type]

    assert s() == "available"
    assert s(paused=True, status=5, in_call=True) == "paused"  # paused wins over everything
    assert s(status=5, in_call=True) == "unavailable"
    assert s(status=2) == "on_call"  # any call on the device when ringinuse is off
    assert s(status=2, ringinuse=True) == "available"  # Asterisk rings it anyway
    assert s(status=1, in_call=True, ringinuse=True) == "on_call"  # a queue call of this queue
    assert s(status=7) == "ringing"
    assert s(status=6, in_wrapup=True) == "ringing"
    assert s(in_wrapup=True) == "wrapup"


def test_members_available_counts_state_available_only() -> None:
    pbx, clocks = model(WrapupTimes(10.0))
    pbx.apply("QueueMemberAdded", bob())
    pbx.apply("QueueMemberAdded", bob(MemberName="Eve", Interface="PJSIP/eve"))
    pbx.apply("AgentConnect", {"Queue": "sales", "Interface": "PJSIP/eve", "MemberName": "Eve"})
    pbx.apply(
        "AgentComplete", {"Queue": "sales", "Interface": "PJSIP/eve", "MemberName": "Eve", "TalkTime": "4"}
    )
    assert state(pbx, interface="PJSIP/eve")[0] == "wrapup"
    registry = build_registry(pbx, ConnectionStatus(up=True, ready=True), CollectorOptions(process=False))
    assert registry.get_sample_value("asterisk_queue_members_available", {"queue": "sales"}) == 1.0
    assert registry.get_sample_value("asterisk_queue_agents", {"queue": "sales", "state": "wrapup"}) == 1.0
    clocks.advance(10.0)
    assert registry.get_sample_value("asterisk_queue_members_available", {"queue": "sales"}) == 2.0


# -- wrap-up ------------------------------------------------------------------------------------


def complete(
    pbx: PBX, queue: str = "sales", interface: str = "Local/agent2@agents/n", talk: int = 30
) -> None:
    fields = {"Queue": queue, "Interface": interface, "MemberName": "Bob"}
    pbx.apply("AgentConnect", {**fields, "HoldTime": "2"})
    pbx.apply("AgentComplete", {**fields, "TalkTime": str(talk), "Reason": "agent"})


@pytest.mark.parametrize(
    ("wrapup", "own", "seconds"),
    [
        (WrapupTimes(), "0", 0),  # none: no flag, no member value
        (WrapupTimes(15.0), "0", 15),  # the flag's default for every queue
        (WrapupTimes(15.0, {"sales": 4.0}), "0", 4),  # the queue's override
        (WrapupTimes(15.0, {"sales": 4.0}), "7", 7),  # the member's own Wrapuptime wins
    ],
)
def test_wrapup_time_member_value_queue_flag_override_and_none(
    wrapup: WrapupTimes, own: str, seconds: int
) -> None:
    pbx, clocks = model(wrapup)
    clocks.wall_now = WALL0 + 0.25  # Asterisk's LastCall is whole seconds: wrap-up ends on one
    pbx.apply("QueueMemberAdded", bob(Wrapuptime=own))
    complete(pbx)
    expected_end = WALL0 + seconds
    if seconds == 0:
        assert state(pbx) == ("available", WALL0 + 0.25)
        return
    assert state(pbx) == ("wrapup", WALL0 + 0.25)
    clocks.advance(seconds - 0.26)
    assert state(pbx)[0] == "wrapup"
    clocks.advance(0.02)
    # The end of a wrap-up needs no event; its time is the wrap-up's end, the same at every scrape.
    assert state(pbx) == ("available", expected_end)
    clocks.advance(100)
    assert state(pbx) == ("available", expected_end)
    # The next event folds it in without changing the time.
    pbx.apply("QueueMemberStatus", bob(Wrapuptime=own, LastCall=str(int(WALL0))))
    assert member(pbx).agent.state == AVAILABLE
    assert state(pbx) == ("available", expected_end)


def test_wrapup_from_last_call_when_the_call_was_not_seen() -> None:
    """app_queue's default shared_lastcall: a call taken in one queue starts the wrap-up in every
    queue of the member, with the wrap-up time of the queue that took the call unless the member
    has its own; the member events that follow carry the same LastCall. A member first seen in a
    snapshot is in wrap-up from its LastCall."""
    pbx, clocks = model(WrapupTimes(0.0, {"sales": 2.0, "support": 9.0}))
    pbx.apply("QueueMemberAdded", bob())
    pbx.apply("QueueMemberAdded", bob(Queue="support"))
    pbx.apply("QueueMemberAdded", bob(Queue="billing", Wrapuptime="5"))
    complete(pbx, queue="support")  # at WALL0
    assert [state(pbx, q) for q in ("sales", "support", "billing")] == [("wrapup", WALL0)] * 3
    clocks.advance(1.5)
    for queue in ("sales", "billing"):
        own = "5" if queue == "billing" else "0"
        pbx.apply("QueueMemberStatus", bob(Queue=queue, LastCall=str(int(WALL0)), Wrapuptime=own))
    assert state(pbx, "sales") == ("wrapup", WALL0)  # support's 9 s, not sales' 2 s
    clocks.advance(4)
    assert [state(pbx, q)[0] for q in ("sales", "support", "billing")] == ["wrapup", "wrapup", "available"]
    clocks.advance(4)
    assert [state(pbx, q)[0] for q in ("sales", "support", "billing")] == ["available"] * 3
    assert member(pbx, "sales").agent.answered == 0  # the call counts in support only

    fresh, fresh_clocks = model(WrapupTimes(30.0))
    fresh_clocks.wall_now = WALL0 + 12
    fresh.reconcile_queues(snapshot(bob(LastCall=str(int(WALL0)))))
    assert state(fresh) == ("wrapup", WALL0)  # began with the last call
    fresh_clocks.advance(18)
    assert state(fresh) == ("available", WALL0 + 30)


def test_wall_clock_steps_do_not_stretch_a_wrapup() -> None:
    pbx, clocks = model(WrapupTimes(10.0))
    pbx.apply("QueueMemberAdded", bob())
    complete(pbx)
    clocks.wall_now -= 3600  # NTP steps the wall clock back an hour
    clocks.mono_now += 10
    assert state(pbx)[0] == "available"


# -- pauses -------------------------------------------------------------------------------------


def paused_seconds(
    pbx: PBX, queue: str = "sales", interface: str = "Local/agent2@agents/n"
) -> dict[str, float]:
    return member(pbx, queue, interface).agent.paused_totals(pbx.monotonic())


def test_pause_spans_by_reason_including_the_one_in_progress() -> None:
    pbx, clocks = model()
    pbx.apply("QueueMemberAdded", bob())
    pbx.apply("QueueMemberPause", bob(Paused="1", PausedReason="lunch", LastPause=str(int(WALL0))))
    assert state(pbx) == ("paused", WALL0)
    clocks.advance(30)
    assert paused_seconds(pbx) == {"lunch": 30.0}  # the pause in progress counts up to now
    # Pausing a paused member again is another event and may change the reason.
    pbx.apply("QueueMemberPause", bob(Paused="1", PausedReason="café ☕", LastPause=str(int(WALL0 + 30))))
    assert state(pbx) == ("paused", WALL0 + 30)
    assert member(pbx).agent.pause_reason == "café ☕"  # exact, non-ASCII kept
    clocks.advance(5)
    pbx.apply("QueueMemberPause", bob(Paused="0"))
    clocks.advance(100)
    assert paused_seconds(pbx) == {"lunch": 30.0, "café ☕": 5.0}
    assert state(pbx) == ("available", WALL0 + 35)
    # An empty reason is "none"; a status event while paused is not a new pause.
    pbx.apply("QueueMemberPause", bob(Paused="1", PausedReason=""))
    clocks.advance(2)
    pbx.apply("QueueMemberStatus", bob(Paused="1", PausedReason="", Status="2"))
    clocks.advance(3)
    assert paused_seconds(pbx)["none"] == 5.0
    assert state(pbx) == ("paused", WALL0 + 135)


def test_a_pause_that_began_before_we_connected_starts_at_last_pause() -> None:
    pbx, clocks = model()
    reply = snapshot(bob(Paused="1", PausedReason="training", LastPause=str(int(WALL0 - 600))))
    pbx.reconcile_queues(reply)
    assert state(pbx) == ("paused", WALL0 - 600)
    assert paused_seconds(pbx) == {"training": 600.0}
    clocks.advance(60)
    pbx.reconcile_queues(reply)  # the same pause, seen again: nothing restarts
    assert paused_seconds(pbx) == {"training": 660.0}
    assert state(pbx) == ("paused", WALL0 - 600)


def test_removal_ends_the_pause_and_counters_survive_remove_and_re_add() -> None:
    pbx, clocks = model()
    pbx.apply("QueueMemberAdded", bob())
    complete(pbx, talk=42)
    pbx.apply(
        "AgentRingNoAnswer", {"Queue": "sales", "Interface": "Local/agent2@agents/n", "MemberName": "Bob"}
    )
    pbx.apply("QueueMemberPause", bob(Paused="1", PausedReason="end of shift"))
    clocks.advance(4)
    pbx.apply("QueueMemberRemoved", bob(Paused="1", PausedReason="end of shift"))
    clocks.advance(1000)
    retired = pbx.queues.agents.retired[("sales", "Bob")]
    assert (retired.answered, retired.ring_noanswer, retired.talk_seconds) == (1, 1, 42)
    assert retired.paused_totals(pbx.monotonic()) == {"end of shift": 4.0}  # ended with the removal
    pbx.apply("QueueMemberAdded", bob(Interface="PJSIP/bob-desk"))  # back, on another phone
    again = member(pbx, interface="PJSIP/bob-desk")
    assert again.agent is retired and not pbx.queues.agents.retired
    assert state(pbx, interface="PJSIP/bob-desk") == ("available", WALL0 + 1004)
    complete(pbx, interface="PJSIP/bob-desk", talk=8)
    assert (again.agent.answered, again.agent.talk_seconds) == (2, 50)


def test_counters_survive_snapshots_and_a_member_missing_from_one() -> None:
    pbx, _clocks = model()
    pbx.apply("QueueMemberAdded", bob())
    complete(pbx, talk=10)
    record = member(pbx).agent
    reply = snapshot(bob())
    pbx.reconcile_queues(reply)  # a reconnect: every Member object is replaced
    assert member(pbx).agent is record and record.answered == 1
    empty = QueueSnapshot.from_items([("QueueParams", {"Queue": "sales"})])
    pbx.reconcile_queues(empty)  # logged off while we were away
    assert ("sales", "Bob") in pbx.queues.agents.retired
    pbx.reconcile_queues(reply)
    assert member(pbx).agent is record and record.talk_seconds == 10
    # A queue that disappears takes its agents' counters with it, like its own.
    pbx.reconcile_queues(QueueSnapshot.from_items([]))
    assert not pbx.queues.agents.records and not pbx.queues.agents.retired


def test_events_for_unknown_members_are_kept_for_them() -> None:
    pbx, _clocks = model()
    fields = {"Queue": "sales", "Interface": "Local/agent2@agents/n", "MemberName": "Bob"}
    pbx.apply("AgentConnect", fields)  # before the first snapshot told us about Bob
    pbx.apply("AgentComplete", {**fields, "TalkTime": "12"})
    pbx.apply("AgentRingNoAnswer", fields)
    pbx.reconcile_queues(snapshot(bob()))
    record = member(pbx).agent
    assert (record.answered, record.ring_noanswer, record.talk_seconds) == (1, 1, 12)


def test_removed_members_are_kept_up_to_the_member_cap() -> None:
    pbx, _clocks = model(member=3)
    for i in range(5):
        pbx.apply("QueueMemberAdded", bob(MemberName=f"Agent {i}", Interface=f"PJSIP/{i}"))
        pbx.apply("QueueMemberRemoved", bob(MemberName=f"Agent {i}", Interface=f"PJSIP/{i}"))
    assert [label for _queue, label in pbx.queues.agents.retired] == ["Agent 2", "Agent 3", "Agent 4"]


def test_shared_member_name_gets_the_interface_label_and_its_own_counters() -> None:
    pbx, _clocks = model()
    pbx.apply("QueueMemberAdded", bob())
    pbx.apply("QueueMemberAdded", bob(Interface="PJSIP/bob2"))
    assert member(pbx, interface="PJSIP/bob2").name == "PJSIP/bob2"
    pbx.apply("AgentConnect", {"Queue": "sales", "Interface": "PJSIP/bob2", "MemberName": "Bob"})
    assert member(pbx).agent.answered == 0
    assert member(pbx, interface="PJSIP/bob2").agent.answered == 1


def test_pause_reasons_are_capped() -> None:
    pbx, _clocks = model(pause_reason=2)
    for i in range(4):
        pbx.apply(
            "QueueMemberPause",
            bob(Interface=f"PJSIP/{i}", MemberName=f"A{i}", Paused="1", PausedReason=f"r{i}"),
        )
    reasons = [m.agent.pause_reason for m in pbx.queues.queues["sales"].members.values()]
    assert reasons == ["r0", "r1", "__overflow__", "__overflow__"]
    assert pbx.caps.overflows["pause_reason"] == 2


def test_asterisks_last_call_corrects_our_reading_of_the_completion_time() -> None:
    """Asterisk stamped LastCall 1000 s when the call ended at 1000.8; we read AgentComplete at
    1001.2 and take 1001 until the next member event brings Asterisk's own value."""
    pbx, clocks = model(WrapupTimes(5.0))
    clocks.wall_now = WALL0 + 1.2
    pbx.apply("QueueMemberAdded", bob())
    complete(pbx)
    assert member(pbx).agent.wrapup_end == WALL0 + 1 + 5
    pbx.apply("QueueMemberStatus", bob(LastCall=str(int(WALL0)), CallsTaken="1"))
    assert member(pbx).agent.wrapup_end == WALL0 + 5
    clocks.advance(3.9)  # WALL0 + 5.1
    assert state(pbx) == ("available", WALL0 + 5)
    # An older LastCall (a status event about the call before) never moves it back further.
    pbx.apply("QueueMemberStatus", bob(LastCall=str(int(WALL0 - 60))))
    assert member(pbx).agent.last_call == int(WALL0)


def test_the_events_timestamp_stands_in_for_last_call_when_asterisk_sends_one() -> None:
    """manager.conf timestampevents = yes: AgentComplete read 2.7 s late (folding was behind)
    still starts the wrap-up at the second Asterisk stamped, not at the second we read it."""
    pbx, clocks = model(WrapupTimes(5.0))
    clocks.wall_now = WALL0 + 3.5
    pbx.apply("QueueMemberAdded", bob())
    fields = {"Queue": "sales", "Interface": "Local/agent2@agents/n", "MemberName": "Bob"}
    pbx.apply("AgentConnect", {**fields, "HoldTime": "2"})
    pbx.apply("AgentComplete", {**fields, "TalkTime": "30", "Timestamp": f"{WALL0 + 0.8:.6f}"})
    assert member(pbx).agent.wrapup_end == WALL0 + 5
    clocks.advance(1.6)  # WALL0 + 5.1
    assert state(pbx) == ("available", WALL0 + 5)
    # A Timestamp from a clock ahead of ours (or garbage) is not trusted: our reading stands in.
    for stamp in (f"{WALL0 + 60:.6f}", "soon", "-1"):
        again, again_clocks = model(WrapupTimes(5.0))
        again_clocks.wall_now = WALL0 + 3.5
        again.apply("QueueMemberAdded", bob())
        again.apply("AgentComplete", {**fields, "TalkTime": "30", "Timestamp": stamp})
        assert member(again).agent.wrapup_end == WALL0 + 3 + 5, stamp
