"""Replay of ``f-pjsip``: real SIP phones, a registering softphone and a SIP trunk into a queue of
PJSIP members, recorded on Asterisk 22.10.1 (see ``tests/support/fpjsip.py`` for how the three
recorded connections are put together).

Ground truth: the recorded list replies, ``ground-truth/*pjsip-show-contacts.txt`` (the CLI view at
phones up, registered, mid and end), ``pjsip-show-endpoints.txt`` and ``metrics.txt``
(res_prometheus) at the end, and the recorded ``QueueStatus`` replies.

The first tests fold the stream into the model and apply each recorded snapshot at the point where
it was taken, as three users would: one with ``write=`` empty (events and QueueStatus only), one
with ``write=reporting`` (DeviceStateList) and one with ``write=system,reporting`` (the PJSIP
lists too). The last ones play the same bytes over TCP to the real session and service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.ami.protocol import Message
from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.pbx.codes import hangup_cause_label
from ami_exporter.service import AMIService, ConnectionStatus

from .conftest import ServiceFactory, wait_for
from .support.captures import capture, event_counts
from .support.fpjsip import (
    EXPORTER,
    Snapshot,
    cli_contacts,
    cli_endpoint_states,
    list_commands,
    prometheus_endpoint_states,
    spliced_script,
    timeline,
)
from .support.replay import Play, replay_server

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
SNAPSHOT_ACTIONS = {
    "events": {"QueueStatus"},
    "reporting": {"QueueStatus", "DeviceStateList"},
    "system": {
        "QueueStatus",
        "DeviceStateList",
        "PJSIPShowContacts",
        "PJSIPShowEndpoints",
        "PJSIPShowEndpoint",
    },
}


def scrape(pbx: PBX) -> Samples:
    """What /metrics would say (per-endpoint series on)."""
    options = CollectorOptions(endpoint_details=True, process=False)
    text = generate_latest(build_registry(pbx, ConnectionStatus(up=True, ready=True), options)).decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def by_state(samples: Samples, metric: str) -> dict[str, int]:
    return {dict(labels)["state"]: int(v) for (name, labels), v in samples.items() if name == metric and v}


def per_endpoint(samples: Samples, metric: str) -> dict[str, float]:
    return {dict(labels)["endpoint"]: v for (name, labels), v in samples.items() if name == metric}


def apply(pbx: PBX, snapshot: Snapshot, mode: str) -> None:
    """Apply a recorded snapshot the way the service applies a reply to the same action."""
    if snapshot.action not in SNAPSHOT_ACTIONS[mode]:
        return
    items = snapshot.items
    if snapshot.action == "QueueStatus":
        pbx.reconcile_queues(QueueSnapshot.from_items((m.name, m.fields) for m in snapshot.messages[1:-1]))
    elif snapshot.action == "DeviceStateList":
        pbx.reconcile_devices(items, endpoints=mode == "reporting")
    elif snapshot.action == "PJSIPShowContacts":
        assert snapshot.error in (None, "No Contacts found")
        pbx.reconcile_contacts(items)
    elif snapshot.action == "PJSIPShowEndpoints":
        pbx.reconcile_endpoint_list(items)
    elif snapshot.action == "PJSIPShowEndpoint":
        pbx.reconcile_endpoint_detail(items)


def replay(mode: str, check: Callable[[PBX, Snapshot], None] | None = None) -> PBX:
    """Fold the whole timeline; ``check`` runs after each snapshot is applied."""
    pbx = PBX()
    pbx.new_session()
    for step in timeline():
        if isinstance(step, Message):
            pbx.count(step.name)
            pbx.apply(step.name, step.fields)
        else:
            apply(pbx, step, mode)
            if check is not None:
                check(pbx, step)
    return pbx


def cli_states(name: str) -> dict[str, int]:
    return dict(Counter(contact.state for contact in cli_contacts(name)))


# -- every recorded snapshot ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reporting", "system"])
def test_contacts_and_endpoints_at_every_recorded_snapshot(mode: str) -> None:
    seen: list[str] = []
    device_corrections: dict[str, int] = {}

    def check(pbx: PBX, snapshot: Snapshot) -> None:
        if snapshot.action == "DeviceStateList":
            device_corrections[snapshot.label] = pbx.corrections["device"]
        samples = scrape(pbx)
        contacts = by_state(samples, "asterisk_contacts")
        endpoints = by_state(samples, "asterisk_endpoints")
        rtt = per_endpoint(samples, "asterisk_contact_roundtrip_seconds")
        up = per_endpoint(samples, "asterisk_endpoint_up")
        seen.append(f"{snapshot.label}/{snapshot.action}")
        if snapshot.label == "start":  # 13.3 s: the six phones just became Reachable
            assert contacts == cli_states("phones-up-pjsip-show-contacts.txt") == {"reachable": 6}
            # The round trips of the qualifies that made them Reachable, as the CLI showed them.
            phones_up = cli_contacts("phones-up-pjsip-show-contacts.txt")
            assert rtt == pytest.approx({f"PJSIP/{c.aor}": c.rtt_seconds for c in phones_up}, rel=1e-9)
            if mode == "reporting":  # DeviceStateList: 6 NOT_INUSE, 3 UNAVAILABLE
                assert endpoints == {"reachable": 6, "unreachable": 3}
        elif snapshot.label == "endpoints":  # 14.5 s
            assert contacts == {"reachable": 6}
            if mode == "system" and snapshot.action.startswith("PJSIPShowEndpoint"):
                assert endpoints == {"reachable": 6, "unreachable": 3}
                # Every listed (static) contact's status was heard in this session.
                assert pbx.endpoints.needing_detail() == []
                if snapshot.action == "PJSIPShowEndpoint":
                    assert rtt["PJSIP/2001"] == 609e-6  # ContactStatusDetail RoundtripUsec
        elif snapshot.label == "registered":  # 16.9 s: 2101 registered, qualify off
            assert contacts == cli_states("registered-pjsip-show-contacts.txt")
            assert contacts == {"reachable": 6, "non_qualified": 1}
            assert endpoints == {"reachable": 7, "unreachable": 2}
            if mode == "system":  # 2001's round trip from PJSIPShowEndpoint, as the CLI showed it
                registered = {
                    c.aor: c.rtt_seconds for c in cli_contacts("registered-pjsip-show-contacts.txt")
                }
                assert rtt["PJSIP/2001"] == pytest.approx(registered["2001"], rel=1e-9)
        elif snapshot.label == "mid" and snapshot.action == "DeviceStateList":  # 38 s: 2003 stopped
            assert contacts == cli_states("mid-pjsip-show-contacts.txt")
            assert contacts == {"reachable": 5, "unreachable": 1, "non_qualified": 1}
            # 2003 is INUSE (its call goes on) and the trunk INUSE, yet both are unreachable.
            assert endpoints == {"reachable": 6, "unreachable": 3}
            assert up["PJSIP/2003"] == 0 and up["PJSIP/trunk"] == 0 and up["PJSIP/2101"] == 1
            assert "PJSIP/2003" not in rtt
        elif snapshot.label == "end" and snapshot.action in {"DeviceStateList", "PJSIPShowContacts"}:
            assert contacts == cli_states("pjsip-show-contacts.txt") == {"reachable": 6}
            truth = cli_endpoint_states()
            assert truth == prometheus_endpoint_states()
            assert endpoints == dict(Counter(truth.values())) == {"reachable": 6, "unreachable": 3}
            assert up == {name: float(state == "reachable") for name, state in truth.items()}
            # 2003 came back just before the end: its round trip is the CLI's.
            final = {c.aor: c.rtt_seconds for c in cli_contacts("pjsip-show-contacts.txt")}
            assert rtt["PJSIP/2003"] == pytest.approx(final["2003"], rel=1e-9)

    replay(mode, check)
    assert {"start/DeviceStateList", "registered/PJSIPShowContacts", "end/DeviceStateList"} <= set(seen)
    # The first list taught the three idle devices no event had named; later ones found the
    # events had given every device state exactly as Asterisk listed it.
    assert device_corrections == {"start": 3, "mid": 3, "end": 3}
    if mode == "system":
        assert "endpoints/PJSIPShowEndpoints" in seen and "end/PJSIPShowContacts" in seen


def test_a_write_less_user_sees_only_what_changed() -> None:
    """docs/asterisk-notes.md: without snapshots, an endpoint that never changes state (the trunk,
    the never-registered 2102) is never seen; contacts are exact because every change happened
    while connected."""
    samples = scrape(replay("events"))
    assert by_state(samples, "asterisk_contacts") == cli_states("pjsip-show-contacts.txt")
    assert by_state(samples, "asterisk_endpoints") == {"reachable": 6, "unreachable": 1}
    assert set(per_endpoint(samples, "asterisk_endpoint_up")) == {
        f"PJSIP/{n}" for n in (*range(2001, 2007), 2101)
    }


def test_the_first_endpoint_list_corrects_only_what_events_could_not_know() -> None:
    pbx = replay("system")
    # 2101, 2102 and the trunk: no PeerStatus or DeviceStateChange came for them before the
    # first lists (13.3 s, 14.5 s). Nothing else: every contact and later state came as events.
    assert pbx.corrections["endpoint"] == 3
    assert pbx.corrections["device"] == 3
    assert pbx.corrections["contact"] == 0


# -- queue members on PJSIP phones ---------------------------------------------------------------------


def test_member_status_and_in_call_follow_the_phones_as_queue_status_says() -> None:
    compared: list[str] = []

    def check(pbx: PBX, snapshot: Snapshot) -> None:
        if snapshot.action != "QueueStatus" or snapshot.label == "login":
            return  # at login the model knows no member yet
        recorded = {
            f["Location"]: (int(f["Status"]), f["InCall"] == "1", f["Paused"] == "1")
            for f in snapshot.items
            if "Location" in f
        }
        before = pbx.corrections["queue_member"]
        pbx.reconcile_queues(QueueSnapshot.from_items((m.name, m.fields) for m in snapshot.messages[1:-1]))
        assert pbx.corrections["queue_member"] == before, snapshot.action_id  # nothing to correct
        members = pbx.queues.queues["helpdesk"].members
        assert {i: (m.status, m.in_call, m.paused) for i, m in members.items()} == recorded
        compared.append(snapshot.action_id)

    replay("events", check)
    # rep-10 at 14.5 s, the exporter's own mid and end polls, rep-21 at the end
    assert compared == ["exporter_rep-10", "exporter-17", "exporter-20", "exporter_rep-21"]


def test_a_member_whose_phone_becomes_unreachable_is_unavailable() -> None:
    """2003 (Jana) was stopped during a call: unreachable at 28 s, still in use (INUSE, in call,
    as the mid QueueStatus and queue show say) until the call ended, then unavailable (5)."""
    pbx = PBX()
    statuses: list[tuple[int, bool, str]] = []
    for step in timeline():
        if isinstance(step, Message):
            pbx.apply(step.name, step.fields)
            if step.name in {"QueueMemberStatus", "ContactStatus"} and "2003" in (
                step.fields.get("Interface", "") + step.fields.get("AOR", "")
            ):
                member = pbx.queues.queues["helpdesk"].members["PJSIP/2003"]
                statuses.append((member.status, member.in_call, pbx.endpoints.endpoints["PJSIP/2003"].state))
        elif step.action == "QueueStatus":
            apply(pbx, step, "events")
    # ... ringing, in use and in call, the phone stops (unreachable, still in call), the call
    # ends (unavailable), the phone comes back (not in use).
    assert (2, True, "unreachable") in statuses
    assert statuses[-3:] == [(5, False, "unreachable"), (1, False, "reachable"), (1, False, "reachable")]


# -- channels and hang-up causes -------------------------------------------------------------------------


def planned_calls() -> Counter[str]:
    """``ground-truth/sipp-caller-5090.calls.csv``: what each of the 30 trunk calls was made to do."""
    lines = capture("f-pjsip/ground-truth/sipp-caller-5090.calls.csv").read_text().splitlines()
    return Counter(line.split(";")[5] for line in lines if line and line[0].isdigit())


def queue_log_events() -> Counter[str]:
    lines = capture("f-pjsip/ground-truth/queue_log.txt").read_text().splitlines()
    return Counter(line.split("|")[4] for line in lines)


def test_pjsip_channels_and_hangup_causes_equal_the_recording() -> None:
    pbx = replay("system")
    events = [s for s in timeline() if isinstance(s, Message)]
    created = [e for e in events if e.name == "Newchannel" and e.fields["Channel"].startswith("PJSIP/")]
    hangups = [e for e in events if e.name == "Hangup" and e.fields["Channel"].startswith("PJSIP/")]
    samples = scrape(pbx)
    assert samples["asterisk_channels_created_total", (("technology", "PJSIP"),)] == len(created) == 54
    recorded = Counter(hangup_cause_label(e.fields["Cause"]) for e in hangups)
    exported = {
        dict(labels)["cause"]: int(v)
        for (name, labels), v in samples.items()
        if name == "asterisk_channel_hangups_total" and dict(labels)["technology"] == "PJSIP"
    }
    assert exported == dict(recorded)
    # Against what the calls were made to do: 30 trunk calls (answered, queue timeout: normal
    # clearing; the caller's CANCEL: 127 interworking), an agent leg per CONNECT (normal
    # clearing) and per RINGNOANSWER (Karl's noanswer phone: cause 0).
    planned, log = planned_calls(), queue_log_events()
    assert sum(planned.values()) == 30
    trunk = Counter(
        hangup_cause_label(e.fields["Cause"])
        for e in hangups
        if e.fields["Channel"].startswith("PJSIP/trunk-")
    )
    assert trunk == {
        "normal_clearing": planned["answered"] + planned["timeout"],
        "interworking": planned["abandon"],
    }
    agents = recorded - trunk
    assert agents == {"normal_clearing": log["CONNECT"], "not_defined": log["RINGNOANSWER"]}


# -- over TCP: the real session and service ---------------------------------------------------------------

REPORTING_ACTIONS = {
    "QueueStatus": "<none>",
    "DeviceStateList": "call,reporting,all",
    # A write=reporting user may run these; the exporter must never send them.
    "PJSIPQualify": "system,reporting,all",
    "PJSIPRegister": "system,reporting,all",
    "PJSIPUnregister": "system,reporting,all",
}
SYSTEM_ACTIONS = {
    **REPORTING_ACTIONS,
    "PJSIPShowContacts": "system,all",
    "PJSIPShowEndpoints": "system,all",
    "PJSIPShowEndpoint": "system,all",
}


async def _replayed_end_state(
    running_service: ServiceFactory, actions: dict[str, str], groups: set[str]
) -> AMIService:
    pbx = PBX()
    play = Play(*EXPORTER, spliced=spliced_script(groups))
    async with (
        replay_server([play], list_commands=list_commands(actions)) as server,
        running_service(server.port, pbx=pbx, reconcile_interval=0.2) as service,
    ):
        await wait_for(lambda: server.finished.is_set(), timeout=30)
        await wait_for(lambda: pbx.events.get("ContactStatus", 0) == 10, timeout=10)
        done = service.status.reconciles
        await wait_for(lambda: service.status.reconciles >= done + 2, timeout=10)
        return service


async def test_reporting_user_over_tcp(running_service: ServiceFactory) -> None:
    service = await _replayed_end_state(
        running_service,
        REPORTING_ACTIONS,
        {"exporter-5", "exporter_rep-6", "exporter-17", "exporter_rep-18", "exporter-20", "exporter_rep-22"},
    )
    samples = scrape(service.pbx)
    assert by_state(samples, "asterisk_endpoints") == {"reachable": 6, "unreachable": 3}
    assert by_state(samples, "asterisk_contacts") == {"reachable": 6}
    assert per_endpoint(samples, "asterisk_endpoint_up") == {
        name: float(state == "reachable") for name, state in prometheus_endpoint_states().items()
    }
    assert not {"PJSIPQualify", "PJSIPRegister", "PJSIPUnregister"} & set(service.sent_actions)
    assert (
        {"QueueStatus", "DeviceStateList"}
        <= set(service.sent_actions)
        <= {
            "Login",
            "ListCommands",
            "QueueStatus",
            "DeviceStateList",
            "Ping",
            "Logoff",
        }
    )


async def test_system_user_over_tcp_with_the_irregular_no_contacts_reply(
    running_service: ServiceFactory,
) -> None:
    # Pass 1 at login: QueueStatus, DeviceStateList (13.3 s), PJSIPShowContacts ("No Contacts
    # found\n", the frame with the extra empty line), PJSIPShowEndpoints (14.5 s); the end pass:
    # QueueStatus, DeviceStateList and PJSIPShowContacts at 121.4 s, PJSIPShowEndpoints as at 14.5 s
    # (no endpoint changed its configuration since).
    service = await _replayed_end_state(
        running_service,
        SYSTEM_ACTIONS,
        {
            "exporter-5",
            "exporter_rep-6",
            "admin-12",
            "admin-11",
            "exporter-20",
            "exporter_rep-22",
            "admin-23",
        },
    )
    samples = scrape(service.pbx)
    assert by_state(samples, "asterisk_endpoints") == dict(Counter(cli_endpoint_states().values()))
    assert by_state(samples, "asterisk_contacts") == cli_states("pjsip-show-contacts.txt")
    assert service.pbx.events == dict(event_counts(*EXPORTER))
    assert "PJSIPShowEndpoint" not in service.sent_actions  # every static contact was heard
    assert not {"PJSIPQualify", "PJSIPRegister", "PJSIPUnregister"} & set(service.sent_actions)
    assert service.status.malformed_total() == 0
