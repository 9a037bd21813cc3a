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

# Asterisk answers a listing of nothing with an error instead of an empty list (f-pjsip's
# admin.rx.raw, res_pjsip/pjsip_manager.c): "No Contacts found", "No endpoints found".
_EMPTY_LIST_MESSAGES = ("no contacts found", "no endpoints found")


# The SIP snapshots of a reconcile, in the order taken (each only where permitted).
SIP_SNAPSHOT_ACTIONS = (
    "DeviceStateList",
    "PJSIPShowContacts",
    "PJSIPShowEndpoints",
    "PJSIPShowEndpoint",
    "PJSIPShowRegistrationsOutbound",
)


async def _apply(
    session: Session,
    action: str,
    timeout: float,
    apply: Callable[[Iterable[Mapping[str, str]]], int],
    fields: Mapping[str, str] | None = None,
) -> str | None:
    """Take one snapshot. The session applies it at the point of the stream where its
    ``...Complete`` arrives (before the events that follow it). Asterisk's "nothing found" error
    is an empty list (applying none changes nothing, so it may come late); any other error skips
    the snapshot: the model keeps what events said. Returns None, or Asterisk's error message."""

    def at_complete(reply: ListReply) -> None:
        apply([item.fields for item in reply.items])

    try:
        await session.list_action(action, fields, timeout=timeout, apply=at_complete)
    except AMIError as error:
        if error.message.strip().lower() in _EMPTY_LIST_MESSAGES:
            apply([])
            return None
        return error.message or "error"
    return None


async def reconcile_sip(
    session: Session, pbx: PBX, permitted: frozenset[str], timeout: float
) -> dict[str, str | None]:
    """Take every SIP snapshot this user may take and apply it to the model. Returns, for each
    action sent, None when it worked or Asterisk's error message (``PJSIPShowEndpoint``: the first
    of its errors)."""
    outcomes: dict[str, str | None] = {}
    lists_endpoints = "PJSIPShowEndpoints" in permitted
    if "DeviceStateList" in permitted:
        outcomes["DeviceStateList"] = await _apply(
            session,
            "DeviceStateList",
            timeout,
            lambda items: pbx.reconcile_devices(items, endpoints=not lists_endpoints),
        )
    if "PJSIPShowContacts" in permitted:
        outcomes["PJSIPShowContacts"] = await _apply(
            session, "PJSIPShowContacts", timeout, pbx.reconcile_contacts
        )
    if lists_endpoints:
        outcomes["PJSIPShowEndpoints"] = await _apply(
            session, "PJSIPShowEndpoints", timeout, pbx.reconcile_endpoint_list
        )
    if outcomes.get("PJSIPShowEndpoints", "not taken") is None and "PJSIPShowEndpoint" in permitted:
        for name in pbx.endpoints.needing_detail()[:MAX_ENDPOINT_DETAILS]:
            detail = {"Endpoint": name}
            failure = await _apply(
                session, "PJSIPShowEndpoint", timeout, pbx.reconcile_endpoint_detail, detail
            )
            if outcomes.get("PJSIPShowEndpoint") is None:
                outcomes["PJSIPShowEndpoint"] = failure
    if "PJSIPShowRegistrationsOutbound" in permitted:
        outcomes["PJSIPShowRegistrationsOutbound"] = await _apply(
            session, "PJSIPShowRegistrationsOutbound", timeout, pbx.reconcile_registrations
        )
    return outcomes
