"""The PBX model: a pure fold of AMI events plus snapshot reconciliation.

No I/O, no prometheus_client, no clock except the injected ones: ``now`` (wall clock) for the
Unix times it exports, ``monotonic`` for durations (caller waits, channel lifetimes), so that an
NTP step never skews a duration. It is mutated only on the
event loop thread; collectors read it at scrape time (see ``ami_exporter.collectors``), copying
containers with ``list()`` before iterating, which is atomic under the GIL.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from .agents import WrapupTimes
from .channels import ChannelBook
from .codes import SECURITY_EVENTS
from .endpoints import EndpointBook
from .labels import LabelCaps
from .queues import QueueBook, QueueSnapshot
from .registrations import RegistrationBook
from .system import SystemBook

Handler = Callable[[Mapping[str, str]], None]

CORRECTION_KINDS = (
    "queue",
    "queue_member",
    "queue_caller",
    "channel",
    "bridge",
    "endpoint",
    "contact",
    "device",
    "registration",
)

DEFAULT_CAPS = {
    "queue": 1000,
    "member": 20000,
    "technology": 50,
    "channel_state": 50,
    "cause": 200,
    "event": 500,
    "security_event": 100,
    "security_service": 50,
    "endpoint": 10000,
    "device": 20000,
    # Contacts and registrations are keyed by URIs that never become labels; these bound memory.
    "contact": 50000,
    "registration_key": 1000,
    "registration": 200,  # pjsip.conf registration names (trunks): label values
    # --cdr.label values: account codes and contexts are configuration, a few dozen at most.
    "cdr_accountcode": 100,
    "cdr_amaflags": 10,
    "cdr_destination_context": 100,
    "cdr_last_application": 100,
    # PausedReason: operator-chosen codes (lunch, break, training), but free text (--limits.pause-reasons).
    "pause_reason": 50,
}


class PBX:
    def __init__(
        self,
        now: Callable[[], float] = time.time,
        caps: Mapping[str, int] | None = None,
        cdr_labels: tuple[str, ...] = (),
        monotonic: Callable[[], float] = time.monotonic,
        *,
        wrapup: WrapupTimes | None = None,
    ) -> None:
        self.now = now
        self.monotonic = monotonic
        self.caps = LabelCaps({**DEFAULT_CAPS, **(caps or {})})
        self.queues = QueueBook(self.caps, monotonic, wall=now, wrapup=wrapup)
        self.channels = ChannelBook(self.caps, monotonic)
        self.system = SystemBook(self.caps, now, cdr_labels)
        self.endpoints = EndpointBook(self.caps)
        self.registrations = RegistrationBook(self.caps)
        self.events: dict[str, int] = {}
        self.last_event_time = 0.0
        # Every kind is present from the start so that increase() over it works at once.
        self.corrections: dict[str, int] = dict.fromkeys(CORRECTION_KINDS, 0)
        self.handlers: dict[str, Handler] = self._build_handlers()

    def _build_handlers(self) -> dict[str, Handler]:
        q, c, s, e, r = self.queues, self.channels, self.system, self.endpoints, self.registrations
        handlers: dict[str, Handler] = {
            "QueueCallerJoin": q.caller_join,
            "QueueCallerLeave": q.caller_leave,
            "QueueCallerAbandon": q.caller_abandon,
            "AgentConnect": q.agent_connect,
            "AgentComplete": q.agent_complete,
            "AgentRingNoAnswer": q.agent_ring_noanswer,
            "AgentDump": q.agent_dump,
            "QueueMemberStatus": q.member_update,
            "QueueMemberAdded": q.member_update,
            "QueueMemberPause": q.member_pause,
            "QueueMemberPenalty": q.member_update,
            "QueueMemberRinginuse": q.member_update,
            "QueueMemberRemoved": q.member_removed,
            "Newchannel": c.new_channel,
            "Newstate": c.new_state,
            "Hangup": c.hangup,
            "BridgeCreate": c.bridge_create,
            "BridgeEnter": c.bridge_enter,
            "BridgeDestroy": c.bridge_destroy,
            "FullyBooted": self._fully_booted,
            "Reload": s.reload,
            "Shutdown": self._shutdown,
            "Cdr": s.cdr_event,
            "PeerStatus": e.peer_status,
            "ContactStatus": e.contact_status,
            "DeviceStateChange": e.device_state,
            "Registry": r.registry,
        }
        for name in SECURITY_EVENTS:
            handlers[name] = _bind_security(s, name)
        return handlers

    def _fully_booted(self, fields: Mapping[str, str]) -> None:
        started_before = self.system.state.start_time
        self.system.fully_booted(fields)
        if started_before and self.system.state.start_time != started_before:
            # Asterisk restarted while we were away: none of the channels we knew still exist.
            self.channels.clear()

    def _shutdown(self, fields: Mapping[str, str]) -> None:
        self.system.shutdown(fields)
        self.channels.clear()

    def wants(self, name: str) -> bool:
        """Whether the decoder should parse this event in full (the fast path skips the rest)."""
        return name in self.handlers

    def count(self, name: str) -> None:
        """Count one received event."""
        self._add_events(name, 1)
        self.last_event_time = self.now()

    def count_many(self, counts: Mapping[str, int]) -> None:
        """Count events by name in bulk: the decoder tallies the ones nobody folds."""
        for name, number in counts.items():
            self._add_events(name, number)
        self.last_event_time = self.now()

    def _add_events(self, name: str, number: int) -> None:
        events = self.events
        count = events.get(name)
        if count is None:
            name = self.caps.admit("event", name)
            count = events.get(name, 0)
        events[name] = count + number

    def apply(self, name: str, fields: Mapping[str, str]) -> None:
        """Fold one event. Unknown names are ignored; the fold never raises on field content."""
        handler = self.handlers.get(name)
        if handler is not None:
            handler(fields)

    # -- snapshots ------------------------------------------------------------------------------

    def _correct(self, corrections: Mapping[str, int]) -> None:
        for kind, number in corrections.items():
            self.corrections[kind] = self.corrections.get(kind, 0) + number

    def reconcile_queues(self, snapshot: QueueSnapshot) -> dict[str, int]:
        corrections = self.queues.reconcile(snapshot)
        self._correct(corrections)
        return corrections

    def reconcile_channels(self, items: Iterable[Mapping[str, str]]) -> int:
        corrections = self.channels.reconcile_channels(items)
        self._correct({"channel": corrections})
        return corrections

    def reconcile_bridges(self, items: Iterable[Mapping[str, str]]) -> int:
        corrections = self.channels.reconcile_bridges(items)
        self._correct({"bridge": corrections})
        return corrections

    # SIP snapshots. Each takes the items of one list reply, so that it can be applied at the
    # point of the stream where the reply's ``...Complete`` arrives.

    def reconcile_devices(self, items: Iterable[Mapping[str, str]], *, endpoints: bool = False) -> int:
        """``DeviceStateList``; with ``endpoints``, PJSIP devices also stand for the PJSIP
        endpoints (for a user that may not list endpoints)."""
        corrections = self.endpoints.reconcile_devices(items, endpoints=endpoints)
        self._correct(corrections)
        return sum(corrections.values())

    def reconcile_contacts(self, items: Iterable[Mapping[str, str]]) -> int:
        """``PJSIPShowContacts`` (``ContactList`` items; none when it says "No Contacts found")."""
        corrections = self.endpoints.contacts.reconcile_contact_list(items)
        self._correct({"contact": corrections})
        return corrections

    def reconcile_endpoint_list(self, items: Iterable[Mapping[str, str]]) -> int:
        """``PJSIPShowEndpoints`` (``EndpointList`` items)."""
        corrections = self.endpoints.reconcile_endpoint_list(items)
        self._correct(corrections)
        return sum(corrections.values())

    def reconcile_endpoint_detail(self, items: Iterable[Mapping[str, str]]) -> int:
        """``PJSIPShowEndpoint`` for one endpoint (its ``ContactStatusDetail`` items count)."""
        corrections = self.endpoints.reconcile_endpoint_detail(items)
        self._correct(corrections)
        return sum(corrections.values())

    def reconcile_registrations(self, items: Iterable[Mapping[str, str]]) -> int:
        """``PJSIPShowRegistrationsOutbound`` (``OutboundRegistrationDetail`` items)."""
        corrections = self.registrations.reconcile_outbound(items)
        self._correct({"registration": corrections})
        return corrections

    def new_session(self) -> None:
        """A new AMI session began: statuses heard before it may have missed changes."""
        self.endpoints.contacts.new_session()


def _bind_security(system: SystemBook, name: str) -> Handler:
    def handle(fields: Mapping[str, str]) -> None:
        system.security_event(name, fields)

    return handle
