"""A call-centre-sized model, built through the model's own entry points.

Queues, members and waiting callers come from one ``QueueStatus`` snapshot shaped like
Asterisk 22's (``QueueParams``/``QueueMember``/``QueueEntry`` items, as in the b-scenario
capture) applied with ``PBX.reconcile_queues``; channels from ``Newchannel`` events folded with
``PBX.apply``. Member names repeat across queues the way agents do (each agent is a member of
several queues), so member labels are shared.
"""

from __future__ import annotations

from dataclasses import dataclass

from ami_exporter.pbx import PBX, QueueSnapshot

STATES = ("Up", "Ring", "Ringing", "Down")


@dataclass(frozen=True)
class Scale:
    queues: int = 200
    members_per_queue: int = 50
    callers: int = 500
    channels: int = 5000


FULL = Scale()
TINY = Scale(queues=4, members_per_queue=5, callers=6, channels=20)


def queue_status_items(scale: Scale, *, epoch: int = 1795841432) -> list[tuple[str, dict[str, str]]]:
    """One complete ``QueueStatus`` reply's items, in Asterisk's order (params, members, entries
    per queue)."""
    items: list[tuple[str, dict[str, str]]] = []
    callers_per_queue, extra = divmod(scale.callers, scale.queues)
    for q in range(scale.queues):
        queue = f"queue-{q:03d}"
        items.append(
            (
                "QueueParams",
                {
                    "Queue": queue,
                    "Max": "50",
                    "Strategy": "leastrecent",
                    "Calls": "0",
                    "Holdtime": "12",
                    "TalkTime": "95",
                    "Completed": "120",
                    "Abandoned": "7",
                    "ServiceLevel": "30",
                    "ServicelevelPerf": "91.3",
                    "ServicelevelPerf2": "88.0",
                    "Weight": "0",
                },
            )
        )
        for m in range(scale.members_per_queue):
            agent = (q * 7 + m) % (scale.queues * scale.members_per_queue // 4 + 1)
            interface = f"PJSIP/agent{agent:05d}"
            items.append(
                (
                    "QueueMember",
                    {
                        "Queue": queue,
                        "Name": f"Agent {agent:05d}",
                        "Location": interface,
                        "StateInterface": interface,
                        "Membership": "dynamic",
                        "Penalty": str(m % 3),
                        "CallsTaken": str(m * 3),
                        "LastCall": str(epoch + m),
                        "LastPause": "0",
                        "LoginTime": str(epoch - 3600),
                        "InCall": str(int(m % 4 == 0)),
                        "Status": str(1 + m % 3),
                        "Paused": str(int(m % 10 == 0)),
                        "PausedReason": "lunch" if m % 10 == 0 else "",
                        "Wrapuptime": "0",
                    },
                )
            )
        for position in range(callers_per_queue + (1 if q < extra else 0)):
            uniqueid = f"{epoch}.{q * 1000 + position}"
            items.append(
                (
                    "QueueEntry",
                    {
                        "Queue": queue,
                        "Position": str(position + 1),
                        "Channel": f"PJSIP/trunk-{q:03d}{position:05d}",
                        "Uniqueid": uniqueid,
                        "CallerIDNum": "3100004",
                        "CallerIDName": "Caller",
                        "ConnectedLineNum": "<unknown>",
                        "ConnectedLineName": "<unknown>",
                        "Wait": str(5 + position * 3),
                        "Priority": "0",
                    },
                )
            )
    return items


def newchannel(index: int, *, epoch: int = 1795841432) -> dict[str, str]:
    uniqueid = f"{epoch + 1}.{index}"
    return {
        "Privilege": "call,all",
        "Channel": f"PJSIP/agent{index % 2500:05d}-{index:08x}",
        "ChannelState": "6",
        "ChannelStateDesc": STATES[index % len(STATES)],
        "CallerIDNum": "3100004",
        "CallerIDName": "Caller",
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": "incoming",
        "Exten": "sales",
        "Priority": "1",
        "Uniqueid": uniqueid,
        "Linkedid": uniqueid,
    }


def build_pbx(scale: Scale, pbx: PBX | None = None) -> PBX:
    pbx = pbx or PBX()
    pbx.reconcile_queues(QueueSnapshot.from_items(queue_status_items(scale)))
    for index in range(scale.channels):
        pbx.count("Newchannel")
        pbx.apply("Newchannel", newchannel(index))
    return pbx


def check(pbx: PBX, scale: Scale) -> None:
    queues = pbx.queues.queues
    assert len(queues) == scale.queues, len(queues)
    assert sum(len(q.members) for q in queues.values()) == scale.queues * scale.members_per_queue
    assert sum(q.count for q in queues.values()) == scale.callers
    assert len(pbx.channels.channels) == scale.channels
