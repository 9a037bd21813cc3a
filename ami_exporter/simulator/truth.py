"""The truth oracle: what the simulated PBX really did, for end-to-end tests of the exporter."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CallerTruth", "MemberTruth", "QueueTruth", "SessionTruth", "Truth"]


@dataclass(frozen=True, slots=True)
class CallerTruth:
    uniqueid: str
    channel: str
    join_time: float
    position: int


@dataclass(frozen=True, slots=True)
class MemberTruth:
    queue: str
    interface: str
    name: str
    status: int
    paused: bool
    paused_reason: str
    in_call: bool
    calls_taken: int
    last_call: int
    penalty: int
    # per-agent counters since the simulator started (they survive a simulated restart)
    answered: int = 0  # AgentConnect
    ring_noanswer: int = 0  # AgentRingNoAnswer
    talk_seconds: int = 0  # sum of AgentComplete TalkTime
    paused_seconds: dict[str, float] = field(default_factory=dict)  # by PausedReason as sent
    pauses: dict[str, int] = field(default_factory=dict)  # pauses begun, by reason
    state: str = "available"  # agent state by the exporter's documented precedence


@dataclass(frozen=True, slots=True)
class QueueTruth:
    """Per-queue counters since the simulator started (they survive a simulated restart; the
    Asterisk-side statistics in ``completed_stat``/``abandoned_stat`` do not)."""

    name: str
    waiting: int
    callers: tuple[CallerTruth, ...]
    joins: int
    abandons: int  # QueueCallerAbandon events: caller hang-ups + timeouts + restart
    caller_abandons: int
    timeouts: int
    answered: int  # AgentConnect
    completed: dict[str, int]  # AgentComplete by Reason
    ring_no_answer: int
    joinempty: int
    full: int
    completed_stat: int
    abandoned_stat: int


@dataclass(frozen=True, slots=True)
class SessionTruth:
    id: int
    user: str | None
    remote: str
    open: bool
    events: dict[str, int]  # async events written to this session, by name
    list_items: dict[str, int]  # list items and ...Complete events, by name
    responses: int
    close_reason: str | None
    actions: dict[str, int] = field(default_factory=dict)  # actions received, by name
    write_pauses: int = 0
    longest_stall: float = 0.0  # seconds without progress while above write_high_water


@dataclass(frozen=True, slots=True)
class Truth:
    now: float
    generation: int  # number of simulated restarts
    queues: dict[str, QueueTruth]
    members: dict[tuple[str, str], MemberTruth]  # (queue, interface)
    channels: dict[str, str]  # uniqueid -> channel name
    bridges: dict[str, tuple[str, ...]]  # bridge id -> channel names
    cdr_dispositions: dict[str, int]
    cdr_billable_seconds: int
    emitted: dict[str, int]  # every async event the model produced, by name
    security: dict[str, int]
    sessions: dict[int, SessionTruth] = field(default_factory=dict)
    # PJSIP: endpoint ("PJSIP/<name>") -> reachable/unreachable; contact status per endpoint
    # with a contact (reachable, unreachable, non_qualified); outbound registration -> Status.
    endpoints: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)
    registrations: dict[str, str] = field(default_factory=dict)

    def events_received(self, session_id: int) -> dict[str, int]:
        return self.sessions[session_id].events
