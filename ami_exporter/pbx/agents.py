"""Agents: one state per queue member, wrap-up, pause reasons and per-agent counters.

A supervisor asks who is free, ringing, talking, in wrap-up, paused (and why, and since when) and,
per agent, how many calls were answered and missed, how long they talked and paused. Asterisk
sends the ingredients (the member blob, ``AgentConnect``/``AgentComplete``/``AgentRingNoAnswer``)
but not the answers; this module derives them.

**Agent state.** Exactly one per (queue, member), first match wins:

1. ``paused`` - paused in this queue, whatever the device does;
2. ``unavailable`` - device status ``unavailable``, ``invalid`` or ``unknown`` (or a code we do not
   know);
3. ``on_call`` - on a queue call of this queue (``AgentConnect`` until ``AgentComplete``), or,
   when the member does not take calls while in use (``Ringinuse: 0``), any call on the device
   (``in_use``, ``busy``, ``on_hold``);
4. ``ringing`` - device ``ringing`` or ``ringinuse``;
5. ``wrapup`` - within the wrap-up time after the member's last queue call;
6. ``available`` - otherwise: Asterisk would ring this member now.

**Wrap-up** follows ``app_queue``: a member is not rung while ``now - LastCall`` is below the
wrap-up time, where ``LastCall`` is whole Unix seconds and the time is the member's own
``Wrapuptime`` when set, else that of the queue where the last call was taken (with
``shared_lastcall`` that may be another queue). Queue wrap-up times are not visible over AMI:
they come from ``--queue.wrapup-time``.

**Counters** live in an :class:`AgentRecord` keyed by (queue, member label). It outlives the
``Member`` objects (each snapshot replaces them) and the membership itself: a member removed and
added again continues its counters, and a removed member's counters stay exported (the oldest
removed ones are forgotten once more are kept than the member label cap).

Durations use the injected monotonic clock; times exported as Unix time (``since``) use the wall
clock, taken once when the change happens so that every scrape reports the same value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .labels import OVERFLOW, LabelCaps
from .numbers import clean_text, first, to_float, to_int

if TYPE_CHECKING:
    from .queues import Member

AGENT_STATES: tuple[str, ...] = ("available", "ringing", "on_call", "wrapup", "paused", "unavailable")
AVAILABLE, RINGING, ON_CALL, WRAPUP, PAUSED, UNAVAILABLE = range(len(AGENT_STATES))
NOT_IN_QUEUE = -1  # a record's state before its member is (again) in the queue

NO_REASON = "none"  # the label of an empty PausedReason
# How far (seconds) Asterisk's LastCall may be before our clock's reading at AgentComplete: the
# event is read a moment after Asterisk stamped it, possibly in the next second.
LAST_CALL_SLACK = 2

# Device states (pbx.codes.DEVICE_STATES) by what they mean for an agent.
_OFFLINE_DEVICES = frozenset({0, 4, 5})  # unknown, invalid, unavailable
_BUSY_DEVICES = frozenset({2, 3, 8})  # in_use, busy, on_hold
_RINGING_DEVICES = frozenset({6, 7})  # ringing, ringinuse
_KNOWN_DEVICES = frozenset(range(9))


def agent_state(*, paused: bool, status: int, in_call: bool, ringinuse: bool, in_wrapup: bool) -> int:
    """The agent state code, by the precedence in the module docstring."""
    if paused:
        return PAUSED
    if status in _OFFLINE_DEVICES or status not in _KNOWN_DEVICES:
        return UNAVAILABLE
    if in_call or (not ringinuse and status in _BUSY_DEVICES):
        return ON_CALL
    if status in _RINGING_DEVICES:
        return RINGING
    if in_wrapup:
        return WRAPUP
    return AVAILABLE


@dataclass(frozen=True, slots=True)
class WrapupTimes:
    """``--queue.wrapup-time``: a default for every queue and per-queue overrides, in seconds."""

    default: float = 0.0
    queues: Mapping[str, float] = field(default_factory=dict)

    def seconds(self, queue: str, own: int) -> float:
        """The member's own ``Wrapuptime`` when set (Asterisk sends 0 for "use the queue's")."""
        if own > 0:
            return float(own)
        return self.queues.get(queue, self.default)


@dataclass(slots=True, eq=False)
class AgentRecord:
    """What the exporter derives about one member: its state and its counters."""

    queue: str
    label: str
    tracked: bool = True  # False past the member label cap: state only, no series of its own
    present: bool = True
    state: int = NOT_IN_QUEUE
    since: float = 0.0  # Unix time the current state began
    wrapup_until: float = -math.inf  # monotonic deadline of the current wrap-up
    wrapup_end: float = 0.0  # the same deadline as Unix time
    last_call: int = 0  # the newest LastCall (Unix seconds) taken into account
    last_call_guessed: bool = False  # from our clock at AgentComplete, until Asterisk's arrives
    pause_reason: str = ""  # reason label of the pause in progress, "" when not paused
    pause_text: str = ""  # its PausedReason as sent: the cap is asked again only when it changes
    pause_started: float = 0.0  # monotonic start of the pause in progress
    pause_closed: float = -math.inf  # monotonic end of the last pause (no span starts before it)
    answered: int = 0
    ring_noanswer: int = 0
    talk_seconds: float = 0.0
    paused_seconds: dict[str, float] = field(default_factory=dict)  # closed pauses, by reason

    def current(self, member: Member, now: float) -> tuple[int, float]:
        """(state, since) at monotonic ``now`` without changing anything: a scrape may run while
        the event loop folds. The only change that happens without an event is the end of a
        wrap-up, and its time is known."""
        state = self.state
        if state == WRAPUP and now >= self.wrapup_until:
            after = agent_state(
                paused=member.paused,
                status=member.status,
                in_call=member.in_call,
                ringinuse=member.ringinuse,
                in_wrapup=False,
            )
            return after, (self.wrapup_end if after == AVAILABLE else self.since)
        if state == NOT_IN_QUEUE:  # not folded yet (a scrape between creation and update)
            state = agent_state(
                paused=member.paused,
                status=member.status,
                in_call=member.in_call,
                ringinuse=member.ringinuse,
                in_wrapup=now < self.wrapup_until,
            )
        return state, self.since

    def paused_totals(self, now: float) -> dict[str, float]:
        """Seconds paused by reason, including the pause in progress up to monotonic ``now``."""
        totals = dict(self.paused_seconds)
        reason = self.pause_reason
        if reason:
            totals[reason] = totals.get(reason, 0.0) + max(0.0, now - self.pause_started)
        return totals


class AgentBook:
    """Agent records of every queue. Mutated only by the event loop, through :class:`QueueBook`."""

    def __init__(
        self,
        caps: LabelCaps,
        wall: Callable[[], float],
        monotonic: Callable[[], float],
        wrapup: WrapupTimes | None = None,
    ) -> None:
        self._caps = caps
        self._wall = wall
        self._mono = monotonic
        self.wrapup = wrapup or WrapupTimes()
        self.records: dict[tuple[str, str], AgentRecord] = {}  # members present now
        self.retired: dict[tuple[str, str], AgentRecord] = {}  # removed, oldest first
        # Interface -> queue of its last completed call: Asterisk's member->lastqueue, whose
        # wrap-up time applies in every queue when LastCall is shared between queues.
        self._last_queue: dict[str, str] = {}

    # -- membership ---------------------------------------------------------------------------

    def record_for(self, queue: str, label: str, previous: AgentRecord | None = None) -> AgentRecord:
        """The record of a member that is (again) in ``queue`` under ``label``."""
        if label == OVERFLOW:
            return (
                previous
                if previous is not None and not previous.tracked
                else AgentRecord(queue, label, False)
            )
        key = (queue, label)
        record = previous if previous is not None and previous.label == label else None
        record = record or self.records.get(key) or self.retired.pop(key, None)
        if record is None:
            record = AgentRecord(queue, label)
        record.present = True
        self.records[key] = record
        return record

    def leave(self, member: Member) -> None:
        """The member left its queue: end its pause, keep its counters."""
        record = member.agent
        if record.pause_reason:
            self._close_pause(record, self._mono())
        record.present = False
        record.state = NOT_IN_QUEUE
        if not record.tracked:
            return
        key = (record.queue, record.label)
        if self.records.get(key) is record:
            del self.records[key]
        self._retire(key, record)

    def _retire(self, key: tuple[str, str], record: AgentRecord) -> None:
        self.retired.pop(key, None)
        self.retired[key] = record
        while len(self.retired) > self._caps.cap("member"):
            del self.retired[next(iter(self.retired))]

    def drop_queue(self, queue: str) -> None:
        """The queue is gone: its agents' counters go with the queue's own."""
        for book in (self.records, self.retired):
            for key in [key for key in book if key[0] == queue]:
                del book[key]

    def forget_interfaces(self, present: set[str]) -> None:
        """Drop the last-queue memory of interfaces no queue has any more."""
        for interface in [i for i in self._last_queue if i not in present]:
            del self._last_queue[interface]

    def _loose(self, queue: str, fields: Mapping[str, str]) -> AgentRecord:
        """Counters for an event about a member we do not know (yet): kept like a removed
        member's, so the member continues them when a snapshot or event brings it in."""
        label = clean_text(first(fields, "MemberName", "Name", "Interface") or "")
        key = (queue, label)
        record = self.records.get(key) or self.retired.get(key)
        if record is None:
            record = AgentRecord(queue, label, present=False)
            self._retire(key, record)
        return record

    # -- events -------------------------------------------------------------------------------

    def connected(self, queue: str, member: Member | None, fields: Mapping[str, str]) -> None:
        if member is None:
            self._loose(queue, fields).answered += 1
            return
        member.agent.answered += 1
        self._refresh(member, self._wall(), self._mono())

    def completed(
        self,
        queue: str,
        member: Member | None,
        fields: Mapping[str, str],
        elsewhere: Iterable[tuple[str, Member]] = (),
    ) -> None:
        """``elsewhere``: the member's memberships of other queues. app_queue's default
        (``shared_lastcall = yes``) stamps LastCall in all of them, so the wrap-up starts in
        all of them, without an event for the others."""
        talk = to_int(fields.get("TalkTime"))
        if member is None:
            self._loose(queue, fields).talk_seconds += talk
            return
        member.agent.talk_seconds += talk
        wall, mono = self._wall(), self._mono()
        # Asterisk stamps LastCall with time(NULL) when the call completes; until a member event
        # brings its value, the event's own Timestamp (manager.conf timestampevents = yes) stands
        # in, else our clock when we fold the event, which is later by however long the event
        # waited to be read and folded (a second or more when folding is behind).
        self._last_queue[member.interface] = queue
        stamp = to_float(fields.get("Timestamp"))
        last_call = int(stamp) if 0 < stamp <= wall + LAST_CALL_SLACK else int(wall)
        for name, membership in ((queue, member), *elsewhere):
            record = membership.agent
            if last_call >= record.last_call:
                record.last_call = last_call
                record.last_call_guessed = True
                self._start_wrapup(name, membership, last_call, wall, mono)
                self._refresh(membership, wall, mono)

    def ring_noanswer(self, queue: str, member: Member | None, fields: Mapping[str, str]) -> None:
        record = member.agent if member is not None else self._loose(queue, fields)
        record.ring_noanswer += 1

    def update(self, queue: str, member: Member, *, pause_event: bool = False) -> None:
        """Fold a member blob already applied to ``member``: wrap-up from ``LastCall``, pause spans
        and the state. ``pause_event``: a ``QueueMemberPause`` (a new pause even when paused)."""
        record = member.agent
        wall, mono = self._wall(), self._mono()
        last_call = member.last_call
        if last_call > record.last_call or (
            record.last_call_guessed and 0 < record.last_call - last_call <= LAST_CALL_SLACK
        ):
            # A call ended that we did not see complete here (in another queue with a shared
            # LastCall, or while we were not connected), or Asterisk's own stamp of the one we saw.
            record.last_call = last_call
            record.last_call_guessed = False
            self._start_wrapup(queue, member, last_call, wall, mono)
        elif last_call == record.last_call:
            record.last_call_guessed = False
        repaused = self._sync_pause(member, record, wall, mono, pause_event)
        self._refresh(member, wall, mono)
        if repaused and record.state == PAUSED:
            record.since = wall  # like Asterisk's LastPause: a new pause restarts the clock

    def refresh(self, member: Member) -> None:
        self._refresh(member, self._wall(), self._mono())

    # -- internals ----------------------------------------------------------------------------

    def _start_wrapup(self, queue: str, member: Member, last_call: int, wall: float, mono: float) -> None:
        seconds = self.wrapup.seconds(self._last_queue.get(member.interface, queue), member.wrapup_time)
        end = last_call + seconds
        record = member.agent
        record.wrapup_end = end
        record.wrapup_until = mono + (end - wall)

    def _sync_pause(self, member: Member, record: AgentRecord, wall: float, mono: float, event: bool) -> bool:
        """Open, close or switch the pause span; True when a pause restarted while paused."""
        if not member.paused:
            if record.pause_reason:
                self._close_pause(record, mono)
            return False
        text = member.paused_reason or NO_REASON
        if not record.pause_reason:
            start = mono
            if not event and 0 < member.last_pause <= wall:
                # Paused before we knew: Asterisk's LastPause is the start (whole seconds).
                start = mono - (wall - member.last_pause)
            self._open_pause(record, text, max(start, record.pause_closed))
            return False
        if event or text != record.pause_text:
            self._close_pause(record, mono)
            self._open_pause(record, text, mono)
            return True
        return False

    def _open_pause(self, record: AgentRecord, text: str, start: float) -> None:
        reason = self._caps.admit("pause_reason", text)  # once per pause, not per member event
        record.pause_reason = reason
        record.pause_text = text
        record.pause_started = start
        record.paused_seconds.setdefault(reason, 0.0)

    @staticmethod
    def _close_pause(record: AgentRecord, mono: float) -> None:
        reason = record.pause_reason
        record.paused_seconds[reason] = record.paused_seconds.get(reason, 0.0) + max(
            0.0, mono - record.pause_started
        )
        record.pause_reason = ""
        record.pause_closed = mono

    def _refresh(self, member: Member, wall: float, mono: float) -> None:
        record = member.agent
        in_wrapup = mono < record.wrapup_until
        state = agent_state(
            paused=member.paused,
            status=member.status,
            in_call=member.in_call,
            ringinuse=member.ringinuse,
            in_wrapup=in_wrapup,
        )
        previous = record.state
        if state == previous:
            return
        if state == PAUSED:
            since = wall - (mono - record.pause_started)  # the pause's start, however learned
        elif previous == WRAPUP and state == AVAILABLE and not in_wrapup:
            since = record.wrapup_end  # the wrap-up ran out before this event
        elif previous == NOT_IN_QUEUE and state == WRAPUP:
            since = float(record.last_call)  # first seen in wrap-up: it began with the last call
        else:
            since = wall
        record.state = state
        record.since = min(since, wall)
