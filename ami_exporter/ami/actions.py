"""The only actions this exporter ever sends.

Asterisk lets a user with an empty ``write=`` run actions that change state (``QueueReset``,
``QueueReload``, ``BridgeKick``, ...: they are registered with authority 0 in ``apps/app_queue.c``
and ``main/manager_bridges.c``; see docs/operations.md, "An AMI user with least privilege", and
the ``ListCommands`` reply in ``tests/fixtures/ami-captures/``). The client refuses anything outside
this allowlist, whatever the user's privileges, and additionally sends privileged actions only
when ``ListCommands`` said the user may run them: a refused action raises a
``RequestNotAllowed`` security event on the PBX.
"""

from __future__ import annotations

# Session management: always allowed, needed before ListCommands can answer.
SESSION_ACTIONS = frozenset({"Login", "Challenge", "Logoff", "ListCommands"})

# Read-only queries. Authority 0 (any user): Ping, QueueStatus, QueueSummary, BridgeList.
# system or reporting: CoreStatus, CoreSettings, CoreShowChannels, PJSIPShowRegistrationsOutbound.
# call or reporting: DeviceStateList. system only: PJSIPShowEndpoints, PJSIPShowEndpoint,
# PJSIPShowContacts.
#
# Never PJSIPQualify, PJSIPRegister or PJSIPUnregister: a user with write=reporting may run them
# (they send SIP requests and change registrations), so ListCommands lists them for the very
# users this exporter recommends; only this allowlist keeps them out.
QUERY_ACTIONS = frozenset(
    {
        "Ping",
        "QueueStatus",
        "QueueSummary",
        "BridgeList",
        "CoreStatus",
        "CoreSettings",
        "CoreShowChannels",
        "DeviceStateList",
        "PJSIPShowEndpoints",
        "PJSIPShowEndpoint",
        "PJSIPShowContacts",
        "PJSIPShowRegistrationsOutbound",
    }
)

READ_ONLY_ACTIONS = SESSION_ACTIONS | QUERY_ACTIONS

# The write classes that let a user run each query action in Asterisk 22: any one of them suffices;
# empty means authority 0 (every logged-in user). What ListCommands prints as "(Priv: ...)" for a
# write=all user (a test compares this table with the recorded reply; the recorded instance loaded
# no res_pjsip, so the PJSIP rows are from their ast_manager_register_xml() calls).
# ``ami-exporter check`` tells from it which manager.conf ``write =`` class would enable a missing
# snapshot.
QUERY_ACTION_WRITE_CLASSES: dict[str, frozenset[str]] = {
    "Ping": frozenset(),
    "QueueStatus": frozenset(),
    "QueueSummary": frozenset(),
    "BridgeList": frozenset(),
    "CoreStatus": frozenset({"system", "reporting"}),
    "CoreSettings": frozenset({"system", "reporting"}),
    "CoreShowChannels": frozenset({"system", "reporting"}),
    "DeviceStateList": frozenset({"call", "reporting"}),
    "PJSIPShowRegistrationsOutbound": frozenset({"system", "reporting"}),
    "PJSIPShowEndpoints": frozenset({"system"}),
    "PJSIPShowEndpoint": frozenset({"system"}),
    "PJSIPShowContacts": frozenset({"system"}),
}

# The events that make up the replies of the list actions above (items and completions). They are
# always parsed, whatever the session's event filter says: a reply must never be skipped.
LIST_REPLY_EVENTS = frozenset(
    {
        "QueueParams",
        "QueueMember",
        "QueueEntry",
        "QueueStatusComplete",
        "QueueSummary",
        "QueueSummaryComplete",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
        "BridgeListItem",
        "BridgeListComplete",
        # DeviceStateList: its items share the async event's name (told apart by ActionID).
        "DeviceStateChange",
        "DeviceStateListComplete",
        "EndpointList",
        "EndpointListComplete",
        "ContactList",
        "ContactListComplete",
        # PJSIPShowEndpoint: one event per object of the endpoint, then the completion.
        "EndpointDetail",
        "AorDetail",
        "AuthDetail",
        "TransportDetail",
        "IdentifyDetail",
        "ContactStatusDetail",
        "EndpointDetailComplete",
        # PJSIPShowRegistrationsOutbound (AuthDetail items may follow each registration).
        "OutboundRegistrationDetail",
        "OutboundRegistrationDetailComplete",
    }
)


class ForbiddenActionError(RuntimeError):
    """An action outside the allowlist, or one the AMI user may not run, was requested."""
