"""Benchmark 4: resident memory per tracked channel and per queue member, and after churn.

Each figure is a difference of this process's RSS (``/proc/self/statm``) after ``gc.collect()``,
so it includes allocator overhead and is an upper bound on what the model holds:

* channels: 100,000 ``Newchannel`` events folded into an empty model (then per 1,000);
* members: a ``QueueStatus`` snapshot with 200 queues x 50 distinct members applied to an empty
  model, from before the snapshot is built to after its items are freed (then per 1,000);
* churn: on the 200 x 50 / 5,000-channel model, ``--events`` events of calls that are created
  and finished (Newchannel, QueueCallerJoin, Newstate, AgentConnect, BridgeCreate/Enter,
  QueueCallerLeave, AgentComplete, Hangup x 2, BridgeDestroy, Cdr: 13 per call, every
  Uniqueid new); RSS after a warm-up of 10 % of them and at the end must agree within 5 %.

Run: ``python -m bench.memory`` (``--events 1000000``).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from dataclasses import dataclass

from ami_exporter.pbx import PBX, QueueSnapshot

from .common import machine, print_table, rss_bytes
from .model import FULL, Scale, build_pbx, newchannel, queue_status_items


def _settled_rss() -> int:
    gc.collect()
    return rss_bytes()


@dataclass
class PerObject:
    rss: float  # bytes of RSS per object (upper bound: includes freed garbage kept in arenas)
    traced: float  # bytes still allocated per object, per tracemalloc (what the model retains)


def channel_bytes(count: int) -> PerObject:
    pbx = PBX()
    before = _settled_rss()
    for index in range(count):
        pbx.apply("Newchannel", newchannel(index))
    after = _settled_rss()
    assert len(pbx.channels.channels) == count
    tracemalloc.start()
    traced_pbx = PBX()
    for index in range(count // 10):
        traced_pbx.apply("Newchannel", newchannel(index))
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] / (count // 10)
    tracemalloc.stop()
    return PerObject((after - before) / count, traced)


def _member_snapshot(queues: int, per_queue: int) -> list[tuple[str, dict[str, str]]]:
    scale = Scale(queues=queues, members_per_queue=per_queue, callers=0, channels=0)
    items = queue_status_items(scale)
    for number, (name, fields) in enumerate(items):
        if name == "QueueMember":  # every queue its own agents: the worst case for memory
            fields["Location"] = f"PJSIP/agent-{number:06d}"
            fields["StateInterface"] = f"PJSIP/agent-{number:06d}"
            fields["Name"] = f"Agent {number:06d}"
            fields["Membership"] = "dynamic"[:-1] + "c"  # a string of its own, as off the wire
    return items


def member_bytes(queues: int, per_queue: int) -> PerObject:
    """RSS from before the snapshot is built to after its items are freed; tracemalloc of
    what stays allocated once the items are gone."""
    members = queues * per_queue
    before = _settled_rss()
    pbx = PBX(caps={"member": members})
    items = _member_snapshot(queues, per_queue)
    pbx.reconcile_queues(QueueSnapshot.from_items(items))
    del items
    after = _settled_rss()
    assert sum(len(q.members) for q in pbx.queues.queues.values()) == members
    tracemalloc.start()
    traced_pbx = PBX(caps={"member": members})
    items = _member_snapshot(queues, per_queue)
    traced_pbx.reconcile_queues(QueueSnapshot.from_items(items))
    del items
    gc.collect()
    traced = tracemalloc.get_traced_memory()[0] / members
    tracemalloc.stop()
    return PerObject((after - before) / members, traced)


def call_events(call: int, queues: int) -> list[tuple[str, dict[str, str]]]:
    """One queue call from start to finish, as the model sees it."""
    queue = f"queue-{call % queues:03d}"
    caller, agent, bridge = f"1800000000.{call * 2}", f"1800000000.{call * 2 + 1}", f"bridge-{call}"
    member = {"Queue": queue, "Interface": "PJSIP/agent00001", "MemberName": "Agent 00001"}
    return [
        ("Newchannel", {**newchannel(call * 2), "Uniqueid": caller, "Linkedid": caller}),
        ("QueueCallerJoin", {"Queue": queue, "Uniqueid": caller, "Position": "1", "Count": "1"}),
        ("Newchannel", {**newchannel(call * 2 + 1), "Uniqueid": agent, "Linkedid": caller}),
        ("Newstate", {"Uniqueid": agent, "ChannelStateDesc": "Up"}),
        ("AgentConnect", {**member, "Uniqueid": caller, "HoldTime": str(call % 60), "RingTime": "3"}),
        ("QueueCallerLeave", {"Queue": queue, "Uniqueid": caller, "Position": "1", "Count": "0"}),
        ("BridgeCreate", {"BridgeUniqueid": bridge}),
        ("BridgeEnter", {"BridgeUniqueid": bridge, "Uniqueid": caller}),
        (
            "AgentComplete",
            {**member, "Uniqueid": caller, "HoldTime": "5", "TalkTime": str(call % 600), "Reason": "agent"},
        ),
        ("Hangup", {"Uniqueid": agent, "Channel": "PJSIP/agent00001-1", "Cause": "16"}),
        ("Hangup", {"Uniqueid": caller, "Channel": "PJSIP/trunk-1", "Cause": "16"}),
        ("BridgeDestroy", {"BridgeUniqueid": bridge}),
        ("Cdr", {"Disposition": "ANSWERED", "BillableSeconds": "42", "Duration": "50"}),
    ]


@dataclass
class ChurnResult:
    events: int
    seconds: float
    rss_warm: int
    rss_end: int
    channels_end: int


def churn(scale: Scale, events: int) -> ChurnResult:
    pbx = build_pbx(scale)
    channels_before = len(pbx.channels.channels)
    per_call = len(call_events(0, scale.queues))
    calls = max(1, events // per_call)
    warm_up = calls // 10
    rss_warm = 0
    started = time.perf_counter()
    for call in range(calls):
        if call == warm_up:
            rss_warm = _settled_rss()
        for name, fields in call_events(call, scale.queues):
            pbx.count(name)
            pbx.apply(name, fields)
    seconds = time.perf_counter() - started
    rss_end = _settled_rss()
    assert len(pbx.channels.channels) == channels_before
    return ChurnResult(calls * per_call, seconds, rss_warm, rss_end, len(pbx.channels.channels))


def report(per_channel: PerObject, per_member: PerObject, result: ChurnResult) -> None:
    drift = (result.rss_end - result.rss_warm) / result.rss_warm * 100
    rows: list[tuple[object, ...]] = [
        (
            "per 1,000 tracked channels",
            f"{per_channel.rss * 1000 / 1024:,.0f} KiB RSS",
            f"{per_channel.traced * 1000 / 1024:,.0f} KiB retained",
        ),
        (
            "per 1,000 queue members",
            f"{per_member.rss * 1000 / 1024:,.0f} KiB RSS",
            f"{per_member.traced * 1000 / 1024:,.0f} KiB retained",
        ),
        (f"RSS after warm-up, churn of {result.events:,} events", f"{result.rss_warm / 2**20:,.1f} MiB", ""),
        ("RSS at the end of the churn", f"{result.rss_end / 2**20:,.1f} MiB", f"{drift:+.1f} %"),
        ("churn fold rate (events/s, in memory)", f"{result.events / result.seconds:,.0f}", ""),
    ]
    print_table(f"Memory; {machine()}", ("what", "value", ""), rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    per_channel = channel_bytes(100_000)
    per_member = member_bytes(200, 50)
    report(per_channel, per_member, churn(FULL, args.events))


if __name__ == "__main__":
    main()
