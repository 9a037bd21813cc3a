"""What ``ami-exporter check`` knows about privileges, kept as data.

* :data:`FAMILIES`: which metric families each snapshot action and each event (read) class feeds,
  and what the metrics lack without the snapshot. Adding a collector or an allowlisted action
  means adding or extending a row here.
* The write classes each action needs come from ``ami/actions.py`` (``QUERY_ACTION_WRITE_CLASSES``);
  the classes a user actually holds are read from its live ``ListCommands`` reply.
* :func:`least_privilege_block`: the ``manager.conf`` section to use instead, for a named user.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..ami.actions import QUERY_ACTION_WRITE_CLASSES
from ..ami.protocol import Message


@dataclass(frozen=True, slots=True)
class Family:
    key: str
    title: str
    metrics: str  # the families, as the operator searches for them in docs/metrics.md
    read: tuple[str, ...] = ()  # event classes (manager.conf read=) that feed it
    snapshots: tuple[str, ...] = ()  # actions that make it exact after a (re)connect
    without: str = ""  # what the metrics lack when a snapshot action is not permitted
    # The snapshots need a write class the README advises against (system): their absence is the
    # recommended setup, reported as OK with what the metrics lack, never as degraded.
    optional: bool = False


FAMILIES: tuple[Family, ...] = (
    Family(
        "queues",
        "queue state",
        "asterisk_queue_callers, asterisk_queue_longest_wait_seconds, asterisk_queue_members*, "
        "asterisk_queue_agents, asterisk_queue_member_*, asterisk_queue_stats_*, "
        "asterisk_queue_service_level_seconds, asterisk_queue_max_callers",
        read=("agent",),
        snapshots=("QueueStatus",),
        without="queue state would come from events only and drift after every reconnect",
    ),
    Family(
        "queue_events",
        "queue counters",
        "asterisk_queue_*_total, asterisk_queue_wait_seconds, asterisk_queue_talk_seconds",
        read=("agent",),
    ),
    Family(
        "channels",
        "channels and bridges",
        "asterisk_channels, asterisk_bridges",
        read=("call",),
        snapshots=("CoreShowChannels", "BridgeList"),
        without="only channels seen starting since the exporter connected are counted",
    ),
    Family(
        "channel_events",
        "channel counters",
        "asterisk_channels_created_total, asterisk_channel_hangups_total, asterisk_channel_duration_seconds",
        read=("call",),
    ),
    Family(
        "version",
        "Asterisk version",
        "asterisk_info{version}",
        snapshots=("CoreSettings",),
        without="the version label of asterisk_info stays empty",
    ),
    Family(
        "core_status",
        "core status",
        "asterisk_core_active_channels",
        snapshots=("CoreStatus",),
        without="asterisk_core_active_channels is not exported",
    ),
    Family(
        "system",
        "start, reloads and shutdowns",
        "asterisk_core_start_time_seconds, asterisk_core_reload_time_seconds, asterisk_reloads_total, "
        "asterisk_shutdowns_total",
        read=("system",),
    ),
    Family("cdr", "CDRs", "asterisk_cdr_total, asterisk_cdr_billable_seconds_total", read=("cdr",)),
    Family("security", "security events", "asterisk_security_events_total", read=("security",)),
    Family(
        "devices",
        "device states and PJSIP endpoints",
        "asterisk_devices, asterisk_endpoints, asterisk_endpoint_up",
        read=("system", "call"),
        snapshots=("DeviceStateList",),
        without="only endpoints and devices whose state changed since the exporter connected are known:"
        " a phone that was down before is missing",
    ),
    Family(
        "sip_lists",
        "every PJSIP endpoint and contact",
        "asterisk_contacts, asterisk_contact_roundtrip_seconds, asterisk_endpoint_roundtrip_seconds",
        read=("system",),
        snapshots=("PJSIPShowEndpoints", "PJSIPShowContacts", "PJSIPShowEndpoint"),
        without="contacts are known once their status changes; write = system would list them all at"
        " login but also allows GetConfig, ModuleLoad, DBPut and Hangup (README, Privileges)",
        optional=True,
    ),
    Family(
        "registrations",
        "outbound registrations (trunks)",
        "asterisk_registrations, asterisk_registration_up",
        read=("system",),
        snapshots=("PJSIPShowRegistrationsOutbound",),
        without="registrations are counted by state as Registry events come, and"
        " asterisk_registration_up is not exported (the event names no registration)",
    ),
)


# Write classes whose actions the exporter may use (a user needs at most these). Everything else a
# user may write is power the exporter never uses: a leaked exporter secret should not be able to
# place calls, hang them up, pause agents, run CLI commands or rewrite configuration.
def _usable_write_classes() -> frozenset[str]:
    """The one class that covers every privileged query action that does not need ``system``
    (which also allows GetConfig, ModuleLoad, DBPut, ...): the intersection of their classes.
    The PJSIP lists that need ``system`` alone are a trade-off the operator makes (README)."""
    needed = [classes - {"system"} for classes in QUERY_ACTION_WRITE_CLASSES.values()]
    needed = [classes for classes in needed if classes]
    return frozenset.intersection(*needed) if needed else frozenset()


USABLE_WRITE_CLASSES: frozenset[str] = _usable_write_classes()

_PRIV = re.compile(r"\(Priv: ([^)]*)\)\s*$")


def listed_privileges(reply: Message) -> dict[str, frozenset[str]]:
    """``ListCommands``: each action with the write classes it needs (``<none>``: authority 0)."""
    privileges: dict[str, frozenset[str]] = {}
    for name, text in reply.headers:
        if name in {"Response", "ActionID", "Message", ""}:
            continue
        match = _PRIV.search(text)
        classes = match.group(1).split(",") if match else []
        privileges[name] = frozenset(c.strip() for c in classes if c.strip() not in {"", "all", "<none>"})
    return privileges


def held_write_classes(privileges: Mapping[str, frozenset[str]]) -> dict[str, list[str]]:
    """The write classes the user provably holds, each with the listed actions that need it alone.

    ListCommands lists only what the user may run. An action that needs exactly one class proves
    that class; an action allowed by any of several classes proves nothing on its own."""
    held: dict[str, list[str]] = {}
    for action, classes in sorted(privileges.items()):
        if len(classes) == 1:
            (only,) = classes
            held.setdefault(only, []).append(action)
    return held


def missing_snapshots(family: Family, permitted: frozenset[str]) -> list[str]:
    return [action for action in family.snapshots if action not in permitted]


def not_loaded(missing: Iterable[str], permitted: frozenset[str]) -> list[str]:
    """The missing actions the user's write classes would allow: ListCommands lists every action
    the user may run, so these are not registered at all (res_pjsip not loaded, say). Evidence: a
    permitted action that needs a subset of the classes (CoreShowChannels, system or reporting,
    proves one of them, which PJSIPShowRegistrationsOutbound accepts too)."""
    proofs = [
        QUERY_ACTION_WRITE_CLASSES[action] for action in permitted if QUERY_ACTION_WRITE_CLASSES.get(action)
    ]
    return [
        action
        for action in missing
        if any(proof <= QUERY_ACTION_WRITE_CLASSES.get(action, frozenset()) for proof in proofs)
    ]


def enabling_class(actions: Iterable[str]) -> str:
    """The write class to add so that all these actions become permitted (least powerful first)."""
    wanted: set[str] = set()
    for action in actions:
        classes = QUERY_ACTION_WRITE_CLASSES.get(action, frozenset())
        usable = classes & USABLE_WRITE_CLASSES
        wanted |= usable or set(sorted(classes)[:1])
    return ",".join(sorted(wanted))


def families_fed_by(read_class: str) -> list[Family]:
    return [family for family in FAMILIES if read_class in family.read]


def least_privilege_block(username: str, read_classes: str, permit_address: str | None) -> list[str]:
    """The ``manager.conf`` section the exporter needs, for ``username`` (nothing more)."""
    permit = f"{permit_address or '<the exporter address>'}/255.255.255.255"
    write = ",".join(sorted(USABLE_WRITE_CLASSES))
    return [
        f"[{username}]",
        "secret = <keep the current secret>",
        "deny = 0.0.0.0/0.0.0.0",
        f"permit = {permit}   ; the address this check connected from",
        f"read = {read_classes}",
        f"write = {write}   ; or empty: then no channel snapshot, no version, no CoreStatus",
        "writetimeout = 1000",
    ]


def privilege_classes(header: str | None) -> frozenset[str]:
    """The classes in an event's ``Privilege:`` header (``agent,all`` -> ``{"agent"}``)."""
    if not header:
        return frozenset()
    return frozenset(c.strip().lower() for c in header.split(",") if c.strip() and c.strip() != "all")
