"""Replies to the session's own actions, correlated by ActionID: single replies and list replies.

Only ActionIDs this session sent and still waits for are routed here; everything else is an
ordinary event (other clients' ActionIDs included).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from .actions import LIST_REPLY_EVENTS
from .errors import ConnectionLostError
from .protocol import Kind, Message

log = logging.getLogger(__name__)

# Applies a complete list reply at the exact point of the stream where its "...Complete" arrives,
# before any later event of the same read is dispatched (see Session.list_action).
ListApply = Callable[["ListReply"], None]


@dataclass(slots=True)
class ListReply:
    """A list action's reply: the ack, the items and the completion event."""

    ack: Message
    items: list[Message] = field(default_factory=list)
    complete: Message | None = None

    def item_fields(self) -> list[tuple[str, dict[str, str]]]:
        return [(item.name, item.fields) for item in self.items]


@dataclass(slots=True)
class Pending:
    """One action waiting for its reply (a list action: for its items and "...Complete")."""

    action: str
    future: asyncio.Future[Message | ListReply]
    is_list: bool
    reply: ListReply | None = None
    apply: ListApply | None = None


class Replies:
    """The actions waiting for their replies, by ActionID."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: dict[str, Pending] = {}

    def __contains__(self, action_id: str) -> bool:
        return action_id in self._pending

    def expect(self, action_id: str, entry: Pending) -> None:
        self._pending[action_id] = entry

    def forget(self, action_id: str) -> None:
        self._pending.pop(action_id, None)

    def fail_all(self) -> None:
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if not entry.future.done():
                entry.future.set_exception(ConnectionLostError(f"connection lost during {entry.action}"))

    def response(self, message: Message) -> None:
        action_id = message.action_id
        entry = self._pending.get(action_id) if action_id is not None else None
        if entry is None:
            log.debug("ignoring a reply that is not ours (ActionID %r)", action_id)
            return
        if entry.is_list and message.name == "Success":
            # The ack of a list ("EventList: start"; Asterisk 11 acks queue lists without it):
            # the reply is complete only with the "...Complete" event.
            entry.reply = ListReply(message)
            return
        # A single reply, or an error instead of a list.
        del self._pending[action_id]  # type: ignore[arg-type]
        if not entry.future.done():
            entry.future.set_result(message)

    def list_item(self, action_id: str, message: Message) -> None:
        entry = self._pending[action_id]
        if entry.reply is None:
            # Items before the ack (Asterisk 11 acks without EventList): start collecting anyway.
            entry.reply = ListReply(Message(Kind.RESPONSE, "Success"))
        if message.fields.get("EventList", "").lower() == "complete" or message.name.endswith("Complete"):
            entry.reply.complete = message
            del self._pending[action_id]
            if entry.future.done():
                return  # the caller gave up (timeout): a late snapshot is older than what we know
            if entry.apply is not None:
                # Asterisk flushes the events raised while it built the list right after the
                # Complete, often in this same read: the snapshot must land before them.
                try:
                    entry.apply(entry.reply)
                except Exception as error:  # the awaiting caller decides what a failure means
                    entry.future.set_exception(error)
                    return
            entry.future.set_result(entry.reply)
        else:
            entry.reply.items.append(message)


def with_list_replies(wants: Callable[[str], bool] | None) -> Callable[[str], bool] | None:
    """The session's event filter, widened so that list replies are always parsed."""
    if wants is None:
        return None
    event_filter = wants

    def wanted(name: str) -> bool:
        return name in LIST_REPLY_EVENTS or event_filter(name)

    return wanted
