"""The SIP part of a reconcile: device states, contacts, endpoints and trunk registrations, each
taken only where ``ListCommands`` says the user may run it.

* ``DeviceStateList`` (write ``call`` or ``reporting``): device states, and the PJSIP endpoints
  when ``PJSIPShowEndpoints`` is not permitted;
* ``PJSIPShowContacts`` (``system``): registered (dynamic) contacts with their status;
* ``PJSIPShowEndpoints`` (``system``): every PJSIP endpoint, its state where conclusive, the
  contacts of its AORs;
* ``PJSIPShowEndpoint`` (``system``): one endpoint's contacts with status, static ones included;
* ``PJSIPShowRegistrationsOutbound`` (``system`` or ``reporting``): trunk registrations by name.

``PJSIPShowEndpoint`` is a per-endpoint action whose reply is large (about 5 KB on 22.10.1: the
whole endpoint, its transport, AORs and contacts). It is sent only for endpoints with a contact
whose status was not heard in this session: after a login, the endpoints with static contacts
(``PJSIPShowContacts`` lists only registered ones); later, only new ones, because
``ContactStatus`` events keep every contact current while the session lasts. At most
:data:`MAX_ENDPOINT_DETAILS` per reconcile; the rest follow in the next ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .ami.client import AMIError, ListReply, Session
from .pbx import PBX

MAX_ENDPOINT_DETAILS = 200

# Asterisk answers a listing of nothing with an error instead of an empty list (AMI reference
# §1.6): "No Contacts found", "No endpoints found".
_EMPTY_LIST_MESSAGES = ("no contacts found", "no endpoints found")


async def _items(
    session: Session, action: str, timeout: float, fields: Mapping[str, str] | None = None
) -> list[Mapping[str, str]] | None:
    """The items' fields of a list reply; [] for Asterisk's "nothing found" errors, None for any
    other error (the snapshot is skipped, the model keeps what events said)."""
    try:
        reply: ListReply = await session.list_action(action, fields, timeout=timeout)
    except AMIError as error:
        if error.message.strip().lower() in _EMPTY_LIST_MESSAGES:
            return []
        return None
    return [item.fields for item in reply.items]


async def _apply(
    session: Session,
    action: str,
    timeout: float,
    apply: Callable[[Iterable[Mapping[str, str]]], int],
    fields: Mapping[str, str] | None = None,
) -> bool:
    items = await _items(session, action, timeout, fields)
    if items is None:
        return False
    apply(items)
    return True


async def reconcile_sip(session: Session, pbx: PBX, permitted: frozenset[str], timeout: float) -> None:
    """Take every SIP snapshot this user may take and apply it to the model."""
    lists_endpoints = "PJSIPShowEndpoints" in permitted
    if "DeviceStateList" in permitted:
        await _apply(
            session,
            "DeviceStateList",
            timeout,
            lambda items: pbx.reconcile_devices(items, endpoints=not lists_endpoints),
        )
    if "PJSIPShowContacts" in permitted:
        await _apply(session, "PJSIPShowContacts", timeout, pbx.reconcile_contacts)
    listed = lists_endpoints and await _apply(
        session, "PJSIPShowEndpoints", timeout, pbx.reconcile_endpoint_list
    )
    if listed and "PJSIPShowEndpoint" in permitted:
        for name in pbx.endpoints.needing_detail()[:MAX_ENDPOINT_DETAILS]:
            detail = {"Endpoint": name}
            await _apply(session, "PJSIPShowEndpoint", timeout, pbx.reconcile_endpoint_detail, detail)
    if "PJSIPShowRegistrationsOutbound" in permitted:
        await _apply(session, "PJSIPShowRegistrationsOutbound", timeout, pbx.reconcile_registrations)
