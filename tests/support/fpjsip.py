"""The ``f-pjsip`` recording as one exporter would have seen it: the ``exporter`` connection's
stream with the list replies of the ``exporter_rep`` (write=reporting) and ``admin`` connections
spliced in where ``steps.log`` puts them.

The three connections were recorded side by side; ``*.rx.raw`` carry no timestamps, so each
spliced reply goes to an anchor in the exporter's stream that ``steps.log`` and the events
themselves fix (times are seconds after ``sip-phones stop-all``):

* 13.3 ``DeviceStateList`` (rep-6): the six phones are Reachable (12.3) and exporter_rep's
  refused ``PJSIPShowContacts`` (13.9) has not raised its ``RequestNotAllowed`` yet;
* 14.5 ``QueueStatus`` (rep-10), ``PJSIPShowEndpoints`` (admin-11), ``PJSIPShowContacts`` (admin-12,
  "No Contacts found") and ``PJSIPShowEndpoint 2001`` (admin-13): after the second
  ``RequestNotAllowed`` (14.2), before 2101 registers (``ChallengeSent`` 15.8);
* 16.9 ``PJSIPShowContacts`` (admin-15): after 2101's ``NonQualified``, before the first call
  (its first event is the trunk channel's, at about 18);
* 37.96 ``DeviceStateList`` (rep-18): right after the exporter's own mid ``QueueStatus`` (37.91);
  every device state in it equals what the events said there;
* 121.39 ``QueueStatus`` (rep-21), ``DeviceStateList`` (rep-22), ``PJSIPShowContacts``
  (admin-23): after the exporter's end ``QueueStatus`` (121.39), the last reply before Logoff.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ami_exporter.ami.protocol import Kind, Message

from .captures import ReplyGroup, ScriptItem, capture, reply, script

EXPORTER = ("f-pjsip/exporter.rx.raw", "f-pjsip/exporter.tx.raw")
REP = "f-pjsip/exporter_rep.rx.raw"
ADMIN = "f-pjsip/admin.rx.raw"


@dataclass
class Snapshot:
    """One recorded list reply, spliced into the exporter's stream."""

    label: str  # "start", "endpoints", "registered", "mid", "end"
    action: str
    action_id: str
    messages: list[Message]
    fields: dict[str, str] = field(default_factory=dict)  # the action's own fields

    @property
    def error(self) -> str | None:
        response = self.messages[0]
        return response.fields.get("Message", "") if response.name == "Error" else None

    @property
    def items(self) -> list[dict[str, str]]:
        return [m.fields for m in self.messages[1:] if m.fields.get("EventList", "").lower() != "complete"]


Step = Message | Snapshot


def _snapshot(label: str, action: str, source: str, action_id: str, **fields: str) -> Snapshot:
    return Snapshot(label, action, action_id, reply(source, action_id), fields)


def _own(label: str, group: ReplyGroup) -> Snapshot:
    return Snapshot(label, group.action, group.messages[0].action_id or "", group.messages)


Anchor = Callable[[Message | ReplyGroup], bool]


def _index(items: list[Message | ReplyGroup], test: Anchor, nth: int = 1) -> int:
    seen = 0
    for index, item in enumerate(items):
        if test(item):
            seen += 1
            if seen == nth:
                return index
    raise LookupError("anchor not found in the f-pjsip exporter stream")


def _event(name: str, **fields: str) -> Anchor:
    def test(item: Message | ReplyGroup) -> bool:
        return (
            isinstance(item, Message)
            and item.name == name
            and all(item.fields.get(key, "").startswith(value) for key, value in fields.items())
        )

    return test


def _group(action_id: str) -> Anchor:
    return lambda item: isinstance(item, ReplyGroup) and item.messages[0].action_id == action_id


def timeline() -> list[Step]:
    """Events and snapshots in the order one exporter with every privilege would have seen them."""
    _banner, items = script(*EXPORTER)
    splices: list[tuple[int, list[Snapshot]]] = [
        (
            _index(items, _event("RequestNotAllowed")),
            [_snapshot("start", "DeviceStateList", REP, "exporter_rep-6")],
        ),
        (
            _index(items, _event("RequestNotAllowed"), nth=2) + 1,
            [
                _snapshot("endpoints", "QueueStatus", REP, "exporter_rep-10", Queue="helpdesk"),
                _snapshot("endpoints", "PJSIPShowContacts", ADMIN, "admin-12"),
                _snapshot("endpoints", "PJSIPShowEndpoints", ADMIN, "admin-11"),
                _snapshot("endpoints", "PJSIPShowEndpoint", ADMIN, "admin-13", Endpoint="2001"),
            ],
        ),
        (
            _index(items, _event("Newchannel", Channel="PJSIP/trunk-")) - 1,  # its CEL comes first
            [_snapshot("registered", "PJSIPShowContacts", ADMIN, "admin-15")],
        ),
        (
            _index(items, _group("exporter-17")) + 1,
            [_snapshot("mid", "DeviceStateList", REP, "exporter_rep-18")],
        ),
        (
            _index(items, _group("exporter-20")) + 1,
            [
                _snapshot("end", "QueueStatus", REP, "exporter_rep-21", Queue="helpdesk"),
                _snapshot("end", "DeviceStateList", REP, "exporter_rep-22"),
                _snapshot("end", "PJSIPShowContacts", ADMIN, "admin-23"),
            ],
        ),
    ]
    labels = {"exporter-5": "login", "exporter-17": "mid", "exporter-20": "end"}
    steps: list[Step] = []
    at = dict(splices)
    for index, item in enumerate(items):
        steps.extend(at.get(index, []))
        if isinstance(item, ReplyGroup):  # Login and Logoff are "session" steps
            steps.append(_own(labels.get(item.messages[0].action_id or "", "session"), item))
        else:
            steps.append(item)
    return steps


# -- ground truth ----------------------------------------------------------------------------------

_CLI_STATUS = {
    "Avail": "reachable",
    "Unavail": "unreachable",
    "NonQual": "non_qualified",
    "Unknown": "unknown",
}
_CONTACT_LINE = re.compile(r"^\s*Contact:\s+(\S+?)/(\S+)\s+[0-9a-f]+\s+(\S+)\s+(\S+)\s*$")


@dataclass(frozen=True)
class CliContact:
    aor: str
    uri: str
    state: str
    rtt_seconds: float | None


def cli_contacts(name: str) -> list[CliContact]:
    """``ground-truth/<name>``: a ``pjsip show contacts`` view."""
    out: list[CliContact] = []
    for line in capture(f"f-pjsip/ground-truth/{name}").read_text().splitlines():
        match = _CONTACT_LINE.match(line)
        if match is None or match.group(1).startswith("<"):
            continue
        aor, uri, status, rtt = match.groups()
        out.append(CliContact(aor, uri, _CLI_STATUS[status], None if rtt == "nan" else float(rtt) / 1000))
    return out


def cli_endpoint_states() -> dict[str, str]:
    """``ground-truth/pjsip-show-endpoints.txt``: endpoint -> reachable/unreachable (a PJSIP
    endpoint's device state, idle as they all are there: Unavailable is offline)."""
    out: dict[str, str] = {}
    for line in capture("f-pjsip/ground-truth/pjsip-show-endpoints.txt").read_text().splitlines():
        match = re.match(r"^ Endpoint:\s+(\S+?)(?:/\S+)?\s+(Not in use|Unavailable|In use)\s", line)
        if match:
            out[f"PJSIP/{match.group(1)}"] = "unreachable" if match.group(2) == "Unavailable" else "reachable"
    return out


def prometheus_endpoint_states() -> dict[str, str]:
    """``ground-truth/metrics.txt`` (res_prometheus): 0 unknown, 1 offline, 2 online."""
    words = {"0": "unknown", "1": "unreachable", "2": "reachable"}
    out: dict[str, str] = {}
    for line in capture("f-pjsip/ground-truth/metrics.txt").read_text().splitlines():
        match = re.match(r'^asterisk_endpoints_state\{.*id="([^"]+)".*\} (\d)$', line)
        if match:
            out[match.group(1)] = words[match.group(2)]
    return out


def spliced_script(action_ids: set[str]) -> tuple[str, list[ScriptItem]]:
    """The timeline as a replay script: events, and a reply group for each chosen snapshot."""
    banner, _items = script(*EXPORTER)
    items: list[ScriptItem] = []
    for step in timeline():
        if isinstance(step, Message):
            items.append(step)
        elif step.action_id in action_ids or step.label == "session":
            items.append(ReplyGroup(step.action, list(step.messages)))
    return banner, items


def list_commands(actions: dict[str, str]) -> Message:
    """A ``ListCommands`` reply listing these actions (name -> ``Priv:`` classes)."""
    headers = [("Response", "Success"), ("ActionID", "x")]
    headers += [(name, f"{name}.  (Priv: {priv})") for name, priv in actions.items()]
    return Message(Kind.RESPONSE, "Success", headers)
