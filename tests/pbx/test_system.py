"""System, CDR and security state."""

from __future__ import annotations

import time

import pytest

from ami_exporter.pbx import PBX


def test_fully_booted_both_header_orders_and_a_stable_start_time() -> None:
    now = [1_800_000_000.4]
    pbx = PBX(now=lambda: now[0], monotonic=lambda: now[0])
    pbx.apply("FullyBooted", {"Uptime": "201", "LastReload": "198", "Status": "Fully Booted"})
    state = pbx.system.state
    assert (state.start_time, state.reload_time) == (1_800_000_000 - 201, 1_800_000_000 - 198)
    # A re-login a few seconds later reads a Uptime one second off: the start time does not move.
    now[0] += 5.9
    pbx.apply("FullyBooted", {"Uptime": "207", "LastReload": "204", "Status": "Fully Booted"})
    assert state.start_time == 1_800_000_000 - 201
    # Boot-time order (Status first) after a restart: Uptime 0.
    now[0] += 100
    pbx.apply("FullyBooted", {"Status": "Fully Booted", "Uptime": "0", "LastReload": "0"})
    assert state.start_time == int(now[0])
    # Asterisk 11/13: no Uptime at all; nothing changes.
    pbx.apply("FullyBooted", {"Status": "Fully Booted"})
    assert state.start_time == int(now[0])


def test_restart_seen_at_reconnect_clears_channels() -> None:
    now = [1_800_000_000.0]
    pbx = PBX(now=lambda: now[0], monotonic=lambda: now[0])
    pbx.apply("FullyBooted", {"Uptime": "500", "LastReload": "500"})
    pbx.apply("Newchannel", {"Channel": "PJSIP/a-1", "Uniqueid": "1"})
    now[0] += 60
    pbx.apply("FullyBooted", {"Uptime": "3", "LastReload": "3"})  # restarted while we were away
    assert pbx.channels.channels == {}


def test_reload_and_shutdown() -> None:
    pbx = PBX(now=lambda: 1_800_000_000.0)
    pbx.apply("Newchannel", {"Channel": "PJSIP/a-1", "Uniqueid": "1"})
    pbx.apply("Reload", {"Module": "app_queue.so", "Status": "0"})
    pbx.apply("Shutdown", {"Shutdown": "Cleanly", "Restart": "True"})
    state = pbx.system.state
    assert (state.reloads, state.shutdowns, state.reload_time) == (1, 1, 1_800_000_000.0)
    assert pbx.channels.channels == {}


def test_core_settings_and_core_status() -> None:
    pbx = PBX()
    pbx.system.set_ami_version("11.0.0")
    pbx.system.core_settings({"AMIversion": "11.0.0", "AsteriskVersion": "22.10.1", "SystemName": ""})
    started = time.mktime(time.strptime("2026-11-28 04:50:32", "%Y-%m-%d %H:%M:%S"))
    pbx.system.core_status(
        {
            "CoreStartupDate": "2026-11-28",
            "CoreStartupTime": "04:50:32",
            "CoreReloadDate": "2026-11-28",
            "CoreReloadTime": "04:50:35",
            "CoreCurrentCalls": "16",
            "CoreProcessedCalls": "29",
        }
    )
    state = pbx.system.state
    assert (state.version, state.ami_version) == ("22.10.1", "11.0.0")
    assert state.start_time == started
    assert (state.current_channels, state.processed_calls) == (16, 29)


def test_cdr_dispositions_and_billable_seconds() -> None:
    pbx = PBX()
    for disposition, billable in [
        ("ANSWERED", "12"),
        ("NO ANSWER", "0"),
        ("FAILED", ""),
        ("BUSY", "0"),
        ("CONGESTION", "0"),
        ("CANCEL", "0"),
        ("WEIRD", "7"),
    ]:
        pbx.apply("Cdr", {"Disposition": disposition, "BillableSeconds": billable})
    assert pbx.system.cdr_totals() == {
        "answered": 1,
        "no_answer": 1,
        "failed": 1,
        "busy": 1,
        "congestion": 1,
        "cancel": 1,
        "unknown": 1,
    }
    assert pbx.system.cdr_billable_seconds == 19


def test_security_events_by_service_never_by_address() -> None:
    pbx = PBX()
    pbx.apply("InvalidPassword", {"Service": "PJSIP", "RemoteAddress": "IPV4/UDP/203.0.113.9/5060"})
    pbx.apply("RequestNotAllowed", {"Service": "AMI", "RequestType": "Action: CoreSettings"})
    pbx.apply("ChallengeSent", {})
    assert pbx.system.security == {
        ("InvalidPassword", "PJSIP"): 1,
        ("RequestNotAllowed", "AMI"): 1,
        ("ChallengeSent", "unknown"): 1,
    }


def test_optional_cdr_labels_are_bounded_and_keep_the_totals() -> None:
    pbx = PBX(cdr_labels=("accountcode", "amaflags"), caps={"cdr_accountcode": 2})
    for code, disposition, billable in [
        ("sales", "ANSWERED", "30"),
        ("sales", "NO ANSWER", "0"),
        ("support", "ANSWERED", "12"),
        ("other", "ANSWERED", "5"),
    ]:
        pbx.apply(
            "Cdr",
            {
                "AccountCode": code,
                "AMAFlags": "BILLING",
                "Disposition": disposition,
                "BillableSeconds": billable,
                "Source": "5551234",
                "Destination": "100",
            },
        )
    system = pbx.system
    assert system.cdr == {
        ("answered", "sales", "BILLING"): 1,
        ("no_answer", "sales", "BILLING"): 1,
        ("answered", "support", "BILLING"): 1,
        ("answered", "__overflow__", "BILLING"): 1,
    }
    assert system.cdr_billable == {
        ("sales", "BILLING"): 30,
        ("support", "BILLING"): 12,
        ("__overflow__", "BILLING"): 5,
    }
    assert system.cdr_totals() == {"answered": 3, "no_answer": 1}
    assert system.cdr_billable_seconds == 47
    assert pbx.caps.overflows["cdr_accountcode"] == 1


def test_unknown_cdr_label_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown CDR label"):
        PBX(cdr_labels=("source",))


def test_core_status_dates_are_read_in_asterisks_utc_offset_from_event_tv() -> None:
    """CoreStatus dates are Asterisk's local time without a zone. An exporter in another zone
    (a UTC container beside an Asterisk in Europe/Berlin) read them in its own zone before."""
    pbx = PBX(now=lambda: 1_800_000_000.0)
    pbx.apply("SuccessfulAuth", {"Service": "AMI", "EventTV": "2026-11-28T05:00:00.123+0100"})
    pbx.system.core_status(
        {
            "CoreStartupDate": "2026-11-28",
            "CoreStartupTime": "04:50:32",
            "CoreReloadDate": "2026-11-28",
            "CoreReloadTime": "04:50:35",
        }
    )
    assert pbx.system.utc_offset == 3600
    assert pbx.system.state.start_time == 1_795_837_832.0  # 2026-11-28T03:50:32Z
    assert pbx.system.state.reload_time == 1_795_837_835.0


def test_a_core_status_date_in_the_future_is_ignored() -> None:
    pbx = PBX(now=lambda: 1_795_836_632.0)
    pbx.apply("SuccessfulAuth", {"Service": "AMI", "EventTV": "2026-11-28T03:50:32.000-0500"})
    pbx.system.core_status({"CoreStartupDate": "2026-11-28", "CoreStartupTime": "04:50:32"})
    assert pbx.system.state.start_time == 0.0  # 09:50Z would be six hours ahead: a zone mix-up


def test_an_uptime_longer_than_the_epoch_never_gives_a_negative_start_time() -> None:
    pbx = PBX(now=lambda: 1_000_000.0)
    pbx.apply("FullyBooted", {"Uptime": "1000002"})
    assert pbx.system.state.start_time == 0.0
