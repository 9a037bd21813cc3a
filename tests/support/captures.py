"""Access to the byte-exact Asterisk 22.10.1 captures in ``tests/fixtures/ami-captures``."""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ami_exporter.ami.protocol import Decoder, Kind, Message, encode_message

# A verbatim copy of ../shared/ami-captures (see its README): tests run from a clean clone.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami-captures"
CAPTURES = FIXTURES / "asterisk-22.10.1"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "ami-captures"


def capture(relative: str) -> Path:
    path = CAPTURES / relative
    if not path.exists():
        raise FileNotFoundError(f"capture missing: {path}")
    return path


def decode_file(relative: str) -> list[Message]:
    decoder = Decoder()
    messages = decoder.feed(capture(relative).read_bytes())
    assert decoder.buffered == 0, f"{relative}: {decoder.buffered} bytes left undecoded"
    return messages


def parse_actions(relative: str) -> list[dict[str, str]]:
    """The actions a client sent (``*.tx.raw``)."""
    text = capture(relative).read_bytes().decode("utf-8")
    actions = []
    for frame in re.split(r"\r?\n\r?\n", text):
        if not frame.strip():
            continue
        fields: dict[str, str] = {}
        for line in frame.splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key, value.removeprefix(" "))
        actions.append(fields)
    return actions


@dataclass
class ReplyGroup:
    """A recorded reply to one recorded action: the response and any list items."""

    action: str
    messages: list[Message] = field(default_factory=list)


ScriptItem = Message | ReplyGroup


def script(rx: str, tx: str) -> tuple[str, list[ScriptItem]]:
    """Split a recorded connection into its banner, async events and reply groups, in order."""
    action_names = {
        action["ActionID"]: action["Action"] for action in parse_actions(tx) if "ActionID" in action
    }
    banner = ""
    items: list[ScriptItem] = []
    groups: dict[str, ReplyGroup] = {}
    for message in decode_file(rx):
        if message.kind is Kind.BANNER:
            banner = message.name
            continue
        action_id = message.fields.get("ActionID")
        if action_id in action_names and (message.kind is Kind.RESPONSE or action_id in groups):
            group = groups.get(action_id)
            if group is None or message.kind is Kind.RESPONSE:
                group = groups[action_id] = ReplyGroup(action_names[action_id])
                items.append(group)
            group.messages.append(message)
        else:
            items.append(message)
    return banner, items


def reply(relative: str, action_id: str) -> list[Message]:
    """The recorded reply to one action: its response and every list item, in order."""
    messages = [m for m in decode_file(relative) if m.kind is not Kind.BANNER and m.action_id == action_id]
    if not messages:
        raise LookupError(f"{relative}: no reply to {action_id}")
    return messages


def reply_items(relative: str, action_id: str) -> list[dict[str, str]]:
    """The fields of a recorded list reply's items (not the response, not the completion)."""
    items = reply(relative, action_id)[1:]
    return [m.fields for m in items if m.fields.get("EventList", "").lower() != "complete"]


def encode(message: Message, action_id: str | None = None) -> bytes:
    """The message's recorded bytes (an irregular frame's included), with ``action_id``."""
    if message.wire is not None:
        old = message.action_id
        if action_id is None or old is None:
            return message.wire
        return message.wire.replace(f"ActionID: {old}\r\n".encode(), f"ActionID: {action_id}\r\n".encode(), 1)
    headers = message.headers
    if action_id is not None:
        headers = [(key, action_id if key == "ActionID" else value) for key, value in headers]
    return encode_message(headers)


def event_counts(rx: str, tx: str) -> Counter[str]:
    """Async events per name in a recorded connection: not the replies to that connection's own
    actions, but events carrying other clients' ActionIDs (OriginateResponse, UserEvent) count."""
    _banner, items = script(rx, tx)
    return Counter(item.name for item in items if isinstance(item, Message) and item.kind is Kind.EVENT)


def master_csv_rows() -> list[list[str]]:
    with capture("b-scenario/ground-truth/Master.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))
