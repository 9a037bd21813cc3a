"""The privilege knowledge: derived from the allowlist and the recorded ListCommands replies, and
complete: every exported metric family is fed by some row of the table."""

from __future__ import annotations

from fnmatch import fnmatch

import pytest

from ami_exporter.ami.actions import QUERY_ACTIONS
from ami_exporter.ami.client import DEFAULT_EVENT_MASK
from ami_exporter.check import knowledge
from ami_exporter.collectors.catalogue import _exposed_name, families

from ..support.replay import recorded_list_commands

# The exporter's own health says nothing about Asterisk's privileges.
OWN_METRICS = ("asterisk_up", "asterisk_exporter_*", "asterisk_scrape_*")


def test_the_least_privilege_write_class_is_derived_from_the_allowlist() -> None:
    assert sorted(knowledge.USABLE_WRITE_CLASSES) == ["reporting"]
    assert knowledge.enabling_class(["CoreShowChannels", "CoreSettings"]) == "reporting"


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("exporter", set()),
        ("exporter_rep", {"reporting"}),
        (
            "admin",
            {
                "agent",
                "agi",
                "aoc",
                "call",
                "command",
                "config",
                "message",
                "originate",
                "reporting",
                "system",
            }
            | {"user"},
        ),
    ],
)
def test_write_classes_held_by_the_recorded_users(user: str, expected: set[str]) -> None:
    reply = recorded_list_commands(user)
    privileges = knowledge.listed_privileges(reply)
    assert privileges["QueueStatus"] == frozenset()  # "(Priv: <none>)"
    held = knowledge.held_write_classes(privileges)
    assert set(held) == expected
    if user == "admin":
        assert held["originate"] == ["Originate"]
        assert "Command" in held["command"]


def test_every_family_uses_allowlisted_actions_and_masked_classes() -> None:
    mask = set(DEFAULT_EVENT_MASK.split(","))
    for family in knowledge.FAMILIES:
        assert set(family.snapshots) <= QUERY_ACTIONS, family.key
        assert set(family.read) <= mask, family.key
        assert family.read or family.snapshots, family.key
        assert bool(family.without) == bool(family.snapshots), family.key
    for event_class in mask:
        assert knowledge.families_fed_by(event_class), f"{event_class} feeds nothing?"


def test_every_exported_metric_family_is_in_the_table() -> None:
    patterns = [
        pattern.strip().split("{")[0]
        for family in knowledge.FAMILIES
        for pattern in family.metrics.split(",")
    ]
    names = {_exposed_name(metric) for _subsystem, metric in families()}
    assert len(names) > 40
    uncovered = [
        name
        for name in sorted(names)
        if not any(fnmatch(name, own) for own in OWN_METRICS)
        and not any(fnmatch(name, pattern) for pattern in patterns)
    ]
    assert not uncovered, f"add these to check/knowledge.py FAMILIES: {uncovered}"


def test_least_privilege_block_for_a_named_user() -> None:
    block = knowledge.least_privilege_block("ami_exporter", DEFAULT_EVENT_MASK, "10.1.2.3")
    assert block[0] == "[ami_exporter]"
    assert "permit = 10.1.2.3/255.255.255.255" in block[3]
    assert f"read = {DEFAULT_EVENT_MASK}" in block
    assert block[5].startswith("write = reporting")


def test_privilege_header_classes() -> None:
    assert knowledge.privilege_classes("agent,all") == {"agent"}
    assert knowledge.privilege_classes("system,reporting,all") == {"system", "reporting"}
    assert knowledge.privilege_classes(None) == frozenset()
