"""The allowlist's privilege table agrees with what the recorded Asterisk 22 says about each action."""

from __future__ import annotations

import re

from ami_exporter.ami.actions import QUERY_ACTION_WRITE_CLASSES, QUERY_ACTIONS, READ_ONLY_ACTIONS
from ami_exporter.simulator.perms import actions_for

from ..support.replay import recorded_list_commands


def test_every_query_action_has_its_write_classes() -> None:
    assert set(QUERY_ACTION_WRITE_CLASSES) == QUERY_ACTIONS
    assert QUERY_ACTIONS <= READ_ONLY_ACTIONS


def test_write_classes_match_the_recorded_list_commands_of_a_write_all_user() -> None:
    listed = dict(recorded_list_commands("admin").headers)
    for action, classes in QUERY_ACTION_WRITE_CLASSES.items():
        if action.startswith("PJSIP"):
            # The recorded instance loaded no res_pjsip: compare with the classes of the
            # simulator's PJSIP table (ast_manager_register_xml() in res_pjsip*.c).
            spec = actions_for(pjsip=True)[action.lower()]
            assert {name for name in spec.priv.split(",") if name != "all"} == classes, action
            continue
        match = re.search(r"\(Priv: ([^)]*)\)$", listed[action])
        assert match, listed[action]
        recorded = set(match.group(1).split(",")) - {"all", "<none>"}
        assert recorded == classes, action


def test_the_acting_pjsip_actions_are_never_allowed() -> None:
    """A write=reporting user may run these (they send SIP requests, stop a trunk's registration);
    ListCommands lists them for the user the README recommends: only the allowlist keeps them out."""
    acting = {"PJSIPQualify", "PJSIPRegister", "PJSIPUnregister", "PJSIPNotify", "PJSIPHangup"}
    assert not acting & READ_ONLY_ACTIONS
    reporting = {
        spec.name for spec in actions_for(pjsip=True).values() if "reporting" in spec.priv.split(",")
    }
    assert {"PJSIPQualify", "PJSIPRegister", "PJSIPUnregister"} <= reporting
