"""Endpoint reachability (``PeerStatus``, ``ContactStatus``), device states
(``DeviceStateChange``) and their snapshots (``PJSIPShowEndpoints``, ``DeviceStateList``).

Which drivers send what (docs/asterisk-notes.md, "Endpoints"; checked for PJSIP on the
``f-pjsip`` recording of Asterisk 22.10.1): PJSIP sends ``ContactStatus`` per contact and
``PeerStatus`` with only Reachable/Unreachable for the endpoint as a whole (online while any
contact of its AORs is available; with one contact per endpoint both come together); chan_sip
(Asterisk <= 20) and IAX2 send ``PeerStatus`` with
Registered/Unregistered/Rejected/Reachable/Lagged/Unreachable. Every driver's devices raise
``DeviceStateChange``; app_queue's ``Queue:...`` pseudo-devices and Local channels are not
endpoints and are ignored.

A PJSIP endpoint's device state says its reachability only while it has no channels
(``chan_pjsip_devicestate``): offline gives ``UNAVAILABLE``, online ``NOT_INUSE``, unknown
``UNKNOWN``; with channels it is the calls' state (``INUSE``, ``RINGING``, ...) whatever the
contacts do. A snapshot therefore takes an endpoint's state from its device state only when that
is conclusive, and otherwise keeps what events said (the recording's phone 2003 is ``INUSE``
while unreachable; an inbound-only trunk is ``INUSE`` during calls and offline between them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .codes import DEVICE_STATE_BY_TEXT, DEVICE_STATES, snake
from .contacts import AVAILABLE, ContactBook, ContactKey
from .labels import LabelCaps
from .numbers import clean_text

# Device names that are not endpoints: app_queue pseudo-devices, Local channels, hints.
_PSEUDO_DEVICE_PREFIXES = ("Queue:", "Local/", "Custom:", "Calendar:", "park:", "confbridge:", "Presence:")

# Always present in asterisk_endpoints{state}; drivers add their own words (registered, lagged, ...).
ENDPOINT_STATES = ("reachable", "unreachable", "unknown")
UP_STATES = frozenset({"reachable", "registered", "lagged"})

# ast_devstate_str(), as EndpointList's DeviceState says it, -> the DeviceStateChange word.
_DEVICE_STATE_WORDS = {
    "Unknown": "UNKNOWN",
    "Not in use": "NOT_INUSE",
    "In use": "INUSE",
    "Busy": "BUSY",
    "Invalid": "INVALID",
    "Unavailable": "UNAVAILABLE",
    "Ringing": "RINGING",
    "Ring+Inuse": "RINGINUSE",
    "On Hold": "ONHOLD",
}


@dataclass(slots=True)
class Endpoint:
    state: str
    # The contacts EndpointList's Contacts field named; None when no endpoint list said.
    listed_contacts: frozenset[ContactKey] | None = None


def reachability(device_state: str, idle: bool) -> str | None:
    """What a PJSIP device state (``DeviceStateChange`` word) says about reachability; None when
    it says nothing (the endpoint has channels). ``idle``: known to have no channels."""
    if device_state == "UNAVAILABLE":
        return "unreachable"  # no channel state aggregates to UNAVAILABLE: offline and idle
    if device_state in {"UNKNOWN", "INVALID"}:
        return "unknown"
    if device_state == "NOT_INUSE" or (idle and device_state):
        return "reachable"
    return None


def parse_contacts_field(text: str) -> list[ContactKey]:
    """EndpointList's ``Contacts: 2001/sip:2001@127.0.0.1:5071,`` -> [(aor, uri)]."""
    out: list[ContactKey] = []
    for part in text.split(","):
        aor, slash, uri = part.strip().partition("/")
        if slash and uri:
            out.append((clean_text(aor), uri))
    return out


class EndpointBook:
    def __init__(self, caps: LabelCaps) -> None:
        self._caps = caps
        self.endpoints: dict[str, Endpoint] = {}
        self.devices: dict[str, str] = {}
        self.contacts = ContactBook(caps)

    def _endpoint(self, name: str) -> Endpoint | None:
        name = clean_text(name)
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            if self._caps.admit("endpoint", name) != name:
                return None  # past the cap: count it as overflow, do not track it
            endpoint = self.endpoints[name] = Endpoint("unknown")
        return endpoint

    def _drop(self, name: str) -> None:
        if self.endpoints.pop(name, None) is not None:
            self._caps.release("endpoint", name)

    # -- events -----------------------------------------------------------------------------------

    def peer_status(self, fields: Mapping[str, str]) -> None:
        peer = fields.get("Peer")
        if not peer:
            return
        endpoint = self._endpoint(peer)
        if endpoint is not None:
            endpoint.state = snake(fields.get("PeerStatus") or "unknown")

    def contact_status(self, fields: Mapping[str, str]) -> None:
        status = self.contacts.contact_status(fields)
        if status in AVAILABLE:
            # An available contact makes its endpoint online: sound even when PeerStatus is not
            # sent (it is only sent when the endpoint's state changes).
            name = fields.get("EndpointName") or fields.get("AOR")
            if name:
                endpoint = self._endpoint(f"PJSIP/{name}")
                if endpoint is not None:
                    endpoint.state = "reachable"

    def device_state(self, fields: Mapping[str, str]) -> None:
        device = fields.get("Device", "")
        if "/" not in device or device.startswith(_PSEUDO_DEVICE_PREFIXES):
            return
        state = DEVICE_STATE_BY_TEXT.get(fields.get("State", ""), 0)
        device = clean_text(device)
        if device not in self.devices and self._caps.admit("device", device) != device:
            return
        self.devices[device] = DEVICE_STATES[state]

    # -- snapshots (pure: items in, corrections out) ------------------------------------------------

    def reconcile_endpoint_list(self, items: Iterable[Mapping[str, str]]) -> dict[str, int]:
        """Replace the PJSIP endpoints with a ``PJSIPShowEndpoints`` reply (``EndpointList``
        items) and the set of their contacts with the ones it names."""
        corrections = {"endpoint": 0, "contact": 0}
        rows = [(clean_text(fields.get("ObjectName", "")), fields) for fields in items]
        rows = [(f"PJSIP/{name}", fields) for name, fields in rows if name]
        corrections["endpoint"] = self._drop_pjsip_except({key for key, _fields in rows})
        aors_in_use: set[str] = set()
        for key, fields in rows:
            listed = frozenset(parse_contacts_field(fields.get("Contacts", "")))
            aors = {clean_text(aor) for aor in fields.get("Aor", "").split(",") if aor.strip()}
            aors_in_use |= aors | {aor for aor, _uri in listed}
            corrections["contact"] += self.contacts.set_listed(key, aors, listed)
            word = _DEVICE_STATE_WORDS.get(fields.get("DeviceState", ""), "")
            idle = fields.get("ActiveChannels", "").strip() == "0"
            state = reachability(word, idle) or self._kept_state(key, listed)
            corrections["endpoint"] += self._store(key, Endpoint(state, listed))
        corrections["contact"] += self.contacts.drop_aors_except(aors_in_use)
        return corrections

    def reconcile_devices(
        self, items: Iterable[Mapping[str, str]], *, endpoints: bool = False
    ) -> dict[str, int]:
        """Replace the device states with a ``DeviceStateList`` reply (``DeviceStateChange``
        items). With ``endpoints`` (no endpoint list permitted), PJSIP devices also give the
        PJSIP endpoints and, where conclusive, their reachability."""
        corrections = {"device": 0, "endpoint": 0}
        rows = [(clean_text(fields.get("Device", "")), fields.get("State", "")) for fields in items]
        rows = [(d, word) for d, word in rows if "/" in d and not d.startswith(_PSEUDO_DEVICE_PREFIXES)]
        old = self.devices
        listed = {device for device, _word in rows}
        for device in old:
            if device not in listed:
                corrections["device"] += 1
                self._caps.release("device", device)
        fresh: dict[str, str] = {}
        for device, word in rows:
            if device not in old and self._caps.admit("device", device) != device:
                continue
            fresh[device] = DEVICE_STATES[DEVICE_STATE_BY_TEXT.get(word, 0)]
        corrections["device"] += sum(1 for device, state in fresh.items() if old.get(device) != state)
        self.devices = fresh
        if endpoints:
            pjsip = [(d, word) for d, word in rows if d.startswith("PJSIP/") and word != "INVALID"]
            corrections["endpoint"] = self._drop_pjsip_except({device for device, _word in pjsip})
            for device, word in pjsip:
                known = self.endpoints.get(device)
                state = reachability(word, idle=False) or self._kept_state(device, None)
                listed_contacts = known.listed_contacts if known is not None else None
                corrections["endpoint"] += self._store(device, Endpoint(state, listed_contacts))
        return corrections

    def reconcile_endpoint_detail(self, items: Iterable[Mapping[str, str]]) -> dict[str, int]:
        """Apply a ``PJSIPShowEndpoint`` reply: the status of every contact of the endpoint's
        AORs (``ContactStatusDetail`` items), static contacts included."""
        details = [fields for fields in items if "URI" in fields and "AOR" in fields]
        corrections = {"contact": self.contacts.reconcile_details(details), "endpoint": 0}
        for name in {f"PJSIP/{fields.get('EndpointName', '')}" for fields in details}:
            endpoint = self.endpoints.get(name)
            if endpoint is not None and endpoint.state == "unknown":
                state = self._kept_state(name, endpoint.listed_contacts)
                if state != "unknown":
                    endpoint.state = state
                    corrections["endpoint"] += 1
        return corrections

    def _kept_state(self, key: str, listed: frozenset[ContactKey] | None) -> str:
        """An endpoint's state when its device state says nothing: what we knew, else what its
        contacts say (res_pjsip: online while one of them is available)."""
        known = self.endpoints.get(key)
        if known is not None and known.state != "unknown":
            return known.state
        if listed is not None:
            if not listed:
                return "unreachable"  # no contact at all: Asterisk holds it offline
            contacts = [self.contacts.contacts.get(contact) for contact in listed]
        else:
            contacts = list(self.contacts.of_endpoint(key))
        heard = [contact for contact in contacts if contact is not None and contact.confirmed]
        statuses = {contact.status for contact in heard}
        if statuses & AVAILABLE:
            return "reachable"
        if listed is not None and len(heard) == len(contacts) and statuses == {"unreachable"}:
            return "unreachable"
        return "unknown"

    def _drop_pjsip_except(self, keep: set[str]) -> int:
        """Forget the PJSIP endpoints a snapshot did not list (freeing their label slots before
        the listed ones are admitted). Returns corrections."""
        gone = [key for key in self.endpoints if key.startswith("PJSIP/") and key not in keep]
        for key in gone:
            self._drop(key)
        return len(gone)

    def _store(self, key: str, endpoint: Endpoint) -> int:
        """Store a listed endpoint; 1 when that corrected our view (new or another state)."""
        known = self.endpoints.get(key)
        if known is None and self._caps.admit("endpoint", key) != key:
            return 0  # past the cap: counted as overflow, not tracked
        self.endpoints[key] = endpoint
        return int(known is None or known.state != endpoint.state)

    def needing_detail(self) -> list[str]:
        """PJSIP endpoint names (without ``PJSIP/``) whose listed contacts have no status heard in
        this session: ``PJSIPShowEndpoint`` is the only way to learn a static contact's."""
        out: list[str] = []
        for key, endpoint in list(self.endpoints.items()):
            listed = endpoint.listed_contacts
            if listed and key.startswith("PJSIP/") and self.contacts.stale(listed):
                out.append(key.removeprefix("PJSIP/"))
        return sorted(out)

    # -- reading --------------------------------------------------------------------------------------

    def count_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(ENDPOINT_STATES, 0)
        for endpoint in list(self.endpoints.values()):
            counts[endpoint.state] = counts.get(endpoint.state, 0) + 1
        return counts

    def devices_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(DEVICE_STATES, 0)
        for state in list(self.devices.values()):
            counts[state] += 1
        return counts
