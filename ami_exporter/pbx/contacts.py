"""SIP contacts of PJSIP AORs: ``ContactStatus`` events and the ``PJSIPShowContacts`` /
``PJSIPShowEndpoint`` snapshots.

What a real Asterisk 22.10.1 sends (the ``f-pjsip`` recording), where it differs from the docs:

* a new registration raises ``ContactStatus: NonQualified`` (``Created`` never comes; Asterisk 13
  sent it where 16+ send NonQualified), an unregistration ``Removed``; ``RoundtripUsec`` is ``0``
  unless the contact is Reachable, and ``N/A`` in ``ContactList`` items;
* ``PJSIPShowContacts`` lists only registered (dynamic) contacts, and answers ``Response: Error``
  / ``No Contacts found`` when there are none. A static contact (``contact=`` in an AOR) appears
  with its status only in ``PJSIPShowEndpoint``'s ``ContactStatusDetail`` items, and without it
  in the ``Contacts`` field of ``EndpointList`` items (``aor/uri,`` per contact).

Contacts are keyed by (AOR, URI): ``ContactStatus`` and ``ContactStatusDetail`` carry ``AOR`` and
``URI``; ``ContactList`` carries ``Uri`` and the AOR as the part of ``ObjectName`` before ``;@``
(dynamic contacts) or ``@@`` (static ones). The URI is a key, never a label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .codes import snake
from .labels import OVERFLOW, LabelCaps
from .numbers import clean_text

# Label values of asterisk_contacts{state}, in exposition order.
CONTACT_STATES = ("reachable", "unreachable", "non_qualified", "unknown")
# res_pjsip counts these as available: an endpoint with one is online (PeerStatus Reachable).
AVAILABLE = frozenset({"reachable", "non_qualified"})
_STATUS = {
    "reachable": "reachable",
    "unreachable": "unreachable",
    "non_qualified": "non_qualified",
    "created": "non_qualified",  # Asterisk 13's name for a contact that is not qualified (yet)
    "unknown": "unknown",
}

ContactKey = tuple[str, str]  # (aor, uri)


@dataclass(slots=True)
class Contact:
    endpoint: str  # "PJSIP/<endpoint>", "" when not known yet
    status: str
    roundtrip_seconds: float | None = None
    # False while only EndpointList's Contacts field named it: the status is a placeholder.
    confirmed: bool = True
    # The session (ContactBook.generation) in which Asterisk last told us its status.
    generation: int = 0


def contact_status_label(text: str) -> str:
    """``Reachable`` -> ``reachable``, ``NonQualified`` -> ``non_qualified``; unknown words are
    kept snake_cased (bounded: the status set of res_pjsip is small)."""
    status = snake(text or "unknown")
    return _STATUS.get(status, status)


def _roundtrip(status: str, usec: str | None) -> float | None:
    if status != "reachable" or not usec or not usec.isdigit():
        return None
    return int(usec) / 1e6


def aor_of(object_name: str) -> str:
    """The AOR of a contact id: ``2101;@91f9...`` (dynamic) or ``2001@@2ed8...`` (static)."""
    for separator in (";@", "@@"):
        aor, found, _hash = object_name.partition(separator)
        if found:
            return aor
    return object_name


def endpoint_key(name: str) -> str:
    return f"PJSIP/{clean_text(name)}" if name else ""


class ContactBook:
    """All known contacts. Mutated only by the event loop; read by collectors at scrape time."""

    def __init__(self, caps: LabelCaps) -> None:
        self._caps = caps
        self.contacts: dict[ContactKey, Contact] = {}
        self.generation = 0

    def new_session(self) -> None:
        """A new AMI session: statuses heard before it may be stale (events were missed)."""
        self.generation += 1

    def _admit(self, key: ContactKey) -> bool:
        """Bound memory: contacts are not labels, but a registration flood must not grow us."""
        if key in self.contacts:
            return True
        return self._caps.admit("contact", "\0".join(key)) != OVERFLOW

    def _remove(self, key: ContactKey) -> None:
        if self.contacts.pop(key, None) is not None:
            self._caps.release("contact", "\0".join(key))

    def _set(self, key: ContactKey, endpoint: str, status: str, roundtrip: float | None) -> bool:
        """Store what Asterisk said about a contact; True when that corrected our view."""
        if not self._admit(key):
            return False
        contact = self.contacts.get(key)
        if contact is None:
            self.contacts[key] = Contact(endpoint, status, roundtrip, True, self.generation)
            return True
        corrected = contact.status != status and contact.confirmed
        contact.status = status
        contact.roundtrip_seconds = roundtrip
        contact.confirmed = True
        contact.generation = self.generation
        if endpoint:
            contact.endpoint = endpoint
        return corrected

    # -- events -----------------------------------------------------------------------------------

    def contact_status(self, fields: Mapping[str, str]) -> str:
        """Fold a ``ContactStatus`` event; returns the contact's new status (``removed`` too)."""
        aor = clean_text(fields.get("AOR", ""))
        uri = fields.get("URI", "")
        if not aor and not uri:
            return ""
        key = (aor, uri)
        word = snake(fields.get("ContactStatus") or "unknown")
        if word == "removed":
            self._remove(key)
            return word
        endpoint = endpoint_key(fields.get("EndpointName", "") or aor)
        if word == "updated":  # a re-registration: the qualify status did not change
            known = self.contacts.get(key)
            status = known.status if known is not None and known.confirmed else "unknown"
        else:
            status = _STATUS.get(word, word)
        self._set(key, endpoint, status, _roundtrip(status, fields.get("RoundtripUsec")))
        return status

    # -- snapshots ----------------------------------------------------------------------------------

    def reconcile_contact_list(self, items: Iterable[Mapping[str, str]]) -> int:
        """Apply a ``PJSIPShowContacts`` reply (``ContactList`` items): the registered contacts
        with their status. Static contacts are not in it, so nothing is removed here: the
        endpoint list says which contacts exist (:meth:`set_listed`)."""
        corrections = 0
        for fields in items:
            uri = fields.get("Uri", "")
            aor = clean_text(aor_of(fields.get("ObjectName", "")))
            if not uri:
                continue
            status = contact_status_label(fields.get("Status", ""))
            roundtrip = _roundtrip(status, fields.get("RoundtripUsec"))
            corrections += self._set((aor, uri), endpoint_key(fields.get("Endpoint", "")), status, roundtrip)
        return corrections

    def reconcile_details(self, items: Iterable[Mapping[str, str]]) -> int:
        """Apply the ``ContactStatusDetail`` items of a ``PJSIPShowEndpoint`` reply: every contact
        of the endpoint's AORs, static ones included, with its status."""
        corrections = 0
        for fields in items:
            uri = fields.get("URI", "")
            aor = clean_text(fields.get("AOR", ""))
            if not uri:
                continue
            status = contact_status_label(fields.get("Status", ""))
            roundtrip = _roundtrip(status, fields.get("RoundtripUsec"))
            endpoint = endpoint_key(fields.get("EndpointName", ""))
            corrections += self._set((aor, uri), endpoint, status, roundtrip)
        return corrections

    def set_listed(self, endpoint: str, aors: Iterable[str], listed: Iterable[ContactKey]) -> int:
        """The contacts an ``EndpointList`` item names for ``endpoint`` (its AORs' contacts) are
        all there are: drop the others of those AORs, add the missing ones as unconfirmed
        ``unknown`` placeholders until their status is heard. Returns corrections."""
        listed = set(listed)
        aor_set = set(aors) | {aor for aor, _uri in listed}
        corrections = 0
        for key in [key for key, contact in self.contacts.items() if key[0] in aor_set]:
            if key not in listed:
                self._remove(key)
                corrections += 1
        for key in listed:
            contact = self.contacts.get(key)
            if contact is None:
                if self._admit(key):
                    self.contacts[key] = Contact(endpoint, "unknown", None, False, -1)
                    corrections += 1
            elif not contact.endpoint:
                contact.endpoint = endpoint
        return corrections

    def drop_aors_except(self, aors: set[str]) -> int:
        """Forget the contacts of AORs no endpoint uses any more. Returns corrections."""
        gone = [key for key in self.contacts if key[0] not in aors]
        for key in gone:
            self._remove(key)
        return len(gone)

    # -- reading --------------------------------------------------------------------------------------

    def of_endpoint(self, endpoint: str) -> list[Contact]:
        return [contact for contact in list(self.contacts.values()) if contact.endpoint == endpoint]

    def stale(self, keys: Iterable[ContactKey]) -> bool:
        """Whether any of these contacts has no status heard in the current session."""
        for key in keys:
            contact = self.contacts.get(key)
            if contact is None or not contact.confirmed or contact.generation != self.generation:
                return True
        return False

    def by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(CONTACT_STATES, 0)
        for contact in list(self.contacts.values()):
            counts[contact.status] = counts.get(contact.status, 0) + 1
        return counts

    def roundtrips(self) -> dict[str, float]:
        """Per endpoint: the last qualify round trip of its reachable contacts (the largest when
        it has several). Endpoints without a reachable contact are absent."""
        out: dict[str, float] = {}
        for contact in list(self.contacts.values()):
            rtt = contact.roundtrip_seconds
            if rtt is None or contact.status != "reachable" or not contact.endpoint:
                continue
            if rtt > out.get(contact.endpoint, -1.0):
                out[contact.endpoint] = rtt
        return out
