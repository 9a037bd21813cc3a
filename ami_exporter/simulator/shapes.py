"""Event and list-item shapes of Asterisk 22.10.1, as captured in ``tests/fixtures/ami-captures``.

Every builder here returns headers in exactly the order the captures show (see
``tests/simulator/test_shapes.py``, which checks them against every ``*.rx.raw``). The channel
snapshot block and the bridge block are fixed sequences; events add their own fields after them.
Async events carry ``Privilege: <class>,all`` as their second line; list items carry none and put
``ActionID`` last (queue items) or first (``CoreShowChannel``, ``BridgeListItem``, ``...Complete``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ami_exporter.ami.protocol import encode_message
from ami_exporter.simulator.perms import CLASS_BITS

__all__ = [
    "BRIDGE_FIELDS",
    "CAUSE_TEXT",
    "EVENT_CLASS",
    "SNAPSHOT_FIELDS",
    "STATE_DESC",
    "Bridge",
    "Channel",
    "Event",
    "ack",
    "c_escape",
    "complete",
    "event",
    "list_item",
    "response",
    "snapshot",
]

SNAPSHOT_FIELDS: tuple[str, ...] = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
BRIDGE_FIELDS: tuple[str, ...] = (
    "BridgeUniqueid",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
)
MEMBER_FIELDS: tuple[str, ...] = (
    "Queue",
    "MemberName",
    "Interface",
    "StateInterface",
    "Membership",
    "Penalty",
    "CallsTaken",
    "LastCall",
    "LastPause",
    "LoginTime",
    "InCall",
    "Status",
    "Paused",
    "PausedReason",
    "Ringinuse",
    "Wrapuptime",
)
SECURITY_COMMON: tuple[str, ...] = (
    "EventTV",
    "Severity",
    "Service",
    "EventVersion",
    "AccountID",
    "SessionID",
    "LocalAddress",
    "RemoteAddress",
)

STATE_DESC: dict[int, str] = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
}

_CLASS_NAMES = {
    "call": (
        "Newchannel Newstate Hangup HangupRequest SoftHangupRequest NewCallerid NewConnectedLine "
        "DialBegin DialState DialEnd BridgeCreate BridgeEnter BridgeLeave BridgeDestroy LocalBridge "
        "DeviceStateChange CEL OriginateResponse"
    ),
    "dialplan": "Newexten VarSet",
    "agent": (
        "QueueCallerJoin QueueCallerLeave QueueCallerAbandon QueueMemberStatus QueueMemberAdded "
        "QueueMemberRemoved QueueMemberPause QueueMemberPenalty AgentCalled AgentConnect AgentComplete "
        "AgentRingNoAnswer AgentDump"
    ),
    "cdr": "Cdr",
    "system": "FullyBooted Shutdown Reload PeerStatus ContactStatus Registry",
    "security": (
        "FailedACL InvalidAccountID RequestNotAllowed RequestBadFormat SuccessfulAuth "
        "ChallengeResponseFailed InvalidPassword ChallengeSent"
    ),
    "user": "UserEvent",
}
EVENT_CLASS: dict[str, str] = {name: cls for cls, names in _CLASS_NAMES.items() for name in names.split()}

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "?": "\\?",
}


def c_escape(text: str) -> str:
    """``ast_escape_c_alloc()``: what 13.5+ does to CallerIDName/ConnectedLineName/VarSet values."""
    if not any(ch in _ESCAPES for ch in text):
        return text
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


Pairs = list[tuple[str, str]]


@dataclass(slots=True)
class Channel:
    """The state of one channel, enough to render its snapshot block."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    account: str = ""
    created: float = 0.0
    answered: float | None = None
    application: str = ""
    app_data: str = ""
    bridge_id: str = ""


@dataclass(slots=True)
class Bridge:
    uniqueid: str
    channels: list[str] = field(default_factory=list)
    bridge_type: str = "basic"
    technology: str = "simple_bridge"
    created: float = 0.0


def snapshot(ch: Channel, prefix: str = "") -> Pairs:
    return [
        (prefix + "Channel", ch.name),
        (prefix + "ChannelState", str(ch.state)),
        (prefix + "ChannelStateDesc", STATE_DESC.get(ch.state, f"Unknown ({ch.state})")),
        (prefix + "CallerIDNum", ch.caller_num),
        (prefix + "CallerIDName", c_escape(ch.caller_name)),
        (prefix + "ConnectedLineNum", ch.connected_num),
        (prefix + "ConnectedLineName", c_escape(ch.connected_name)),
        (prefix + "Language", ch.language),
        (prefix + "AccountCode", ch.account),
        (prefix + "Context", ch.context),
        (prefix + "Exten", ch.exten),
        (prefix + "Priority", str(ch.priority)),
        (prefix + "Uniqueid", ch.uniqueid),
        (prefix + "Linkedid", ch.linkedid),
    ]


def bridge_block(bridge: Bridge) -> Pairs:
    return [
        ("BridgeUniqueid", bridge.uniqueid),
        ("BridgeType", bridge.bridge_type),
        ("BridgeTechnology", bridge.technology),
        ("BridgeCreator", "<unknown>"),
        ("BridgeName", "<unknown>"),
        ("BridgeNumChannels", str(len(bridge.channels))),
        ("BridgeVideoSourceMode", "none"),
    ]


@dataclass(slots=True)
class Event:
    """One async event: encoded once, written to every session that may read its class."""

    name: str
    category: int
    headers: Pairs
    _wire: bytes | None = None
    timestamp: float | None = None  # with timestampevents = yes: when it was raised

    @property
    def klass(self) -> str:
        return EVENT_CLASS[self.name]

    def wire(self) -> bytes:
        data = self._wire
        if data is None:
            head = [("Event", self.name), ("Privilege", f"{self.klass},all")]
            if self.timestamp is not None:
                head.append(("Timestamp", f"{self.timestamp:.6f}"))
            data = encode_message([*head, *self.headers])
            self._wire = data
        return data


def event(name: str, *parts: Iterable[tuple[str, str]]) -> Event:
    headers: Pairs = []
    for part in parts:
        headers.extend(part)
    return Event(name, CLASS_BITS[EVENT_CLASS[name]], headers)


def response(status: str, action_id: str | None, *pairs: tuple[str, str]) -> Pairs:
    out: Pairs = [("Response", status)]
    if action_id is not None:
        out.append(("ActionID", action_id))
    out.extend(pairs)
    return out


def ack(action_id: str | None, message: str) -> Pairs:
    """The ack of a list action."""
    return response("Success", action_id, ("EventList", "start"), ("Message", message))


def complete(name: str, action_id: str | None, count: int, *extra: tuple[str, str]) -> Pairs:
    """A list's completion event: ActionID first, then EventList and ListItems."""
    body: Pairs = [("EventList", "Complete"), ("ListItems", str(count)), *extra]
    return list_item(name, body, action_id, first=True)


def list_item(name: str, body: Sequence[tuple[str, str]], action_id: str | None, *, first: bool) -> Pairs:
    """A list item: no Privilege; ActionID first (CoreShowChannel, ...Complete) or last (queues)."""
    out: Pairs = [("Event", name)]
    if action_id is not None and first:
        out.append(("ActionID", action_id))
    out.extend(body)
    if action_id is not None and not first:
        out.append(("ActionID", action_id))
    return out
