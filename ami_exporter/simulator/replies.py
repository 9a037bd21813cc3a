"""Replies to the read-only actions, built from the model in the captured shapes.

Each function returns the frames of one complete reply (the ack, every item and the completion
event); the session writes them in one go so that no async event is ever interleaved, as
Asterisk's ``main/manager.c`` does (the session thread writes the whole reply, list items
included, and only then flushes queued events in ``process_events()``).
"""

from __future__ import annotations

import time

from ami_exporter.pbx.codes import DEVICE_STATE_TEXT
from ami_exporter.simulator.callcenter import CallCenter, Queue
from ami_exporter.simulator.shapes import Pairs, ack, bridge_block, complete, list_item, response, snapshot

__all__ = [
    "ack",
    "complete",
    "core_settings",
    "core_show_channels",
    "core_status",
    "queue_status",
    "queue_summary",
    "response",
]


def _matches(queue: Queue, wanted: str | None) -> bool:
    return not wanted or queue.cfg.name.lower() == wanted.lower()


def _perf(part: int, whole: int) -> str:
    return f"{(100.0 * part / whole) if whole else 0.0:2.1f}"


def queue_status(
    model: CallCenter, action_id: str | None, queue: str | None, member: str | None
) -> list[Pairs]:
    frames: list[Pairs] = [ack(action_id, "Queue status will follow")]
    now = model.now()
    for q in model.queues.values():
        if not _matches(q, queue):
            continue
        cfg = q.cfg
        params: Pairs = [
            ("Queue", cfg.name),
            ("Max", str(cfg.maxlen)),
            ("Strategy", cfg.strategy),
            ("Calls", str(len(q.callers))),
            ("Holdtime", str(int(q.holdtime))),
            ("TalkTime", str(int(q.talktime))),
            ("Completed", str(q.completed)),
            ("Abandoned", str(q.abandoned)),
            ("ServiceLevel", str(cfg.servicelevel)),
            ("ServicelevelPerf", _perf(q.completed_in_sl, q.completed)),
            ("ServicelevelPerf2", _perf(q.completed_in_sl + q.abandoned_in_sl, q.completed + q.abandoned)),
            ("Weight", str(cfg.weight)),
        ]
        frames.append(list_item("QueueParams", params, action_id, first=False))
        for m in q.members.values():
            if member and member not in (m.agent.cfg.interface, m.agent.cfg.name):
                continue
            blob = m.blob()
            body: Pairs = [
                ("Queue", blob["Queue"]),
                ("Name", blob["MemberName"]),
                ("Location", blob["Interface"]),
                ("StateInterface", blob["StateInterface"]),
                ("Membership", blob["Membership"]),
                ("Penalty", blob["Penalty"]),
                ("CallsTaken", blob["CallsTaken"]),
                ("LastCall", blob["LastCall"]),
                ("LastPause", blob["LastPause"]),
                ("LoginTime", blob["LoginTime"]),
                ("InCall", blob["InCall"]),
                ("Status", blob["Status"]),
                ("Paused", blob["Paused"]),
                ("PausedReason", blob["PausedReason"]),
                ("Wrapuptime", blob["Wrapuptime"]),
            ]
            frames.append(list_item("QueueMember", body, action_id, first=False))
        for position, caller in enumerate(q.callers, 1):
            ch = caller.ch2
            entry: Pairs = [
                ("Queue", cfg.name),
                ("Position", str(position)),
                ("Channel", ch.name),
                ("Uniqueid", ch.uniqueid),
                ("CallerIDNum", ch.caller_num),
                ("CallerIDName", ch.caller_name),
                ("ConnectedLineNum", ch.connected_num),
                ("ConnectedLineName", ch.connected_name),
                ("Wait", str(int(now - caller.join_time))),
                ("Priority", "0"),
            ]
            frames.append(list_item("QueueEntry", entry, action_id, first=False))
    frames.append(complete("QueueStatusComplete", action_id, len(frames) - 1))
    return frames


def queue_summary(model: CallCenter, action_id: str | None, queue: str | None) -> list[Pairs]:
    frames: list[Pairs] = [ack(action_id, "Queue summary will follow")]
    now = model.now()
    for q in model.queues.values():
        if not _matches(q, queue):
            continue
        members = list(q.members.values())
        logged_in = sum(1 for m in members if m.agent.status not in (4, 5))
        available = sum(1 for m in members if m.agent.status in (0, 1) and not m.paused)
        longest = int(now - q.callers[0].join_time) if q.callers else 0
        body: Pairs = [
            ("Queue", q.cfg.name),
            ("LoggedIn", str(logged_in)),
            ("Available", str(available)),
            ("Callers", str(len(q.callers))),
            ("HoldTime", str(int(q.holdtime))),
            ("TalkTime", str(int(q.talktime))),
            ("LongestHoldTime", str(longest)),
        ]
        frames.append(list_item("QueueSummary", body, action_id, first=False))
    frames.append(complete("QueueSummaryComplete", action_id, len(frames) - 1))
    return frames


def core_show_channels(model: CallCenter, action_id: str | None) -> list[Pairs]:
    frames: list[Pairs] = [ack(action_id, "Channels will follow")]
    now = model.now()
    for ch in model.channels.values():
        seconds = int(now - ch.created)
        duration = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        body = [
            *snapshot(ch),
            ("Application", ch.application),
            ("ApplicationData", ch.app_data),
            ("Duration", duration),
            ("BridgeId", ch.bridge_id),
        ]
        frames.append(list_item("CoreShowChannel", body, action_id, first=True))
    frames.append(complete("CoreShowChannelsComplete", action_id, len(frames) - 1))
    return frames


def bridge_list(model: CallCenter, action_id: str | None) -> list[Pairs]:
    frames: list[Pairs] = [ack(action_id, "Bridge listing will follow")]
    for bridge in model.bridges.values():
        frames.append(list_item("BridgeListItem", bridge_block(bridge), action_id, first=True))
    frames.append(complete("BridgeListComplete", action_id, len(frames) - 1))
    return frames


def status(model: CallCenter, action_id: str | None) -> list[Pairs]:
    frames: list[Pairs] = [ack(action_id, "Channel status will follow")]
    now = model.now()
    for ch in model.channels.values():
        body: Pairs = [
            ("Event", "Status"),
            ("Privilege", "Call"),
            *snapshot(ch),
            ("Type", ch.name.split("/", 1)[0]),
            ("DNID", ""),
            ("EffectiveConnectedLineNum", ch.connected_num),
            ("EffectiveConnectedLineName", ch.connected_name),
            ("TimeToHangup", "0"),
            ("BridgeID", ch.bridge_id),
            ("Application", ch.application),
            ("Data", ch.app_data),
            ("Nativeformats", "(slin)"),
            ("Readformat", "slin"),
            ("Readtrans", ""),
            ("Writeformat", "slin"),
            ("Writetrans", ""),
            ("Callgroup", "0"),
            ("Pickupgroup", "0"),
            ("Seconds", str(int(now - ch.created))),
        ]
        if action_id is not None:
            body.append(("ActionID", action_id))
        frames.append(body)
    count = len(frames) - 1
    frames.append(complete("StatusComplete", action_id, count, ("Items", str(count))))
    return frames


def empty_list(action_id: str | None, message: str, complete_name: str) -> list[Pairs]:
    return [ack(action_id, message), complete(complete_name, action_id, 0)]


def device_state_list(model: CallCenter, action_id: str | None) -> list[Pairs]:
    frames: list[Pairs] = [ack(action_id, "Device State Changes will follow")]
    for agent in model.agents.values():
        body = [("Device", agent.device), ("State", DEVICE_STATE_TEXT[agent.status])]
        frames.append(list_item("DeviceStateChange", body, action_id, first=True))
        for m in agent.memberships:
            device = f"Queue:{m.queue.cfg.name}_pause_{agent.cfg.interface}"
            body = [("Device", device), ("State", "INUSE" if m.paused else "NOT_INUSE")]
            frames.append(list_item("DeviceStateChange", body, action_id, first=True))
    if model.sip is not None:  # phones that are no queue member, softphones, trunks
        for device, state in model.sip.devices():
            frames.append(
                list_item("DeviceStateChange", [("Device", device), ("State", state)], action_id, first=True)
            )
    frames.append(complete("DeviceStateListComplete", action_id, len(frames) - 1))
    return frames


def _date_time(epoch: float) -> tuple[str, str]:
    tm = time.gmtime(epoch)
    return time.strftime("%Y-%m-%d", tm), time.strftime("%H:%M:%S", tm)


def core_status(model: CallCenter, action_id: str | None) -> list[Pairs]:
    start_date, start_time = _date_time(model.boot_time)
    reload_date, reload_time = _date_time(model.reload_time)
    return [
        response(
            "Success",
            action_id,
            ("CoreStartupDate", start_date),
            ("CoreStartupTime", start_time),
            ("CoreReloadDate", reload_date),
            ("CoreReloadTime", reload_time),
            ("CoreCurrentCalls", str(len(model.channels))),
            ("CoreProcessedCalls", str(model.processed_calls)),
        )
    ]


def core_settings(model: CallCenter, action_id: str | None) -> list[Pairs]:
    return [
        response(
            "Success",
            action_id,
            ("AMIversion", "11.0.0"),
            ("AsteriskVersion", model.config.asterisk_version),
            ("SystemName", ""),
            ("CoreMaxCalls", "2000"),
            ("CoreMaxLoadAvg", "0.000000"),
            ("CoreRunUser", "asterisk"),
            ("CoreRunGroup", "asterisk"),
            ("CoreMaxFilehandles", "0"),
            ("CoreRealTimeEnabled", "No"),
            ("CoreCDRenabled", "Yes"),
            ("CoreHTTPenabled", "Yes"),
            ("SoundsSearchCustomDir", "No"),
        )
    ]
