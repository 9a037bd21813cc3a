"""The metric catalogue (``docs/metrics.md``), generated from the collectors themselves so the
documentation and the exposition cannot drift apart.

    python -m ami_exporter.collectors.catalogue > docs/metrics.md
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from prometheus_client.metrics_core import Metric

from ..pbx import PBX, QueueSnapshot
from ..service import ConnectionStatus
from . import CollectorOptions, subsystem_collectors
from .base import ScrapeResults
from .exporter import ScrapeCollector

TITLES = {
    "exporter": "Connection and exporter",
    "system": "System",
    "queues": "Queues and members",
    "channels": "Channels and calls",
    "cdr": "CDR",
    "security": "Security",
    "endpoints": "Endpoints, contacts, devices and registrations",
    "scrape": "Scrape",
}

INTRO = """\
# Metrics

Generated from the collectors by `python -m ami_exporter.collectors.catalogue`; a test fails when
this file and the collectors disagree. Counters carry the `_total` suffix in the text exposition;
histograms expose `_bucket`, `_sum` and `_count`. Every series also gets the `job` and
`instance` labels of the scrape. Labels come only from bounded sets: past a cap (flags
`--limits.*`), values fold into `__overflow__` and are counted in
`asterisk_exporter_label_overflow_total{metric}`. Caller numbers and names, channel names,
Uniqueids and addresses never become labels.

Per-member series (`asterisk_queue_member_*`) can be turned off with
`--no-collector.queue-members`; per-endpoint series (`asterisk_endpoint_*`,
`asterisk_contact_roundtrip_seconds`) are off unless `--collector.endpoint-details` is given;
`asterisk_registration_up` is always on (trunks are few; at most 200 registration names). The
`process_*` and `python_*` families of prometheus_client are exported too and not listed here.

What each family needs from the AMI user (`read=` classes for events, `write=` classes for the
snapshot actions, as `ListCommands` reports them): endpoints, contacts and registrations need
`read = system` for `PeerStatus`/`ContactStatus`/`Registry`; devices need `read = call`. Without
a `write=` class they only show what changed since the exporter connected; `write = reporting`
adds `DeviceStateList` (devices, and PJSIP endpoints where the device state says) and
`PJSIPShowRegistrationsOutbound` (registrations by name); `write = system` adds
`PJSIPShowEndpoints`/`PJSIPShowContacts`/`PJSIPShowEndpoint` (every endpoint and contact at login).
See `docs/asterisk-notes.md` and the privilege trade-off in the README.

Families marked **(live)** describe Asterisk's state now. They have no samples while
`asterisk_up` is 0 or before the session's first snapshot completed (`/-/ready`): a wallboard
shows a gap, not the frozen numbers of a PBX the exporter cannot see. Counters stay.
"""


def sample_model() -> tuple[PBX, ConnectionStatus]:
    """A model with at least one sample in every family, so that labels can be listed."""
    pbx = PBX(now=lambda: 1_800_000_000.0, monotonic=lambda: 1_800_000_000.0)
    status = ConnectionStatus(up=True, ready=True, last_reconcile_time=1_800_000_000.0)
    channel = {"Channel": "PJSIP/alice-00000001", "Uniqueid": "1.1", "ChannelStateDesc": "Up"}
    events: list[tuple[str, dict[str, str]]] = [
        ("FullyBooted", {"Uptime": "100", "LastReload": "50"}),
        ("QueueCallerJoin", {"Queue": "sales", "Uniqueid": "1.1", "Count": "1"}),
        ("QueueCallerAbandon", {"Queue": "sales", "HoldTime": "3"}),
        ("AgentConnect", {"Queue": "sales", "Interface": "PJSIP/alice", "HoldTime": "3"}),
        (
            "AgentComplete",
            {"Queue": "sales", "Interface": "PJSIP/alice", "TalkTime": "60", "Reason": "agent"},
        ),
        ("Newchannel", channel),
        ("Hangup", {**channel, "Cause": "16"}),
        ("Newchannel", channel),
        ("BridgeCreate", {"BridgeUniqueid": "b"}),
        ("Cdr", {"Disposition": "ANSWERED", "BillableSeconds": "60"}),
        ("InvalidPassword", {"Service": "PJSIP"}),
        ("Reload", {"Module": "All"}),
        (
            "ContactStatus",
            {
                "URI": "sip:alice@192.0.2.10",
                "AOR": "alice",
                "EndpointName": "alice",
                "ContactStatus": "Reachable",
                "RoundtripUsec": "1000",
            },
        ),
        ("DeviceStateChange", {"Device": "PJSIP/alice", "State": "INUSE"}),
        (
            "Registry",
            {"ChannelType": "PJSIP", "Username": "sip:1@p", "Domain": "sip:p", "Status": "Registered"},
        ),
    ]
    for name, fields in events:
        pbx.count(name)
        pbx.apply(name, fields)
    pbx.system.core_status({"CoreCurrentCalls": "1"})
    pbx.reconcile_queues(
        QueueSnapshot.from_items(
            [
                ("QueueParams", {"Queue": "sales", "ServiceLevel": "30"}),
                (
                    "QueueMember",
                    {"Queue": "sales", "Name": "Alice", "Location": "PJSIP/alice", "Status": "1"},
                ),
                (
                    "QueueMember",
                    {
                        "Queue": "sales",
                        "Name": "Bob",
                        "Location": "PJSIP/bob",
                        "Status": "1",
                        "Paused": "1",
                        "PausedReason": "lunch",
                    },
                ),
                ("QueueEntry", {"Queue": "sales", "Uniqueid": "1.1", "Wait": "3"}),
            ]
        )
    )
    pbx.reconcile_registrations(
        [
            {
                "ObjectName": "trunk-provider",
                "ClientUri": "sip:1@p",
                "ServerUri": "sip:p",
                "Status": "Registered",
            }
        ]
    )
    pbx.caps.overflows["queue"] = 1
    return pbx, status


def families() -> Iterator[tuple[str, Metric]]:
    pbx, status = sample_model()
    options = CollectorOptions(queue_members=True, endpoint_details=True, process=False)
    results = ScrapeResults()
    for subsystem, collector in subsystem_collectors(pbx, status, options).items():
        for family in collector.collect():
            results.results[subsystem] = (True, 0.0)
            yield subsystem, family
    for family in ScrapeCollector(results).collect():
        yield "scrape", family


def _exposed_name(family: Metric) -> str:
    return f"{family.name}_total" if family.type == "counter" else family.name


def live_only() -> set[str]:
    """Families that lose their samples when the connection is not live (see INTRO)."""
    pbx, status = sample_model()
    options = CollectorOptions(queue_members=True, endpoint_details=True, process=False)
    offline = dataclasses.replace(status, up=False, ready=False)
    names: set[str] = set()
    for collector in subsystem_collectors(pbx, offline, options).values():
        names.update(family.name for family in collector.collect() if not family.samples)
    return names


def render() -> str:
    lines = [INTRO]
    live = live_only()
    current = ""
    for subsystem, family in families():
        if subsystem != current:
            current = subsystem
            lines += [
                f"\n## {TITLES[subsystem]}\n",
                "| metric | type | labels | meaning |",
                "|---|---|---|---|",
            ]
        labels: list[str] = []
        for sample in family.samples:
            for label in sample.labels:
                if label != "le" and label not in labels:
                    labels.append(label)
        meaning = family.documentation.replace("|", "\\|").replace("__overflow__", "`__overflow__`")
        if family.name in live and family.samples:
            meaning = f"**(live)** {meaning}"
        lines.append(f"| `{_exposed_name(family)}` | {family.type} | {', '.join(labels)} | {meaning} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
