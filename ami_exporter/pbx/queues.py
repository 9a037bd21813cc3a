"""Queues, their members and waiting callers: folded from agent-class events and replaced by
``QueueStatus`` snapshots.

Traps this code handles (from the event documentation in Asterisk's ``apps/app_queue.c``, the
recordings in ``tests/fixtures/ami-captures/`` and docs/asterisk-notes.md, "Queues"):

* member identity is ``MemberName``/``Interface`` in events but ``Name``/``Location`` in
  ``QueueMember`` list items; members are keyed by interface;
* ``AgentRingNoAnswer.RingTime`` is milliseconds, ``AgentConnect.RingTime`` seconds;
* ``AgentComplete`` may lack every caller field: only Queue, Interface, MemberName, HoldTime,
  TalkTime and Reason are used;
* a queue timeout (and leavewhenempty, withdraw, a restart) arrives as ``QueueCallerAbandon``;
* ``QueueCallerJoin``/``Leave`` ``Count`` is the queue's own caller count after the event, so it
  is taken as the gauge rather than trusting our own bookkeeping.

Agent state, wrap-up, pause spans and per-agent counters are :mod:`.agents`' job; this module
tells it when a member appears, changes, takes or misses a call, and leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .agents import AgentBook, AgentRecord, WrapupTimes
from .histogram import TALK_BUCKETS, WAIT_BUCKETS, Histogram
from .labels import LabelCaps
from .numbers import clean_text, first, flag, to_float, to_int

COMPLETION_REASONS = ("agent", "caller", "transfer")


@dataclass(slots=True)
class Member:
    interface: str
    name: str
    state_interface: str = ""
    membership: str = ""
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = 0
    in_call: bool = False
    status: int = 0
    paused: bool = False
    paused_reason: str = ""
    wrapup_time: int = 0
    ringinuse: bool = False
    agent: AgentRecord = field(kw_only=True)  # state and counters, kept across snapshots

    def state_key(self) -> tuple[int, bool, bool, int]:
        """What a reconcile compares to decide that a member was corrected."""
        return (self.status, self.paused, self.in_call, self.penalty)


@dataclass(slots=True)
class Caller:
    uniqueid: str
    joined: float  # on the model's monotonic clock
    position: int = 0


@dataclass(slots=True)
class QueueParams:
    """Asterisk's own view of the queue, from the last ``QueueParams`` item."""

    max_callers: int = 0
    strategy: str = ""
    holdtime: float = 0.0
    talktime: float = 0.0
    completed: int = 0
    abandoned: int = 0
    service_level: int = 0
    service_level_perf: float = 0.0
    service_level_perf2: float = 0.0
    weight: int = 0


@dataclass(slots=True)
class Queue:
    name: str
    callers: dict[str, Caller] = field(default_factory=dict)
    count: int = 0
    members: dict[str, Member] = field(default_factory=dict)
    params: QueueParams | None = None
    # Event-derived counters: monotonic for the life of the process.
    joins: int = 0
    abandons: int = 0
    answered: int = 0
    completed: dict[str, int] = field(default_factory=dict)
    ring_noanswer: int = 0
    dumps: int = 0
    wait_answered: Histogram = field(default_factory=lambda: Histogram(WAIT_BUCKETS))
    wait_abandoned: Histogram = field(default_factory=lambda: Histogram(WAIT_BUCKETS))
    talk: Histogram = field(default_factory=lambda: Histogram(TALK_BUCKETS))

    def longest_wait(self, now: float) -> float:
        """``now`` is the model's monotonic clock, like ``Caller.joined``."""
        callers = list(self.callers.values())
        if not callers:
            return 0.0
        return max(0.0, now - min(caller.joined for caller in callers))


@dataclass(slots=True)
class QueueSnapshot:
    """A complete ``QueueStatus`` reply, split by item type."""

    params: list[Mapping[str, str]] = field(default_factory=list)
    members: list[Mapping[str, str]] = field(default_factory=list)
    entries: list[Mapping[str, str]] = field(default_factory=list)
    partial: bool = False  # the request named one queue: do not drop the others

    @classmethod
    def from_items(
        cls, items: Iterable[tuple[str, Mapping[str, str]]], *, partial: bool = False
    ) -> QueueSnapshot:
        snapshot = cls(partial=partial)
        for name, fields in items:
            if name == "QueueParams":
                snapshot.params.append(fields)
            elif name == "QueueMember":
                snapshot.members.append(fields)
            elif name == "QueueEntry":
                snapshot.entries.append(fields)
        return snapshot


class QueueBook:
    """All queues. Mutated only by the event loop; read by collectors at scrape time."""

    def __init__(
        self,
        caps: LabelCaps,
        monotonic: Callable[[], float],
        *,
        wall: Callable[[], float] | None = None,
        wrapup: WrapupTimes | None = None,
    ) -> None:
        self._caps = caps
        self._now = monotonic  # waits are durations: never the wall clock
        self.queues: dict[str, Queue] = {}
        self._member_labels: dict[str, int] = {}
        self.agents = AgentBook(caps, wall or monotonic, monotonic, wrapup)

    # -- lookup -------------------------------------------------------------------------------

    def queue(self, raw_name: str | None) -> Queue:
        name = clean_text(raw_name or "")
        queue = self.queues.get(name)
        if queue is None:
            name = self._caps.admit("queue", name)
            queue = self.queues.get(name)
            if queue is None:
                queue = self.queues[name] = Queue(name)
        return queue

    def _member(self, queue: Queue, fields: Mapping[str, str], *, create: bool) -> Member | None:
        interface = _interface(fields)
        member = queue.members.get(interface)
        if member is None and create and interface:
            # Member additions are rare events: a scan of the queue's labels is cheap here.
            taken = {other.name: other.interface for other in queue.members.values()}
            member = queue.members[interface] = self._new_member(queue.name, fields, interface, taken)
        return member

    def _admit_label(self, taken: Mapping[str, str], fields: Mapping[str, str], interface: str) -> str:
        """The member's label, unique within its queue and always through the cap.

        ``taken`` maps the labels already used in the queue to their interfaces. Two members
        sharing a MemberName would produce duplicate series, so the second is labelled by its
        interface, which is unique; both go through the same cap.
        """
        label = _label(fields, interface)
        if taken.get(label, interface) != interface:
            label = interface
        return self._caps.admit("member", label)

    def _new_member(
        self,
        queue: str,
        fields: Mapping[str, str],
        interface: str,
        taken: Mapping[str, str],
        previous: Member | None = None,
    ) -> Member:
        """A member with its label and its agent record (continued from ``previous``, or from an
        earlier membership under the same label); the caller applies the fields and tells the
        agent book."""
        label = self._admit_label(taken, fields, interface)
        self._track(label)
        record = self.agents.record_for(queue, label, previous.agent if previous else None)
        return Member(interface, label, agent=record)

    # -- caller events ------------------------------------------------------------------------

    def caller_join(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        queue.joins += 1
        uniqueid = fields.get("Uniqueid")
        if uniqueid and uniqueid not in queue.callers:
            queue.callers[uniqueid] = Caller(uniqueid, self._now(), to_int(fields.get("Position")))
        queue.count = to_int(fields.get("Count"), len(queue.callers))

    def caller_leave(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        uniqueid = fields.get("Uniqueid")
        if uniqueid:
            queue.callers.pop(uniqueid, None)
        queue.count = to_int(fields.get("Count"), len(queue.callers))

    def caller_abandon(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        queue.abandons += 1
        queue.wait_abandoned.observe(to_int(fields.get("HoldTime")))

    # -- agent events -------------------------------------------------------------------------

    def agent_connect(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        queue.answered += 1
        queue.wait_answered.observe(to_int(fields.get("HoldTime")))
        member = self._member(queue, fields, create=False)
        if member is not None:
            member.in_call = True
        self.agents.connected(queue.name, member, fields)

    def agent_complete(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        reason = fields.get("Reason", "")
        if reason not in COMPLETION_REASONS:
            reason = "other" if reason else "unknown"
        queue.completed[reason] = queue.completed.get(reason, 0) + 1
        queue.talk.observe(to_int(fields.get("TalkTime")))
        member = self._member(queue, fields, create=False)
        elsewhere: list[tuple[str, Member]] = []
        if member is not None:
            member.in_call = False
            interface = member.interface
            for other in list(self.queues.values()):
                if other is not queue and (membership := other.members.get(interface)) is not None:
                    elsewhere.append((other.name, membership))
        self.agents.completed(queue.name, member, fields, elsewhere)

    def agent_ring_noanswer(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        queue.ring_noanswer += 1
        self.agents.ring_noanswer(queue.name, self._member(queue, fields, create=False), fields)

    def agent_dump(self, fields: Mapping[str, str]) -> None:
        self.queue(fields.get("Queue")).dumps += 1

    # -- member events (all carry the full member blob) -----------------------------------------

    def member_update(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        member = self._member(queue, fields, create=True)
        if member is not None:
            _apply_member_fields(member, fields)
            self.agents.update(queue.name, member)

    def member_pause(self, fields: Mapping[str, str]) -> None:
        """``QueueMemberPause``: like any member event, but a pause while paused is a new pause
        (Asterisk raises it again, possibly with another reason)."""
        queue = self.queue(fields.get("Queue"))
        member = self._member(queue, fields, create=True)
        if member is not None:
            _apply_member_fields(member, fields)
            self.agents.update(queue.name, member, pause_event=True)

    def member_removed(self, fields: Mapping[str, str]) -> None:
        queue = self.queue(fields.get("Queue"))
        interface = _interface(fields)
        member = queue.members.pop(interface, None)
        if member is not None:
            self._untrack(member.name)
            self.agents.leave(member)

    # A member label's cap slot is freed when no queue has a member by that name any more; the
    # count per label makes that O(1) (scanning every queue made removing 10,000 members O(n²)).

    def _track(self, label: str) -> None:
        self._member_labels[label] = self._member_labels.get(label, 0) + 1

    def _untrack(self, label: str) -> None:
        remaining = self._member_labels.get(label, 0) - 1
        if remaining > 0:
            self._member_labels[label] = remaining
        else:
            self._member_labels.pop(label, None)
            self._caps.release("member", label)

    # -- reconcile ------------------------------------------------------------------------------

    def reconcile(self, snapshot: QueueSnapshot) -> dict[str, int]:
        """Replace queues, members and callers with a complete ``QueueStatus`` reply and return
        the number of corrections per object kind."""
        now = self._now()
        corrections = {"queue": 0, "queue_member": 0, "queue_caller": 0}
        seen: set[str] = set()
        for fields in snapshot.params:
            name = clean_text(fields.get("Queue", ""))
            if name not in self.queues:
                corrections["queue"] += 1
            queue = self.queue(name)
            seen.add(queue.name)
            queue.params = _params(fields)
        members_by_queue: dict[str, dict[str, Member]] = {name: {} for name in seen}
        labels_by_queue: dict[str, dict[str, str]] = {}
        for fields in snapshot.members:
            queue = self.queue(fields.get("Queue"))
            interface = _interface(fields)
            if not interface:
                continue
            old = queue.members.get(interface)
            members = members_by_queue.setdefault(queue.name, {})
            labels = labels_by_queue.setdefault(queue.name, {})
            duplicate = members.pop(interface, None)
            if duplicate is not None:
                self._untrack(duplicate.name)
                labels.pop(duplicate.name, None)
            member = self._new_member(queue.name, fields, interface, labels, old)
            labels.setdefault(member.name, interface)
            _apply_member_fields(member, fields)
            if old is not None:
                member.ringinuse = old.ringinuse  # QueueMember carries no Ringinuse
            members[interface] = member
        entries_by_queue: dict[str, list[Mapping[str, str]]] = {name: [] for name in seen}
        for fields in snapshot.entries:
            entries_by_queue.setdefault(self.queue(fields.get("Queue")).name, []).append(fields)

        for name, members in members_by_queue.items():
            queue = self.queue(name)
            old_members = queue.members
            for interface, member in members.items():
                previous = old_members.get(interface)
                if previous is None or previous.state_key() != member.state_key():
                    corrections["queue_member"] += 1
            queue.members = members
            kept = {id(member.agent) for member in members.values()}
            for interface, member in old_members.items():
                if interface not in members:
                    corrections["queue_member"] += 1
                self._untrack(member.name)  # every old member object was replaced or removed
                if id(member.agent) not in kept:
                    self.agents.leave(member)
            for member in members.values():
                self.agents.update(name, member)

        for name, entries in entries_by_queue.items():
            queue = self.queue(name)
            old_callers = queue.callers
            callers: dict[str, Caller] = {}
            for fields in entries:
                uniqueid = fields.get("Uniqueid") or f"position-{fields.get('Position', len(callers))}"
                known = old_callers.get(uniqueid)
                joined = known.joined if known else now - to_int(fields.get("Wait"))
                callers[uniqueid] = Caller(uniqueid, joined, to_int(fields.get("Position")))
            diff = len(callers.keys() ^ old_callers.keys())
            if diff == 0 and queue.count != len(callers):
                diff = 1  # the gauge was off although no known caller was missing
            corrections["queue_caller"] += diff
            queue.callers = callers
            queue.count = len(callers)

        if not snapshot.partial:
            for name in [name for name in self.queues if name not in seen]:
                corrections["queue"] += 1
                queue = self.queues.pop(name)
                self._caps.release("queue", name)
                for member in queue.members.values():
                    self._untrack(member.name)
                self.agents.drop_queue(name)
            self.agents.forget_interfaces(
                {interface for queue in self.queues.values() for interface in queue.members}
            )
        return corrections


def _interface(fields: Mapping[str, str]) -> str:
    """A member's key. Events say ``Interface``, ``QueueMember`` items ``Location``; the state
    interface is the last resort."""
    return clean_text(first(fields, "Interface", "Location", "StateInterface") or "")


def _label(fields: Mapping[str, str], interface: str) -> str:
    """The ``member`` label: ``MemberName`` (events) or ``Name`` (items), else the interface."""
    return clean_text(first(fields, "MemberName", "Name") or "") or interface


def _apply_member_fields(member: Member, fields: Mapping[str, str]) -> None:
    """Copy whichever member-blob fields are present (older Asterisk versions lack some)."""
    get = fields.get
    if (value := get("StateInterface")) is not None:
        member.state_interface = clean_text(value)
    if (value := get("Membership")) is not None:
        member.membership = value
    if (value := get("Penalty")) is not None:
        member.penalty = to_int(value)
    if (value := get("CallsTaken")) is not None:
        member.calls_taken = to_int(value)
    if (value := get("LastCall")) is not None:
        member.last_call = to_int(value)
    if (value := get("LastPause")) is not None:
        member.last_pause = to_int(value)
    if (value := get("LoginTime")) is not None:
        member.login_time = to_int(value)
    if (value := first(fields, "InCall", "IsInCall")) is not None:
        member.in_call = flag(value)
    if (value := get("Status")) is not None:
        member.status = to_int(value)
    if (value := get("Paused")) is not None:
        member.paused = flag(value)
    if (value := get("PausedReason")) is not None:
        member.paused_reason = clean_text(value)
    if (value := get("Wrapuptime")) is not None:
        member.wrapup_time = to_int(value)
    if (value := get("Ringinuse")) is not None:
        member.ringinuse = flag(value)


def _params(fields: Mapping[str, str]) -> QueueParams:
    return QueueParams(
        max_callers=to_int(fields.get("Max")),
        strategy=clean_text(fields.get("Strategy", "")),
        holdtime=to_float(first(fields, "Holdtime", "HoldTime")),
        talktime=to_float(fields.get("TalkTime")),
        completed=to_int(fields.get("Completed")),
        abandoned=to_int(fields.get("Abandoned")),
        service_level=to_int(fields.get("ServiceLevel")),
        service_level_perf=to_float(fields.get("ServicelevelPerf")),
        service_level_perf2=to_float(fields.get("ServicelevelPerf2")),
        weight=to_int(fields.get("Weight")),
    )
