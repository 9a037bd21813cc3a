"""Asterisk code tables, from the C source: hangup causes (``include/asterisk/causes.h``,
``main/channel.c`` ``causes[]``), device states (``include/asterisk/devicestate.h``), CDR
dispositions (``main/cdr.c`` ``ast_cdr_disp2str()``) and security events
(``main/security_events.c``).

Labels use stable snake_case names derived from these tables, never the free-text
``Cause-txt``, which may change between versions.
"""

from __future__ import annotations

import re

# ast_device_state (include/asterisk/devicestate.h): the numeric Status of queue members.
DEVICE_STATES: tuple[str, ...] = (
    "unknown",
    "not_in_use",
    "in_use",
    "busy",
    "invalid",
    "unavailable",
    "ringing",
    "ringinuse",
    "on_hold",
)
DEVICE_NOT_INUSE = 1
DEVICE_UNAVAILABLE = 5
DEVICE_INVALID = 4

# DeviceStateChange carries the upper-case enum text (main/devicestate.c devstatestring)
# instead of the number.
DEVICE_STATE_TEXT: tuple[str, ...] = (
    "UNKNOWN",
    "NOT_INUSE",
    "INUSE",
    "BUSY",
    "INVALID",
    "UNAVAILABLE",
    "RINGING",
    "RINGINUSE",
    "ONHOLD",
)
DEVICE_STATE_BY_TEXT: dict[str, int] = {text: number for number, text in enumerate(DEVICE_STATE_TEXT)}

# Q.850 subset from main/channel.c causes[] (AST_CAUSE_* names, snake_cased).
HANGUP_CAUSES: dict[int, str] = {
    0: "not_defined",
    1: "unallocated",
    2: "no_route_transit_net",
    3: "no_route_destination",
    5: "misdialled_trunk_prefix",
    6: "channel_unacceptable",
    7: "call_awarded_delivered",
    8: "pre_empted",
    14: "number_ported_not_here",
    16: "normal_clearing",
    17: "user_busy",
    18: "no_user_response",
    19: "no_answer",
    20: "subscriber_absent",
    21: "call_rejected",
    22: "number_changed",
    23: "redirected_to_new_destination",
    26: "answered_elsewhere",
    27: "destination_out_of_order",
    28: "invalid_number_format",
    29: "facility_rejected",
    30: "response_to_status_enquiry",
    31: "normal_unspecified",
    34: "normal_circuit_congestion",
    38: "network_out_of_order",
    41: "normal_temporary_failure",
    42: "switch_congestion",
    43: "access_info_discarded",
    44: "requested_chan_unavail",
    50: "facility_not_subscribed",
    52: "outgoing_call_barred",
    54: "incoming_call_barred",
    57: "bearercapability_notauth",
    58: "bearercapability_notavail",
    65: "bearercapability_notimpl",
    66: "chan_not_implemented",
    69: "facility_not_implemented",
    81: "invalid_call_reference",
    88: "incompatible_destination",
    95: "invalid_msg_unspecified",
    96: "mandatory_ie_missing",
    97: "message_type_nonexist",
    98: "wrong_message",
    99: "ie_nonexist",
    100: "invalid_ie_contents",
    101: "wrong_call_state",
    102: "recovery_on_timer_expire",
    103: "mandatory_ie_length_error",
    111: "protocol_error",
    127: "interworking",
}

# ast_cdr_disp2str() wire strings -> label values.
CDR_DISPOSITIONS: dict[str, str] = {
    "ANSWERED": "answered",
    "NO ANSWER": "no_answer",
    "BUSY": "busy",
    "FAILED": "failed",
    "CONGESTION": "congestion",
    "CANCEL": "cancel",
}

# Every security-class event in main/security_events.c sec_events[]. The decoder's fast path
# decides by name, so the set must be explicit.
SECURITY_EVENTS: frozenset[str] = frozenset(
    {
        "FailedACL",
        "InvalidAccountID",
        "SessionLimit",
        "MemoryLimit",
        "LoadAverageLimit",
        "RequestNotSupported",
        "RequestNotAllowed",
        "AuthMethodNotAllowed",
        "RequestBadFormat",
        "SuccessfulAuth",
        "UnexpectedAddress",
        "ChallengeResponseFailed",
        "InvalidPassword",
        "ChallengeSent",
        "InvalidTransport",
    }
)

_NOT_WORD = re.compile(r"[^0-9a-z]+")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# snake()'s answers: it runs on every Newchannel and Newstate, for the dozen words a driver says.
# The bound only matters against a wire that says endlessly many.
_SNAKES: dict[str, str] = {}
_MAX_SNAKES = 1024


def snake(text: str) -> str:
    """``Dialing Offhook`` -> ``dialing_offhook``; ``NonQualified`` -> ``non_qualified``;
    ``Unknown (12)`` -> ``unknown_12``."""
    label = _SNAKES.get(text)
    if label is None:
        label = _NOT_WORD.sub("_", _CAMEL_BOUNDARY.sub("_", text).lower()).strip("_") or "unknown"
        if len(_SNAKES) < _MAX_SNAKES:
            _SNAKES[text] = label
    return label


def hangup_cause_label(cause: str) -> str:
    """The snake_case Q.850 name for a numeric cause, the number itself when unknown."""
    try:
        number = int(cause)
    except ValueError:
        return "unknown"
    return HANGUP_CAUSES.get(number, str(number))


def device_state_label(status: int) -> str:
    if 0 <= status < len(DEVICE_STATES):
        return DEVICE_STATES[status]
    return "unknown"
