"""docs/metrics.md is generated from the collectors and covers the required catalogue."""

from __future__ import annotations

from pathlib import Path

from ami_exporter.collectors.catalogue import families, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"

# The names dashboards, alerts and users depend on (the project's design/metrics.md contract).
REQUIRED = {
    "asterisk_up": ("gauge", ()),
    "asterisk_exporter_build_info": ("gauge", ("version",)),
    "asterisk_info": ("gauge", ("ami_version", "version")),
    "asterisk_core_start_time_seconds": ("gauge", ()),
    "asterisk_core_reload_time_seconds": ("gauge", ()),
    "asterisk_exporter_ami_logins_total": ("counter", ("result",)),
    "asterisk_exporter_ami_disconnects_total": ("counter", ("reason",)),
    "asterisk_exporter_events_total": ("counter", ("event",)),
    "asterisk_exporter_last_event_timestamp_seconds": ("gauge", ()),
    "asterisk_exporter_reconcile_corrections_total": ("counter", ("object",)),
    "asterisk_exporter_malformed_messages_total": ("counter", ()),
    "asterisk_queue_callers": ("gauge", ("queue",)),
    "asterisk_queue_longest_wait_seconds": ("gauge", ("queue",)),
    "asterisk_queue_members": ("gauge", ("queue", "status")),
    "asterisk_queue_members_paused": ("gauge", ("queue",)),
    "asterisk_queue_members_available": ("gauge", ("queue",)),
    "asterisk_queue_caller_joins_total": ("counter", ("queue",)),
    "asterisk_queue_caller_abandons_total": ("counter", ("queue",)),
    "asterisk_queue_calls_answered_total": ("counter", ("queue",)),
    "asterisk_queue_calls_completed_total": ("counter", ("queue", "reason")),
    "asterisk_queue_ring_noanswer_total": ("counter", ("queue",)),
    "asterisk_queue_wait_seconds": ("histogram", ("queue", "outcome")),
    "asterisk_queue_talk_seconds": ("histogram", ("queue",)),
    "asterisk_queue_service_level_seconds": ("gauge", ("queue",)),
    "asterisk_queue_max_callers": ("gauge", ("queue",)),
    "asterisk_queue_stats_completed": ("gauge", ("queue",)),
    "asterisk_queue_stats_abandoned": ("gauge", ("queue",)),
    "asterisk_queue_stats_service_level_ratio": ("gauge", ("queue",)),
    "asterisk_queue_stats_holdtime_seconds": ("gauge", ("queue",)),
    "asterisk_queue_stats_talktime_seconds": ("gauge", ("queue",)),
    "asterisk_queue_member_status": ("gauge", ("queue", "member")),
    "asterisk_queue_member_paused": ("gauge", ("queue", "member")),
    "asterisk_queue_member_in_call": ("gauge", ("queue", "member")),
    "asterisk_queue_member_calls_taken": ("gauge", ("queue", "member")),
    "asterisk_queue_member_last_call_time_seconds": ("gauge", ("queue", "member")),
    "asterisk_queue_member_last_pause_time_seconds": ("gauge", ("queue", "member")),
    "asterisk_queue_member_login_time_seconds": ("gauge", ("queue", "member")),
    "asterisk_channels": ("gauge", ("technology", "state")),
    "asterisk_channels_created_total": ("counter", ("technology",)),
    "asterisk_channel_hangups_total": ("counter", ("technology", "cause")),
    "asterisk_channel_duration_seconds": ("histogram", ("technology",)),
    "asterisk_bridges": ("gauge", ()),
    "asterisk_cdr_total": ("counter", ("disposition",)),
    "asterisk_cdr_billable_seconds_total": ("counter", ()),
    "asterisk_security_events_total": ("counter", ("event", "service")),
    "asterisk_reloads_total": ("counter", ()),
    "asterisk_exporter_label_overflow_total": ("counter", ("metric",)),
    "asterisk_endpoints": ("gauge", ("state",)),
}


def catalogue() -> dict[str, tuple[str, tuple[str, ...]]]:
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for _subsystem, family in families():
        name = f"{family.name}_total" if family.type == "counter" else family.name
        labels: list[str] = []
        for sample in family.samples:
            labels += [label for label in sample.labels if label != "le" and label not in labels]
        out[name] = (family.type, tuple(labels))
    return out


def test_docs_metrics_md_is_generated_from_the_collectors() -> None:
    assert DOC.read_text() == render(), (
        "regenerate: python -m ami_exporter.collectors.catalogue > docs/metrics.md"
    )


def test_every_required_metric_exists_with_its_type_and_labels() -> None:
    found = catalogue()
    for name, (kind, labels) in REQUIRED.items():
        assert name in found, name
        assert found[name][0] == kind, name
        assert sorted(found[name][1]) == sorted(labels), name


def test_every_metric_is_documented_with_a_sentence() -> None:
    for _subsystem, family in families():
        assert family.documentation.endswith("."), family.name
        assert family.name.startswith("asterisk_"), family.name
