"""AMI privilege classes, mask parsing and the action table, as in Asterisk 22 ``main/manager.c``.

The action table is the ``ListCommands`` reply of the ``admin`` user (write=all) in
``a-login-actions/admin-actions.rx.raw``: every action the captured instance registered, in the
order Asterisk lists them, with its synopsis and the write classes it needs (empty = authority 0,
which any authenticated user may run).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ACTIONS",
    "ALL",
    "CLASS_BITS",
    "ActionSpec",
    "actions_for",
    "authority_to_str",
    "class_bit",
    "get_perm",
    "may_run",
    "strings_to_mask",
]

# perms[] in manager.c, in order; "all" is INT_MAX and "none" is 0.
CLASS_BITS: dict[str, int] = {
    "system": 1 << 0,
    "call": 1 << 1,
    "log": 1 << 2,
    "verbose": 1 << 3,
    "command": 1 << 4,
    "agent": 1 << 5,
    "user": 1 << 6,
    "config": 1 << 7,
    "dtmf": 1 << 8,
    "reporting": 1 << 9,
    "cdr": 1 << 10,
    "dialplan": 1 << 11,
    "originate": 1 << 12,
    "agi": 1 << 13,
    "cc": 1 << 14,
    "aoc": 1 << 15,
    "test": 1 << 16,
    "security": 1 << 17,
    "message": 1 << 18,
}
ALL = 0x7FFFFFFF
_PERMS: tuple[tuple[str, int], ...] = (*CLASS_BITS.items(), ("all", ALL), ("none", 0))

_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})
_FALSE = frozenset({"no", "false", "n", "f", "0", "off"})


def class_bit(name: str) -> int:
    return CLASS_BITS[name]


def _instring(bigstr: str, smallstr: str) -> bool:
    """``ast_instring(bigstr, smallstr, ',')``: every token but the last is a *prefix* test
    (so an empty token matches everything), the last token must be equal."""
    tokens = bigstr.split(",")
    for token in tokens[:-1]:
        if smallstr.startswith(token):
            return True
    last = tokens[-1]
    if len(tokens) > 1 and not last:
        return False  # a trailing comma ends the C loop without a final comparison
    return smallstr == last


def get_perm(text: str) -> int:
    """``get_perm()``: a comma list of class names (case- and whitespace-sensitive)."""
    mask = 0
    for label, bit in _PERMS:
        if _instring(text, label):
            mask |= bit
    return mask


def strings_to_mask(text: str) -> int:
    """``strings_to_mask()``: -1 for empty, digits as a number, false words 0, true words all."""
    if not text:
        return -1
    if text.isdigit():
        value = int(text)
        return value if value < 2**31 else -1
    folded = text.strip().lower()
    if folded in _FALSE:
        return 0
    if folded in _TRUE:
        mask = 0
        for _, bit in _PERMS:
            mask |= bit
        return mask
    return get_perm(text)


def authority_to_str(authority: int) -> str:
    """``authority_to_str()``: the class names of a mask, ``all`` included, or ``<none>``."""
    if not authority:
        return "<none>"
    names = [label for label, bit in _PERMS if bit and authority & bit]
    return ",".join(names)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    synopsis: str
    authority: int

    @property
    def priv(self) -> str:
        return authority_to_str(self.authority)


def may_run(writeperm: int, spec: ActionSpec) -> bool:
    """``process_message()``: any shared write bit, or an action registered with authority 0."""
    return spec.authority == 0 or bool(writeperm & spec.authority)


_TABLE: tuple[tuple[str, str, str], ...] = (
    ("AbsoluteTimeout", "Set absolute timeout.", "system,call"),
    ("AgentLogoff", "Sets an agent as no longer logged in.", "agent"),
    ("Agents", "Lists agents and their status.", "agent"),
    ("AGI", "Add an AGI command to execute by Async AGI.", "agi"),
    ("AOCMessage", "Generate an Advice of Charge message on a channel.", "aoc"),
    ("Atxfer", "Attended transfer.", "call"),
    ("BlindTransfer", "Blind transfer channel(s) to the given destination", "call"),
    ("Bridge", "Bridge two channels already in the PBX.", "call"),
    ("BridgeDestroy", "Destroy a bridge.", ""),
    ("BridgeInfo", "Get information about a bridge.", ""),
    ("BridgeKick", "Kick a channel from a bridge.", ""),
    ("BridgeList", "Get a list of bridges in the system.", ""),
    ("BridgeTechnologyList", "List available bridging technologies and their statuses.", ""),
    ("BridgeTechnologySuspend", "Suspend a bridging technology.", ""),
    ("BridgeTechnologyUnsuspend", "Unsuspend a bridging technology.", ""),
    ("CancelAtxfer", "Cancel an attended transfer.", "call"),
    ("Challenge", "Generate Challenge for MD5 Auth.", ""),
    ("Command", "Execute Asterisk CLI Command.", "command"),
    ("ControlPlayback", "Control the playback of a file being played to a channel.", "call"),
    ("CoreSettings", "Show PBX core settings (version etc).", "system,reporting"),
    ("CoreShowChannelMap", "List all channels connected to the specified channel.", "system,reporting"),
    ("CoreShowChannels", "List currently active channels.", "system,reporting"),
    ("CoreStatus", "Show PBX core status variables.", "system,reporting"),
    ("CreateConfig", "Creates an empty file in the configuration directory.", "config"),
    ("DBDel", "Delete DB entry.", "system"),
    ("DBDelTree", "Delete DB Tree.", "system"),
    ("DBGet", "Get DB Entry.", "system,reporting"),
    ("DBGetTree", "Get DB entries, optionally at a particular family/key", "system,reporting"),
    ("DBPut", "Put DB entry.", "system"),
    ("DeviceStateList", "List the current known device states.", "call,reporting"),
    ("DialplanExtensionAdd", "Add an extension to the dialplan", "system"),
    ("DialplanExtensionRemove", "Remove an extension from the dialplan", "system"),
    ("Events", "Control Event Flow.", ""),
    ("ExtensionState", "Check Extension Status.", "call,reporting"),
    ("ExtensionStateList", "List the current known extension states.", "call,reporting"),
    ("FAXSession", "Responds with a detailed description of a single FAX session", "call"),
    ("FAXSessions", "Lists active FAX sessions", "call"),
    ("FAXStats", "Responds with fax statistics", "reporting"),
    ("Filter", "Dynamically add filters for the current manager session.", "system"),
    ("GetConfig", "Retrieve configuration.", "system,config"),
    ("GetConfigJSON", "Retrieve configuration (JSON format).", "system,config"),
    ("Getvar", "Gets a channel variable or function value.", "call,reporting"),
    ("Hangup", "Hangup channel.", "system,call"),
    ("ListCategories", "List categories in configuration file.", "config"),
    ("ListCommands", "List available manager commands.", ""),
    ("LocalOptimizeAway", "Optimize away a local channel when possible.", "system,call"),
    ("LoggerRotate", "Reload and rotate the Asterisk logger.", "system,reporting"),
    ("Login", "Login Manager.", ""),
    ("Logoff", "Logoff Manager.", ""),
    ("MailboxCount", "Check Mailbox Message Count.", "call,reporting"),
    ("MailboxStatus", "Check mailbox.", "call,reporting"),
    ("MessageSend", "Send an out of call message to an endpoint.", "message"),
    (
        "MixMonitor",
        "Record a call and mix the audio during the recording.  Use of StopMixMonitor is required to guarantee the audio file is available for processing during dialplan execution.",  # noqa: E501
        "system",
    ),
    ("MixMonitorMute", "Mute / unMute a Mixmonitor recording.", "system,call"),
    ("ModuleCheck", "Check if module is loaded.", "system"),
    ("ModuleLoad", "Module management.", "system"),
    ("MuteAudio", "Mute an audio stream.", "system"),
    ("Originate", "Originate a call.", "originate"),
    ("Ping", "Keepalive command.", ""),
    ("PlayDTMF", "Play DTMF signal on a specific channel.", "call"),
    ("PlayMF", "Play MF digit on a specific channel.", "call"),
    ("PresenceState", "Check Presence State", "call,reporting"),
    ("PresenceStateList", "List the current known presence states.", "call,reporting"),
    ("QueueAdd", "Add interface to queue.", "agent"),
    ("QueueChangePriorityCaller", "Change priority of a caller on queue.", ""),
    ("QueueLog", "Adds custom entry in queue_log.", "agent"),
    ("QueueMemberRingInUse", "Set the ringinuse value for a queue member.", "agent"),
    ("QueuePause", "Makes a queue member temporarily unavailable.", "agent"),
    ("QueuePenalty", "Set the penalty for a queue member.", "agent"),
    ("QueueReload", "Reload a queue, queues, or any sub-section of a queue or queues.", ""),
    ("QueueRemove", "Remove interface from queue.", "agent"),
    ("QueueReset", "Reset queue statistics.", ""),
    ("QueueRule", "Queue Rules.", ""),
    ("QueueStatus", "Show queue status.", ""),
    ("QueueSummary", "Show queue summary.", ""),
    ("QueueWithdrawCaller", "Request to withdraw a caller from the queue back to the dialplan.", ""),
    ("Redirect", "Redirect (transfer) a call.", "call"),
    ("Reload", "Send a reload event.", "system,config"),
    ("SendFlash", "Send a hook flash on a specific channel.", "call"),
    (
        "SendText",
        "Sends a text message to channel. A content type\tcan be optionally specified. If not set it is set to an empty string allowing a custom handler to default it as it sees fit.",  # noqa: E501
        "call",
    ),
    ("Setvar", "Sets a channel variable or function value.", "call"),
    ("ShowDialPlan", "Show dialplan contexts and extensions", "config,reporting"),
    ("SorceryMemoryCacheExpire", "Expire (remove) ALL objects from a sorcery memory cache.", "system"),
    ("SorceryMemoryCacheExpireObject", "Expire (remove) an object from a sorcery memory cache.", "system"),
    (
        "SorceryMemoryCachePopulate",
        "Expire all objects from a memory cache and populate it with all objects from the backend.",
        "system",
    ),
    ("SorceryMemoryCacheStale", "Marks ALL objects in a sorcery memory cache as stale.", "system"),
    ("SorceryMemoryCacheStaleObject", "Mark an object in a sorcery memory cache as stale.", "system"),
    ("Status", "List channel status.", "system,call,reporting"),
    (
        "StopMixMonitor",
        "Stop recording a call through MixMonitor, and free the recording's file handle.",
        "system,call",
    ),
    ("UpdateConfig", "Update basic configuration.", "config"),
    ("UserEvent", "Send an arbitrary event.", "user"),
    ("WaitEvent", "Wait for an event to occur.", ""),
)

ACTIONS: dict[str, ActionSpec] = {
    name.lower(): ActionSpec(name, synopsis, get_perm(classes) if classes else 0)
    for name, synopsis, classes in _TABLE
}

# What res_pjsip and res_pjsip_outbound_registration register (the ones the exporter may send
# and the ones a write=reporting user may run although they act). Not on the captured
# instance; the classes are from their ast_manager_register_xml() calls.
_PJSIP_TABLE: tuple[tuple[str, str, str], ...] = (
    ("PJSIPQualify", "Qualify a chan_pjsip endpoint.", "system,reporting"),
    ("PJSIPRegister", "Register an outbound registration.", "system,reporting"),
    ("PJSIPShowContacts", "Lists PJSIP Contacts.", "system"),
    ("PJSIPShowEndpoint", "Detail listing of an endpoint and its objects.", "system"),
    ("PJSIPShowEndpoints", "Lists PJSIP endpoints.", "system"),
    ("PJSIPShowRegistrationsOutbound", "Lists PJSIP outbound registrations.", "system,reporting"),
    ("PJSIPUnregister", "Unregister an outbound registration.", "system,reporting"),
)


def actions_for(*, pjsip: bool) -> dict[str, ActionSpec]:
    """The action table of an instance, with res_pjsip loaded or not, in ListCommands order
    (Asterisk keeps its actions sorted case-insensitively)."""
    if not pjsip:
        return ACTIONS
    table = dict(ACTIONS)
    for name, synopsis, classes in _PJSIP_TABLE:
        table[name.lower()] = ActionSpec(name, synopsis, get_perm(classes))
    return dict(sorted(table.items()))
