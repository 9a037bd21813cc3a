"""Outbound registrations (trunks): ``Registry`` events and ``PJSIPShowRegistrationsOutbound``.

No recording has an outbound registration, so this follows docs/asterisk-notes.md, "Endpoints",
and Asterisk's source (``res_pjsip_outbound_registration.c``):

* ``Registry``: ``ChannelType``, ``Username``, ``Domain``, ``Status``, ``[Cause]``. For PJSIP,
  ``Username`` is the registration's ``client_uri`` and ``Domain`` its ``server_uri``; ``Status``
  is ``Registered``, ``Unregistered``, ``Rejected`` (temporary and permanent alike) or
  ``Stopped``. chan_sip (Asterisk <= 20) and IAX2 send their own words (``Request Sent``,
  ``Auth. Sent``, ``Timeout``, ``Failed``, ``No Authentication``, ...), kept snake_cased.
* ``OutboundRegistrationDetail`` items: the registration object (``ObjectName`` = its name in
  pjsip.conf, ``ClientUri``, ``ServerUri``, ...), then ``Status`` and ``NextReg``; ``AuthDetail``
  items may follow each; ``OutboundRegistrationDetailComplete`` ends the list.

The event names no registration, and its URIs may hold user names and addresses, so a
registration gets its ``registration`` label only from the snapshot; until then it is counted by
state only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .codes import snake
from .labels import OVERFLOW, LabelCaps
from .numbers import clean_text

# Always present in asterisk_registrations{state}, so that a rule can compare against 0.
REGISTRATION_STATES = ("registered", "unregistered", "rejected", "failed", "stopped")

RegistrationKey = tuple[str, str, str]  # (technology, client, server)


@dataclass(slots=True)
class Registration:
    state: str
    name: str = ""  # the pjsip.conf section, known from the snapshot only


def registration_state(text: str) -> str:
    return snake(text or "unknown")


class RegistrationBook:
    def __init__(self, caps: LabelCaps) -> None:
        self._caps = caps
        self.registrations: dict[RegistrationKey, Registration] = {}

    def registry(self, fields: Mapping[str, str]) -> None:
        """Fold a ``Registry`` event."""
        technology = clean_text(fields.get("ChannelType", ""))
        key = (technology, fields.get("Username", ""), fields.get("Domain", ""))
        if not key[1] and not key[2]:
            return
        state = registration_state(fields.get("Status", ""))
        known = self.registrations.get(key)
        if known is not None:
            known.state = state
        elif self._caps.admit("registration_key", "\0".join(key)) != OVERFLOW:
            self.registrations[key] = Registration(state)

    def reconcile_outbound(self, items: Iterable[Mapping[str, str]]) -> int:
        """Replace the PJSIP registrations with a ``PJSIPShowRegistrationsOutbound`` reply
        (``OutboundRegistrationDetail`` items); returns the number of corrections."""
        fresh: dict[RegistrationKey, Registration] = {}
        for fields in items:
            name = clean_text(fields.get("ObjectName", ""))
            if not name or fields.get("ObjectType", "registration") != "registration":
                continue  # AuthDetail items (the registrations' outbound auths) follow each one
            key = ("PJSIP", fields.get("ClientUri", ""), fields.get("ServerUri", ""))
            label = self._caps.admit("registration", name)
            fresh[key] = Registration(registration_state(fields.get("Status", "")), label)
        corrections = 0
        old = {key: value for key, value in self.registrations.items() if key[0] == "PJSIP"}
        for key, registration in fresh.items():
            previous = old.get(key)
            if previous is None or previous.state != registration.state:
                corrections += 1
        for key, registration in old.items():
            if key not in fresh:
                corrections += 1
                del self.registrations[key]
                self._caps.release("registration_key", "\0".join(key))
                if registration.name:
                    self._caps.release("registration", registration.name)
        for key in fresh:
            if key not in old:
                self._caps.admit("registration_key", "\0".join(key))
        self.registrations.update(fresh)
        return corrections

    def by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(REGISTRATION_STATES, 0)
        for registration in list(self.registrations.values()):
            counts[registration.state] = counts.get(registration.state, 0) + 1
        return counts

    def named(self) -> dict[str, str]:
        """State per registration name (only registrations the snapshot named)."""
        return {r.name: r.state for r in list(self.registrations.values()) if r.name}
