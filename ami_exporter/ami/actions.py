"""The only actions this exporter ever sends.

Asterisk lets a user with an empty ``write=`` run actions that change state (``QueueReset``,
``QueueReload``, ``BridgeKick``, ...: AMI reference §2.7). The client refuses anything outside
this allowlist, whatever the user's privileges, and additionally sends privileged actions only
when ``ListCommands`` said the user may run them: a refused action raises a
``RequestNotAllowed`` security event on the PBX.
"""

from __future__ import annotations

# Session management: always allowed, needed before ListCommands can answer.
SESSION_ACTIONS = frozenset({"Login", "Challenge", "Logoff", "ListCommands"})

# Read-only queries. Authority 0 (any user): Ping, QueueStatus, QueueSummary, BridgeList.
# system or reporting: CoreStatus, CoreSettings, CoreShowChannels.
QUERY_ACTIONS = frozenset(
    {"Ping", "QueueStatus", "QueueSummary", "BridgeList", "CoreStatus", "CoreSettings", "CoreShowChannels"}
)

READ_ONLY_ACTIONS = SESSION_ACTIONS | QUERY_ACTIONS

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
    }
)


class ForbiddenActionError(RuntimeError):
    """An action outside the allowlist, or one the AMI user may not run, was requested."""
