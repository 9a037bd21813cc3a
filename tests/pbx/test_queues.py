"""Queue fold and reconcile: the traps listed in ami_exporter/pbx/queues.py."""

from __future__ import annotations

from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.pbx.agents import AVAILABLE


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def member_blob(**fields: str) -> dict[str, str]:
    blob = {
        "Queue": "sales",
        "MemberName": "Bob",
        "Interface": "Local/agent2@agents/n",
        "StateInterface": "Local/agent2@agents/n",
        "Membership": "static",
        "Penalty": "0",
        "CallsTaken": "1",
        "LastCall": "1795841646",
        "LastPause": "1795841642",
        "LoginTime": "1795841432",
        "InCall": "0",
        "Status": "1",
        "Paused": "1",
        "PausedReason": "lunch",
        "Ringinuse": "0",
        "Wrapuptime": "0",
    }
    blob.update(fields)
    return blob


def test_join_count_is_authoritative_and_longest_wait_grows() -> None:
    clock = Clock()
    pbx = PBX(now=clock, monotonic=clock)
    pbx.apply("QueueCallerJoin", {"Queue": "sales", "Uniqueid": "a", "Position": "1", "Count": "3"})
    queue = pbx.queues.queues["sales"]
    assert queue.count == 3  # two callers joined before we connected
    clock.now += 12.5
    assert queue.longest_wait(clock.now) == 12.5
    pbx.apply("QueueCallerLeave", {"Queue": "sales", "Uniqueid": "a", "Count": "2"})
    assert queue.count == 2
    assert queue.longest_wait(clock.now) == 0.0


def test_leave_for_unknown_caller_and_missing_count_never_go_negative() -> None:
    pbx = PBX()
    pbx.apply("QueueCallerLeave", {"Queue": "sales", "Uniqueid": "ghost", "Count": "-4"})
    pbx.apply("QueueCallerLeave", {"Queue": "sales"})
    assert pbx.queues.queues["sales"].count == 0


def test_abandon_includes_timeouts_and_observes_holdtime() -> None:
    pbx = PBX()
    pbx.apply("QueueCallerAbandon", {"Queue": "billing", "HoldTime": "10", "Position": "1"})
    queue = pbx.queues.queues["billing"]
    assert queue.abandons == 1
    buckets, total, count = queue.wait_abandoned.cumulative()
    assert (total, count) == (10, 1)
    assert dict(buckets)["10"] == 1  # le is inclusive
    assert dict(buckets)["5"] == 0


def test_agent_complete_without_caller_fields() -> None:
    pbx = PBX()
    pbx.apply("QueueMemberAdded", member_blob(Paused="0", InCall="1", Status="2"))
    # b20's AgentComplete starts with DestChannel: no Channel, Uniqueid or CallerID fields.
    pbx.apply(
        "AgentComplete",
        {
            "DestChannel": "Local/agent2@agents-00000052;1",
            "Queue": "sales",
            "Interface": "Local/agent2@agents/n",
            "MemberName": "Bob",
            "HoldTime": "3",
            "TalkTime": "11",
            "Reason": "agent",
        },
    )
    queue = pbx.queues.queues["sales"]
    assert queue.completed == {"agent": 1}
    assert queue.talk.cumulative()[1:] == (11, 1)
    assert not queue.members["Local/agent2@agents/n"].in_call


def test_connect_observes_answered_wait_in_seconds() -> None:
    pbx = PBX()
    # AgentConnect RingTime is seconds; AgentRingNoAnswer's is milliseconds: neither is a wait.
    pbx.apply("AgentRingNoAnswer", {"Queue": "sales", "Interface": "Local/a@x/n", "RingTime": "8000"})
    pbx.apply(
        "AgentConnect", {"Queue": "sales", "Interface": "Local/a@x/n", "HoldTime": "42", "RingTime": "1"}
    )
    queue = pbx.queues.queues["sales"]
    assert queue.ring_noanswer == 1
    assert queue.answered == 1
    assert queue.wait_answered.cumulative()[1:] == (42, 1)


def test_member_events_update_the_full_blob_and_pause_reason() -> None:
    pbx = PBX()
    pbx.apply("QueueMemberStatus", member_blob())
    member = pbx.queues.queues["sales"].members["Local/agent2@agents/n"]
    assert (member.name, member.status, member.paused, member.paused_reason) == ("Bob", 1, True, "lunch")
    assert (member.calls_taken, member.last_call, member.login_time) == (1, 1795841646, 1795841432)
    pbx.apply("QueueMemberPause", member_blob(Paused="0", PausedReason=""))
    assert not member.paused
    assert member.agent.state == AVAILABLE
    pbx.apply("QueueMemberRemoved", member_blob())
    assert pbx.queues.queues["sales"].members == {}


def queue_status(
    *, members: list[dict[str, str]], entries: list[dict[str, str]], queues: tuple[str, ...] = ("sales",)
) -> QueueSnapshot:
    items: list[tuple[str, dict[str, str]]] = [
        (
            "QueueParams",
            {
                "Queue": name,
                "Max": "0",
                "Strategy": "ringall",
                "Calls": "0",
                "Holdtime": "11",
                "TalkTime": "10",
                "Completed": "5",
                "Abandoned": "2",
                "ServiceLevel": "30",
                "ServicelevelPerf": "80.0",
                "ServicelevelPerf2": "85.7",
                "Weight": "0",
            },
        )
        for name in queues
    ]
    items += [("QueueMember", fields) for fields in members]
    items += [("QueueEntry", fields) for fields in entries]
    return QueueSnapshot.from_items(items)


def test_reconcile_uses_name_and_location_and_counts_corrections() -> None:
    clock = Clock(2000.0)
    pbx = PBX(now=clock, monotonic=clock)
    pbx.apply("QueueMemberStatus", member_blob(Paused="0", Status="2", Ringinuse="1"))
    pbx.apply("QueueCallerJoin", {"Queue": "sales", "Uniqueid": "known", "Count": "1"})
    pbx.apply("QueueCallerJoin", {"Queue": "gone", "Uniqueid": "x", "Count": "1"})
    clock.now += 5
    snapshot = queue_status(
        members=[
            {
                "Queue": "sales",
                "Name": "Bob",
                "Location": "Local/agent2@agents/n",
                "Status": "1",
                "Paused": "1",
                "PausedReason": "lunch",
                "InCall": "0",
            },
            {
                "Queue": "sales",
                "Name": "Alice",
                "Location": "Local/agent1@agents/n",
                "Status": "1",
                "Paused": "0",
            },
        ],
        entries=[
            {"Queue": "sales", "Uniqueid": "known", "Position": "1", "Wait": "5"},
            {"Queue": "sales", "Uniqueid": "before-us", "Position": "2", "Wait": "40"},
        ],
    )
    corrections = pbx.reconcile_queues(snapshot)
    # Bob's status and pause changed, Alice was unknown; one caller was unknown; queue "gone" vanished.
    assert corrections == {"queue": 1, "queue_member": 2, "queue_caller": 1}
    assert pbx.corrections["queue_member"] == 2
    sales = pbx.queues.queues["sales"]
    assert "gone" not in pbx.queues.queues
    assert sales.count == 2
    assert sales.callers["known"].joined == 2000.0  # the event's receive time is kept
    assert sales.callers["before-us"].joined == clock.now - 40  # now - Wait
    assert sales.longest_wait(clock.now) == 40
    bob = sales.members["Local/agent2@agents/n"]
    assert (bob.name, bob.paused, bob.ringinuse) == ("Bob", True, True)  # Ringinuse kept from events
    assert sales.params is not None
    assert (sales.params.completed, sales.params.abandoned, sales.params.holdtime) == (5, 2, 11.0)
    assert sales.params.service_level_perf == 80.0
    # Event-derived counters survive reconciles.
    assert sales.joins == 1
    # A second identical snapshot corrects nothing.
    assert pbx.reconcile_queues(snapshot) == {"queue": 0, "queue_member": 0, "queue_caller": 0}


def test_partial_snapshot_keeps_other_queues() -> None:
    pbx = PBX()
    pbx.apply("QueueCallerJoin", {"Queue": "billing", "Uniqueid": "b", "Count": "1"})
    snapshot = queue_status(members=[], entries=[])
    snapshot.partial = True
    pbx.reconcile_queues(snapshot)
    assert set(pbx.queues.queues) == {"billing", "sales"}


def test_member_label_slot_is_freed_only_when_no_queue_has_the_member() -> None:
    pbx = PBX(caps={"member": 2})
    pbx.apply("QueueMemberAdded", member_blob(Queue="sales", MemberName="Bob"))
    pbx.apply("QueueMemberAdded", member_blob(Queue="support", MemberName="Bob"))
    pbx.apply("QueueMemberAdded", member_blob(Queue="sales", MemberName="Eve", Interface="PJSIP/eve"))
    pbx.apply("QueueMemberRemoved", member_blob(Queue="sales", MemberName="Bob"))
    # Bob is still in support: the cap (2) is still full, a third name overflows.
    pbx.apply("QueueMemberAdded", member_blob(Queue="sales", MemberName="Zoe", Interface="PJSIP/zoe"))
    assert pbx.queues.queues["sales"].members["PJSIP/zoe"].name == "__overflow__"
    pbx.apply("QueueMemberRemoved", member_blob(Queue="support", MemberName="Bob"))
    pbx.apply("QueueMemberAdded", member_blob(Queue="billing", MemberName="Ann", Interface="PJSIP/ann"))
    assert pbx.queues.queues["billing"].members["PJSIP/ann"].name == "Ann"
    # A reconcile that keeps the same members neither leaks nor frees slots.
    snapshot = queue_status(
        members=[{"Queue": "sales", "Name": "Eve", "Location": "PJSIP/eve", "Status": "1"}],
        entries=[],
        queues=("sales", "billing"),
    )
    for _ in range(3):
        pbx.reconcile_queues(snapshot)
    pbx.apply("QueueMemberAdded", member_blob(Queue="sales", MemberName="Max", Interface="PJSIP/max"))
    assert pbx.queues.queues["sales"].members["PJSIP/max"].name == "Max"  # Ann's slot was freed


def test_members_sharing_a_member_name_get_unique_labels_through_the_cap() -> None:
    """Before the fix the collector labelled the second "Agent" by its interface without asking
    the cap: three namesakes made three series with a cap of two."""
    pbx = PBX(caps={"member": 2})
    for number in (1, 2, 3):
        interface = f"PJSIP/{number}"
        pbx.apply("QueueMemberAdded", member_blob(MemberName="Agent", Interface=interface))
    labels = [member.name for member in pbx.queues.queues["sales"].members.values()]
    assert labels == ["Agent", "PJSIP/2", "__overflow__"]
    assert pbx.caps.overflows["member"] == 1
    # The same rule for QueueStatus items: unique within the queue, capped.
    pbx = PBX(caps={"member": 2})
    items = [{"Queue": "sales", "Name": "Agent", "Location": f"PJSIP/{n}", "Status": "1"} for n in (1, 2, 3)]
    pbx.reconcile_queues(queue_status(members=items, entries=[]))
    labels = [member.name for member in pbx.queues.queues["sales"].members.values()]
    assert labels == ["Agent", "PJSIP/2", "__overflow__"]


def test_waits_follow_the_monotonic_clock_not_wall_clock_steps() -> None:
    wall, steady = [1_800_000_000.0], [100.0]
    pbx = PBX(now=lambda: wall[0], monotonic=lambda: steady[0])
    pbx.apply("QueueCallerJoin", {"Queue": "sales", "Uniqueid": "1.1", "Count": "1"})
    wall[0] -= 3600  # NTP steps the wall clock back an hour
    steady[0] += 10
    assert pbx.queues.queues["sales"].longest_wait(pbx.monotonic()) == 10
    pbx.reconcile_queues(
        queue_status(
            members=[], entries=[{"Queue": "sales", "Uniqueid": "1.2", "Wait": "4", "Position": "2"}]
        )
    )
    wall[0] += 7200
    steady[0] += 1
    assert pbx.queues.queues["sales"].longest_wait(pbx.monotonic()) == 5  # the snapshot's Wait + 1
