"""res_pjsip in the simulator: phones with static, qualified contacts that drop off and come back,
softphones that register and unregister, inbound trunks without contacts and outbound
registrations that fail now and then.

What it sends follows the ``f-pjsip`` recording of Asterisk 22.10.1 (``tests/simulator/
test_shapes.py`` checks every shape against it): a phone's qualify result raises ``PeerStatus``
(Reachable/Unreachable, the endpoint as a whole) and ``ContactStatus`` (``RoundtripUsec`` 0 unless
Reachable); a registration raises ``NonQualified``, an unregistration ``Removed``;
``PJSIPShowContacts`` lists only registered contacts and answers ``No Contacts found\\n`` (a bare
LF, then the frame's own CRLFs) when there are none. ``Registry`` and
``OutboundRegistrationDetail`` are in no recording: they follow the AMI reference and
``res_pjsip_outbound_registration.c``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ami_exporter.simulator import events as ev
from ami_exporter.simulator.clock import VirtualClock
from ami_exporter.simulator.config import PjsipConfig
from ami_exporter.simulator.pjsip_objects import AOR_DETAIL, ENDPOINT_DETAIL, TRANSPORT_DETAIL, Fields
from ami_exporter.simulator.shapes import Event, Pairs, ack, complete, list_item

__all__ = ["OutboundRegistration", "SipEndpoint", "SipPlant"]

PHONE, SOFTPHONE, TRUNK = "phone", "softphone", "trunk"
# ast_devstate_str(), as EndpointList and EndpointDetail say DeviceState.
DEVICE_STATE_WORDS = {
    "UNKNOWN": "Unknown",
    "NOT_INUSE": "Not in use",
    "INUSE": "In use",
    "BUSY": "Busy",
    "INVALID": "Invalid",
    "UNAVAILABLE": "Unavailable",
    "RINGING": "Ringing",
    "RINGINUSE": "Ring+Inuse",
    "ONHOLD": "On Hold",
}
EXPIRES = 3600


@dataclass(eq=False)
class SipEndpoint:
    name: str
    kind: str
    port: int
    online: bool
    roundtrip_usec: int = 0
    expires_at: int = 0  # a softphone's registration

    @property
    def uri(self) -> str:
        suffix = ";transport=UDP" if self.kind == SOFTPHONE else ""
        return f"sip:{self.name}@127.0.0.1:{self.port}{suffix}"

    @property
    def contact_hash(self) -> str:
        return hashlib.md5(self.uri.encode()).hexdigest()

    def has_contact(self) -> bool:
        return self.kind == PHONE or (self.kind == SOFTPHONE and self.online)


@dataclass(eq=False)
class OutboundRegistration:
    name: str
    client_uri: str
    server_uri: str
    status: str = "Registered"


class SipPlant:
    """The PJSIP endpoints. ``set_online(interface, online)`` tells the call centre that a queue
    member's phone changed (it then emits the device state and QueueMemberStatus, as app_queue
    does); ``device_state(endpoint)`` and ``channels(endpoint)`` read the call centre back."""

    def __init__(
        self,
        config: PjsipConfig,
        member_phones: Iterable[str],
        clock: VirtualClock,
        rng: random.Random,
        emit: Callable[[Event], None],
        set_online: Callable[[str, bool], bool],
        device_state: Callable[[str], str | None],
        channels: Callable[[str], int],
    ) -> None:
        self.config = config
        self._clock = clock
        self._rng = rng
        self._emit = emit
        self._set_online = set_online
        self._device_state = device_state
        self._channels = channels
        self._running = False
        self.endpoints: dict[str, SipEndpoint] = {}
        port = 5070
        for name in dict.fromkeys([*member_phones, *config.phones]):
            port += 1
            online = name not in config.phones_down
            self.endpoints[name] = SipEndpoint(name, PHONE, port, online, self._rtt() if online else 0)
        for name in config.softphones:
            port += 1
            self.endpoints[name] = SipEndpoint(name, SOFTPHONE, port, False)
        for name in config.trunks:
            self.endpoints[name] = SipEndpoint(name, TRUNK, 5090, False)
        self.registrations = {
            name: OutboundRegistration(name, f"sip:{name}@sip.provider.example", "sip:sip.provider.example")
            for name in config.registrations
        }

    def _rtt(self) -> int:
        return self._rng.randint(300, 2500)

    # --- random processes ----------------------------------------------------------------------

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        cfg = self.config
        for endpoint in self.endpoints.values():
            if endpoint.kind == PHONE and cfg.flap_interval > 0:
                self._later(cfg.flap_interval, self._flap(endpoint))
            elif endpoint.kind == SOFTPHONE and cfg.register_interval > 0:
                self._later(cfg.register_interval, self._toggle_registration(endpoint))
        if cfg.registration_failure_interval > 0:
            for registration in self.registrations.values():
                self._later(cfg.registration_failure_interval, self._fail(registration))

    def stop(self) -> None:
        self._running = False

    def _later(self, mean: float, callback: Callable[[], None]) -> None:
        self._clock.call_later(self._rng.expovariate(1 / mean), callback)

    def _flap(self, endpoint: SipEndpoint) -> Callable[[], None]:
        def tick() -> None:
            if not self._running:
                return
            if endpoint.online:
                self.set_phone(endpoint.name, False)
                self._clock.call_later(self._rng.uniform(*self.config.down_time), tick)
            else:
                self.set_phone(endpoint.name, True)
                self._later(self.config.flap_interval, tick)

        return tick

    def _toggle_registration(self, endpoint: SipEndpoint) -> Callable[[], None]:
        def tick() -> None:
            if not self._running:
                return
            if endpoint.online:
                self.unregister(endpoint.name)
            else:
                self.register(endpoint.name)
            self._later(self.config.register_interval, tick)

        return tick

    def _fail(self, registration: OutboundRegistration) -> Callable[[], None]:
        def tick() -> None:
            if not self._running:
                return
            self.set_registration(registration.name, "Rejected")

            def retry() -> None:
                self.set_registration(registration.name, "Registered")
                if self._running:
                    self._later(self.config.registration_failure_interval, tick)

            self._clock.call_later(self.config.registration_retry, retry)

        return tick

    # --- changes (also driven by tests) ----------------------------------------------------------

    def set_phone(self, name: str, online: bool) -> None:
        """A phone's qualify succeeds again or times out."""
        endpoint = self.endpoints[name]
        if endpoint.kind != PHONE or endpoint.online == online:
            return
        endpoint.online = online
        endpoint.roundtrip_usec = self._rtt() if online else 0
        self._emit(ev.peer_status(name, online))
        status = "Reachable" if online else "Unreachable"
        self._emit(ev.contact_status(endpoint.uri, status, name, name, endpoint.roundtrip_usec))
        self._device_changed(endpoint)

    def register(self, name: str) -> None:
        endpoint = self.endpoints[name]
        if endpoint.kind != SOFTPHONE or endpoint.online:
            return
        endpoint.online = True
        endpoint.expires_at = int(self._clock.now()) + EXPIRES
        self._emit(ev.peer_status(name, True))
        self._emit(ev.contact_status(endpoint.uri, "NonQualified", name, name, 0))
        self._device_changed(endpoint)

    def unregister(self, name: str) -> None:
        endpoint = self.endpoints[name]
        if endpoint.kind != SOFTPHONE or not endpoint.online:
            return
        endpoint.online = False
        self._emit(ev.peer_status(name, False))
        self._emit(ev.contact_status(endpoint.uri, "Removed", name, name, 0))
        self._device_changed(endpoint)

    def set_registration(self, name: str, status: str) -> None:
        registration = self.registrations[name]
        registration.status = status
        self._emit(ev.registry(registration.client_uri, registration.server_uri, status))

    def _device_changed(self, endpoint: SipEndpoint) -> None:
        member = self._set_online(f"PJSIP/{endpoint.name}", endpoint.online)
        if not member and self._channels(endpoint.name) == 0:  # with channels: the calls' state
            self._emit(ev.device_state_change(f"PJSIP/{endpoint.name}", self.device_state(endpoint)))

    # --- views --------------------------------------------------------------------------------------

    def truth(self) -> dict[str, dict[str, str]]:
        """What really holds, for :class:`~ami_exporter.simulator.truth.Truth`."""
        contacts = {}
        for e in self.endpoints.values():
            if e.has_contact():
                contacts[f"PJSIP/{e.name}"] = (
                    "non_qualified" if e.kind == SOFTPHONE else "reachable" if e.online else "unreachable"
                )
        return {
            "endpoints": {
                f"PJSIP/{e.name}": "reachable" if e.online else "unreachable" for e in self.endpoints.values()
            },
            "contacts": contacts,
            "registrations": {r.name: r.status.lower() for r in self.registrations.values()},
        }

    def device_state(self, endpoint: SipEndpoint) -> str:
        """chan_pjsip_devicestate(): the calls' state, else online/offline."""
        state = self._device_state(f"PJSIP/{endpoint.name}")
        if state is not None:
            return state
        if self._channels(endpoint.name):
            return "INUSE"
        return "NOT_INUSE" if endpoint.online else "UNAVAILABLE"

    def devices(self) -> list[tuple[str, str]]:
        """The PJSIP devices that are not queue members (DeviceStateList lists those too)."""
        return [
            (f"PJSIP/{e.name}", self.device_state(e))
            for e in self.endpoints.values()
            if self._device_state(f"PJSIP/{e.name}") is None
        ]

    # --- replies ------------------------------------------------------------------------------------

    def endpoint_list(self, action_id: str | None) -> list[Pairs]:
        frames: list[Pairs] = [
            ack(action_id, "A listing of Endpoints follows, presented as EndpointList events")
        ]
        for endpoint in self.endpoints.values():
            body: Pairs = [
                ("ObjectType", "endpoint"),
                ("ObjectName", endpoint.name),
                ("Transport", "transport-udp"),
                ("Aor", "" if endpoint.kind == TRUNK else endpoint.name),
                ("Auths", f"{endpoint.name}-auth" if endpoint.kind == SOFTPHONE else ""),
                ("OutboundAuths", ""),
            ]
            if endpoint.kind != TRUNK:  # an endpoint without AOR has no Contacts line at all
                body.append(
                    ("Contacts", f"{endpoint.name}/{endpoint.uri}," if endpoint.has_contact() else "")
                )
            body += [
                ("DeviceState", DEVICE_STATE_WORDS[self.device_state(endpoint)]),
                ("ActiveChannels", str(self._channels(endpoint.name))),
            ]
            frames.append(list_item("EndpointList", body, action_id, first=True))
        frames.append(complete("EndpointListComplete", action_id, len(frames) - 1))
        return frames

    def registered(self) -> list[SipEndpoint]:
        return [e for e in self.endpoints.values() if e.kind == SOFTPHONE and e.online]

    def contact_list(self, action_id: str | None) -> list[Pairs]:
        """``PJSIPShowContacts``: registered contacts only (the caller handles "none")."""
        frames: list[Pairs] = [
            ack(action_id, "A listing of Contacts follows, presented as ContactList events")
        ]
        for endpoint in self.registered():
            body: Pairs = [
                ("ObjectType", "contact"),
                ("ObjectName", f"{endpoint.name};@{endpoint.contact_hash}"),
                ("ViaAddr", "127.0.0.1"),
                ("QualifyTimeout", "3.000000"),
                ("Qualify2xxOnly", "false"),
                ("CallId", f"1-{endpoint.port}@127.0.0.1"),
                ("RegServer", ""),
                ("PruneOnBoot", "no"),
                ("Path", ""),
                ("Endpoint", endpoint.name),
                ("ViaPort", str(endpoint.port)),
                ("AuthenticateQualify", "no"),
                ("Uri", endpoint.uri),
                ("QualifyFrequency", "0"),
                ("UserAgent", f"Simulated softphone {endpoint.name}"),
                ("ExpirationTime", str(endpoint.expires_at)),
                ("OutboundProxy", ""),
                ("Status", "NonQualified"),
                ("RoundtripUsec", "N/A"),
            ]
            frames.append(list_item("ContactList", body, action_id, first=True))
        frames.append(complete("ContactListComplete", action_id, len(frames) - 1))
        return frames

    def endpoint_detail(self, action_id: str | None, name: str) -> list[Pairs] | None:
        """``PJSIPShowEndpoint``: the endpoint, its transport, its AOR and its contacts' status;
        None for an unknown endpoint."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return None
        frames: list[Pairs] = [
            ack(action_id, "Following are Events for each object associated with the Endpoint")
        ]
        state = DEVICE_STATE_WORDS[self.device_state(endpoint)]
        values = {
            "ObjectName": name,
            "Aors": "" if endpoint.kind == TRUNK else name,
            "Callerid": f'"{name}" <{name}>',
            "Context": "from-trunk" if endpoint.kind == TRUNK else "from-phones",
            "DeviceState": state,
            "ActiveChannels": str(self._channels(name)),
        }
        frames.append(list_item("EndpointDetail", _fill(ENDPOINT_DETAIL, values), action_id, first=True))
        frames.append(
            list_item(
                "TransportDetail", _fill(TRANSPORT_DETAIL, {"EndpointName": name}), action_id, first=True
            )
        )
        if endpoint.kind == TRUNK:
            frames.append(complete("EndpointDetailComplete", action_id, len(frames) - 1))
            return frames
        contact = f"{name}/{endpoint.uri}" if endpoint.has_contact() else ""
        aor = {
            "ObjectName": name,
            "Contacts": contact,
            "TotalContacts": "1" if contact else "0",
            "ContactsRegistered": "1" if endpoint.kind == SOFTPHONE and contact else "0",
            "EndpointName": name,
            "MaxContacts": "1" if endpoint.kind == SOFTPHONE else "0",
            "QualifyFrequency": "0" if endpoint.kind == SOFTPHONE else "5",
        }
        frames.append(list_item("AorDetail", _fill(AOR_DETAIL, aor), action_id, first=True))
        if endpoint.has_contact():
            if endpoint.kind == SOFTPHONE:
                status, rtt = "NonQualified", "N/A"
            elif endpoint.online:
                status, rtt = "Reachable", str(endpoint.roundtrip_usec)
            else:
                status, rtt = "Unreachable", "N/A"
            separator = ";@" if endpoint.kind == SOFTPHONE else "@@"
            body: Pairs = [
                ("AOR", name),
                ("URI", endpoint.uri),
                ("UserAgent", ""),
                ("RegExpire", str(endpoint.expires_at)),
                ("Status", status),
                ("RoundtripUsec", rtt),
                ("EndpointName", name),
                ("ID", f"{name}{separator}{endpoint.contact_hash}"),
                ("AuthenticateQualify", "0"),
                ("OutboundProxy", ""),
                ("Path", ""),
                ("QualifyFrequency", "0"),
                ("QualifyTimeout", "3.000"),
                ("Qualify2xxOnly", "0"),
            ]
            frames.append(list_item("ContactStatusDetail", body, action_id, first=True))
        frames.append(complete("EndpointDetailComplete", action_id, len(frames) - 1))
        return frames

    def outbound_registrations(self, action_id: str | None) -> list[Pairs]:
        """``PJSIPShowRegistrationsOutbound``: its completion counts Registered/NotRegistered
        instead of ListItems (res_pjsip_outbound_registration.c)."""
        frames: list[Pairs] = [ack(action_id, "Following are Events for each Outbound registration")]
        for registration in self.registrations.values():
            body: Pairs = [
                ("ObjectType", "registration"),
                ("ObjectName", registration.name),
                ("ServerUri", registration.server_uri),
                ("ClientUri", registration.client_uri),
                ("Transport", "transport-udp"),
                ("Expiration", str(EXPIRES)),
                ("RetryInterval", str(int(self.config.registration_retry))),
                ("MaxRetries", "10"),
                ("OutboundAuth", ""),
                ("Status", registration.status),
                ("NextReg", "0"),
            ]
            frames.append(list_item("OutboundRegistrationDetail", body, action_id, first=True))
        registered = sum(1 for r in self.registrations.values() if r.status == "Registered")
        body = [
            ("EventList", "Complete"),
            ("Registered", str(registered)),
            ("NotRegistered", str(len(self.registrations) - registered)),
        ]
        frames.append(list_item("OutboundRegistrationDetailComplete", body, action_id, first=True))
        return frames


def _fill(template: Fields, values: dict[str, str]) -> Pairs:
    return [(key, values.get(key, value)) for key, value in template]
