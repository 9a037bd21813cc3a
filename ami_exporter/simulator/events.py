"""Builders for every async event the simulator emits, field order as in Asterisk 22.10.1."""

from __future__ import annotations

from collections.abc import Mapping

from ami_exporter.simulator.shapes import (
    CAUSE_TEXT,
    MEMBER_FIELDS,
    Bridge,
    Channel,
    Event,
    Pairs,
    bridge_block,
    c_escape,
    event,
    snapshot,
)

# --- channels -------------------------------------------------------------------------------


def newchannel(ch: Channel) -> Event:
    return event("Newchannel", snapshot(ch))


def newstate(ch: Channel) -> Event:
    return event("Newstate", snapshot(ch))


def new_callerid(ch: Channel) -> Event:
    return event("NewCallerid", snapshot(ch), [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])


def new_connected_line(ch: Channel) -> Event:
    return event("NewConnectedLine", snapshot(ch))


def newexten(ch: Channel, application: str, app_data: str) -> Event:
    ch.application = application
    ch.app_data = app_data
    return event(
        "Newexten",
        snapshot(ch),
        [("Extension", ch.exten), ("Application", application), ("AppData", app_data)],
    )


def varset(ch: Channel, variable: str, value: str) -> Event:
    return event("VarSet", snapshot(ch), [("Variable", variable), ("Value", c_escape(value))])


def hangup_request(ch: Channel, cause: int, *, soft: bool) -> Event:
    return event("SoftHangupRequest" if soft else "HangupRequest", snapshot(ch), [("Cause", str(cause))])


def hangup(ch: Channel, cause: int) -> Event:
    return event(
        "Hangup", snapshot(ch), [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
    )


def dial_begin(caller: Channel | None, dest: Channel, dial_string: str) -> Event:
    parts: list[Pairs] = [] if caller is None else [snapshot(caller)]
    return event("DialBegin", *parts, snapshot(dest, "Dest"), [("DialString", dial_string)])


def dial_state(caller: Channel, dest: Channel, status: str) -> Event:
    return event("DialState", snapshot(caller), snapshot(dest, "Dest"), [("DialStatus", status)])


def dial_end(caller: Channel | None, dest: Channel, status: str) -> Event:
    parts: list[Pairs] = [] if caller is None else [snapshot(caller)]
    return event("DialEnd", *parts, snapshot(dest, "Dest"), [("DialStatus", status)])


def local_bridge(one: Channel, two: Channel) -> Event:
    return event(
        "LocalBridge",
        snapshot(one, "LocalOne"),
        snapshot(two, "LocalTwo"),
        [("Context", two.context), ("Exten", two.exten), ("LocalOptimization", "Yes")],
    )


def device_state_change(device: str, state: str) -> Event:
    return event("DeviceStateChange", [("Device", device), ("State", state)])


def cel(
    event_name: str, ch: Channel, event_time: str, *, caller: bool = True, peer: str = "", extra: str = ""
) -> Event:
    num = ch.caller_num if caller and ch.caller_num != "<unknown>" else ""
    name = ch.caller_name if caller and ch.caller_name != "<unknown>" else ""
    return event(
        "CEL",
        [
            ("EventName", event_name),
            ("AccountCode", ch.account),
            ("CallerIDnum", num),
            ("CallerIDname", name),
            ("CallerIDani", num),
            ("CallerIDrdnis", ""),
            ("CallerIDdnid", ""),
            ("Exten", ch.exten),
            ("Context", ch.context),
            ("Channel", ch.name),
            ("Application", ch.application),
            ("AppData", ch.app_data),
            ("EventTime", event_time),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", ch.uniqueid),
            ("LinkedID", ch.linkedid),
            ("Userfield", ""),
            ("Peer", peer),
            ("PeerAccount", ""),
            ("Extra", extra),
        ],
    )


def cdr(
    *,
    source: str,
    destination: str,
    context: str,
    callerid: str,
    channel: str,
    dest_channel: str,
    last_app: str,
    last_data: str,
    start: str,
    answer: str,
    end: str,
    duration: int,
    billable: int,
    disposition: str,
    uniqueid: str,
) -> Event:
    return event(
        "Cdr",
        [
            ("AccountCode", ""),
            ("Source", source),
            ("Destination", destination),
            ("DestinationContext", context),
            ("CallerID", callerid),
            ("Channel", channel),
            ("DestinationChannel", dest_channel),
            ("LastApplication", last_app),
            ("LastData", last_data),
            ("StartTime", start),
            ("AnswerTime", answer),
            ("EndTime", end),
            ("Duration", str(duration)),
            ("BillableSeconds", str(billable)),
            ("Disposition", disposition),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", uniqueid),
            ("UserField", ""),
        ],
    )


# --- bridges ---------------------------------------------------------------------------------


def bridge_create(bridge: Bridge) -> Event:
    return event("BridgeCreate", bridge_block(bridge))


def bridge_destroy(bridge: Bridge) -> Event:
    return event("BridgeDestroy", bridge_block(bridge))


def bridge_enter(bridge: Bridge, ch: Channel) -> Event:
    return event("BridgeEnter", bridge_block(bridge), snapshot(ch))


def bridge_leave(bridge: Bridge, ch: Channel) -> Event:
    return event("BridgeLeave", bridge_block(bridge), snapshot(ch))


# --- queues ----------------------------------------------------------------------------------


def queue_caller_join(ch: Channel, queue: str, position: int, count: int) -> Event:
    return event(
        "QueueCallerJoin",
        snapshot(ch),
        [("Queue", queue), ("Position", str(position)), ("Count", str(count))],
    )


def queue_caller_leave(ch: Channel, queue: str, position: int, count: int) -> Event:
    return event(
        "QueueCallerLeave",
        snapshot(ch),
        [("Queue", queue), ("Position", str(position)), ("Count", str(count))],
    )


def queue_caller_abandon(ch: Channel, queue: str, position: int, original: int, hold: int) -> Event:
    return event(
        "QueueCallerAbandon",
        snapshot(ch),
        [
            ("Queue", queue),
            ("Position", str(position)),
            ("OriginalPosition", str(original)),
            ("HoldTime", str(hold)),
        ],
    )


def _agent(
    name: str,
    caller: Channel | None,
    dest: Channel,
    queue: str,
    interface: str,
    member_name: str,
    extra: Pairs,
) -> Event:
    parts: list[Pairs] = [] if caller is None else [snapshot(caller)]
    return event(
        name,
        *parts,
        snapshot(dest, "Dest"),
        [("Queue", queue), ("Interface", interface), ("MemberName", member_name)],
        extra,
    )


def agent_called(caller: Channel, dest: Channel, queue: str, interface: str, member: str) -> Event:
    return _agent("AgentCalled", caller, dest, queue, interface, member, [])


def agent_ring_no_answer(
    caller: Channel, dest: Channel, queue: str, interface: str, member: str, ring_ms: int
) -> Event:
    return _agent("AgentRingNoAnswer", caller, dest, queue, interface, member, [("RingTime", str(ring_ms))])


def agent_connect(
    caller: Channel, dest: Channel, queue: str, interface: str, member: str, hold: int, ring: int
) -> Event:
    return _agent(
        "AgentConnect",
        caller,
        dest,
        queue,
        interface,
        member,
        [("HoldTime", str(hold)), ("RingTime", str(ring))],
    )


def agent_complete(
    caller: Channel | None,
    dest: Channel,
    queue: str,
    interface: str,
    member: str,
    hold: int,
    talk: int,
    reason: str,
) -> Event:
    return _agent(
        "AgentComplete",
        caller,
        dest,
        queue,
        interface,
        member,
        [("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)],
    )


def member_event(name: str, blob: Mapping[str, str]) -> Event:
    """QueueMemberStatus/Pause/Added/Removed: the JSON member blob, no channel snapshot."""
    return event(name, [(key, blob[key]) for key in MEMBER_FIELDS])


# --- system and security ---------------------------------------------------------------------


def fully_booted(uptime: int, last_reload: int, *, at_login: bool) -> Event:
    if at_login:
        body = [("Uptime", str(uptime)), ("LastReload", str(last_reload)), ("Status", "Fully Booted")]
    else:
        body = [("Status", "Fully Booted"), ("Uptime", str(uptime)), ("LastReload", str(last_reload))]
    return event("FullyBooted", body)


def shutdown(*, restart: bool, cleanly: bool = True) -> Event:
    return event(
        "Shutdown",
        [("Shutdown", "Cleanly" if cleanly else "Uncleanly"), ("Restart", "True" if restart else "False")],
    )


def reload(module: str, status: int = 0) -> Event:
    return event("Reload", [("Module", module), ("Status", str(status))])


# --- PJSIP (f-pjsip) ---------------------------------------------------------------------------


def peer_status(endpoint: str, reachable: bool) -> Event:
    """PJSIP only ever says Reachable or Unreachable, for the endpoint as a whole."""
    status = "Reachable" if reachable else "Unreachable"
    return event(
        "PeerStatus", [("ChannelType", "PJSIP"), ("Peer", f"PJSIP/{endpoint}"), ("PeerStatus", status)]
    )


def contact_status(uri: str, status: str, aor: str, endpoint: str, roundtrip_usec: int) -> Event:
    """``status``: Reachable, Unreachable, NonQualified (a new registration), Removed."""
    return event(
        "ContactStatus",
        [
            ("URI", uri),
            ("ContactStatus", status),
            ("AOR", aor),
            ("EndpointName", endpoint),
            ("RoundtripUsec", str(roundtrip_usec)),
        ],
    )


def registry(client_uri: str, server_uri: str, status: str) -> Event:
    """An outbound registration's outcome. Not in any recording: docs/asterisk-notes.md and
    res_pjsip_outbound_registration.c (Username = client_uri, Domain = server_uri, no Cause)."""
    return event(
        "Registry",
        [("ChannelType", "PJSIP"), ("Username", client_uri), ("Domain", server_uri), ("Status", status)],
    )


def security(
    name: str,
    *,
    event_tv: str,
    severity: str,
    service: str,
    account: str | None,
    session_id: str,
    local: str,
    remote: str,
    extra: Pairs,
    session_tv: str | None,
    version: int = 1,
) -> Event:
    """A security event in the captured order: the common block, the event's own fields, SessionTV.

    ``account=None`` puts AccountID *last* (after SessionTV), as RequestBadFormat does, where the
    field is optional."""
    body: Pairs = [
        ("EventTV", event_tv),
        ("Severity", severity),
        ("Service", service),
        ("EventVersion", str(version)),
    ]
    if account is not None and name != "RequestBadFormat":
        body.append(("AccountID", account))
    body += [("SessionID", session_id), ("LocalAddress", local), ("RemoteAddress", remote)]
    body += extra
    if session_tv is not None:
        body.append(("SessionTV", session_tv))
    if account is not None and name == "RequestBadFormat":
        body.append(("AccountID", account))
    return event(name, body)
