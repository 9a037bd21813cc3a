"""The allowlist's privilege table agrees with what the recorded Asterisk 22 says about each action."""

from __future__ import annotations

import re

from ami_exporter.ami.actions import QUERY_ACTION_WRITE_CLASSES, QUERY_ACTIONS, READ_ONLY_ACTIONS

from ..support.replay import recorded_list_commands


def test_every_query_action_has_its_write_classes() -> None:
    assert set(QUERY_ACTION_WRITE_CLASSES) == QUERY_ACTIONS
    assert QUERY_ACTIONS <= READ_ONLY_ACTIONS


def test_write_classes_match_the_recorded_list_commands_of_a_write_all_user() -> None:
    listed = dict(recorded_list_commands("admin").headers)
    for action, classes in QUERY_ACTION_WRITE_CLASSES.items():
        match = re.search(r"\(Priv: ([^)]*)\)$", listed[action])
        assert match, listed[action]
        recorded = set(match.group(1).split(",")) - {"all", "<none>"}
        assert recorded == classes, action
