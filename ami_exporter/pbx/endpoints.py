"""Endpoint reachability (PeerStatus, ContactStatus) and device states (DeviceStateChange).

Which drivers send what (docs/asterisk-notes.md, "Endpoints"; Asterisk's
``main/stasis_endpoints.c``): PJSIP sends ``ContactStatus`` per contact and
``PeerStatus`` with only Reachable/Unreachable; chan_sip (Asterisk <= 20) and IAX2 send
``PeerStatus`` with Registered/Unregistered/Rejected/Reachable/Lagged/Unreachable. Every driver's
devices raise ``DeviceStateChange``; app_queue's ``Queue:...`` pseudo-devices and Local
channels are not endpoints and are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .codes import DEVICE_STATE_BY_TEXT, DEVICE_STATES, snake
from .labels import LabelCaps
from .numbers import clean_text, to_int

# Device names that are not endpoints: app_queue pseudo-devices, Local channels, hints.
_PSEUDO_DEVICE_PREFIXES = ("Queue:", "Local/", "Custom:", "Calendar:", "park:", "confbridge:", "Presence:")


@dataclass(slots=True)
class Endpoint:
    state: str
    roundtrip_seconds: float | None = None


class EndpointBook:
    def __init__(self, caps: LabelCaps) -> None:
        self._caps = caps
        self.endpoints: dict[str, Endpoint] = {}
        self.devices: dict[str, str] = {}

    def _endpoint(self, name: str) -> Endpoint | None:
        name = clean_text(name)
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            if self._caps.admit("endpoint", name) != name:
                return None  # past the cap: count it as overflow, do not track it
            endpoint = self.endpoints[name] = Endpoint("unknown")
        return endpoint

    def peer_status(self, fields: Mapping[str, str]) -> None:
        peer = fields.get("Peer")
        if not peer:
            return
        endpoint = self._endpoint(peer)
        if endpoint is not None:
            endpoint.state = snake(fields.get("PeerStatus") or "unknown")

    def contact_status(self, fields: Mapping[str, str]) -> None:
        name = fields.get("EndpointName") or fields.get("AOR")
        if not name:
            return
        status = snake(fields.get("ContactStatus") or "unknown")
        key = f"PJSIP/{name}"
        if status == "removed":
            self.endpoints.pop(clean_text(key), None)
            self._caps.release("endpoint", clean_text(key))
            return
        endpoint = self._endpoint(key)
        if endpoint is None:
            return
        endpoint.state = status
        rtt = fields.get("RoundtripUsec")
        if rtt is not None and rtt.isdigit():
            endpoint.roundtrip_seconds = to_int(rtt) / 1e6

    def device_state(self, fields: Mapping[str, str]) -> None:
        device = fields.get("Device", "")
        if "/" not in device or device.startswith(_PSEUDO_DEVICE_PREFIXES):
            return
        state = DEVICE_STATE_BY_TEXT.get(fields.get("State", ""), 0)
        device = clean_text(device)
        if device not in self.devices and self._caps.admit("device", device) != device:
            return
        self.devices[device] = DEVICE_STATES[state]

    def count_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for endpoint in list(self.endpoints.values()):
            counts[endpoint.state] = counts.get(endpoint.state, 0) + 1
        return counts

    def devices_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(DEVICE_STATES, 0)
        for state in list(self.devices.values()):
            counts[state] += 1
        return counts
