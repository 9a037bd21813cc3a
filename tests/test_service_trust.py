"""Right numbers around every snapshot and outage: the service against scripted AMI servers.

Each test reproduces a defect found by running the code (see docs/reliability.md, "Trust"):
a snapshot applied after newer events, gauges of an unreachable PBX, channels that leak across
sessions, reconnect storms, a periodic task that dies silently.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.service import AMIService, Backoff

from .conftest import ServiceFactory, wait_for
from .support.scripted import (
    READ_ONLY_COMMANDS,
    ScriptedSession,
    default_handler,
    event,
    list_reply,
    reply,
    scripted_server,
)

read_only = default_handler(READ_ONLY_COMMANDS)
with_channel_lists = default_handler((*READ_ONLY_COMMANDS, "CoreShowChannels", "BridgeList"))


def queue_items(action_id: str, *, paused: bool, callers: int) -> list[bytes]:
    items = [
        event("QueueParams", ("Queue", "sales"), ("Calls", str(callers)), ("ActionID", action_id)),
        event(
            "QueueMember",
            ("Queue", "sales"),
            ("Name", "Alice"),
            ("Location", "PJSIP/alice"),
            ("Status", "1"),
            ("Paused", "1" if paused else "0"),
            ("InCall", "0"),
            ("ActionID", action_id),
        ),
    ]
    for number in range(callers):
        items.append(
            event(
                "QueueEntry",
                ("Queue", "sales"),
                ("Position", str(number + 1)),
                ("Uniqueid", f"1.{number + 5}"),
                ("Wait", "3"),
                ("ActionID", action_id),
            )
        )
    return items


def samples(service: AMIService) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    registry = build_registry(service.pbx, service.status, CollectorOptions(process=False))
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


# -- 1. a snapshot lands where its Complete is in the stream -----------------------------------


async def test_events_in_the_same_read_after_complete_are_not_overwritten_by_the_snapshot(
    running_service: ServiceFactory,
) -> None:
    """Asterisk flushes the events raised while it built the list right after the Complete. Here
    they arrive in the same write as the Complete: a pause and a new caller. Before the fix the
    snapshot (older) was applied after them: Alice unpaused, no caller, and the next snapshot
    booked both as corrections."""
    snapshots = 0

    def handler(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        nonlocal snapshots
        if action.get("Action") != "QueueStatus":
            return read_only(session, action)
        snapshots += 1
        action_id = action["ActionID"]
        if snapshots == 1:
            newer = event(
                "QueueMemberPause",
                ("Queue", "sales"),
                ("MemberName", "Alice"),
                ("Interface", "PJSIP/alice"),
                ("Status", "1"),
                ("Paused", "1"),
                ("PausedReason", "lunch"),
                ("InCall", "0"),
            ) + event(
                "QueueCallerJoin", ("Queue", "sales"), ("Uniqueid", "1.5"), ("Position", "1"), ("Count", "1")
            )
            return (
                list_reply(action, "QueueStatusComplete", queue_items(action_id, paused=False, callers=0))
                + newer
            )
        # Later snapshots: the truth, which the events already told us.
        return list_reply(action, "QueueStatusComplete", queue_items(action_id, paused=True, callers=1))

    pbx = PBX()
    async with scripted_server(handler) as server, running_service(server.port, pbx=pbx) as service:
        await wait_for(lambda: service.status.reconciles >= 1)
        sales = pbx.queues.queues["sales"]
        assert sales.members["PJSIP/alice"].paused
        assert sales.members["PJSIP/alice"].paused_reason == "lunch"
        assert set(sales.callers) == {"1.5"} and sales.count == 1
        await wait_for(lambda: service.status.reconciles >= 3)
        # Only the first sight of the queue and of Alice; nothing the later snapshots had to fix.
        assert pbx.corrections["queue_member"] == 1
        assert pbx.corrections["queue_caller"] == 0
        assert pbx.corrections["queue"] == 1


async def test_channel_snapshot_lands_before_the_hangup_that_follows_it(
    running_service: ServiceFactory,
) -> None:
    """CoreShowChannels has the same shape: a Hangup right after the Complete must remove the
    channel the (older) list still shows."""
    channel = (("Channel", "PJSIP/alice-00000001"), ("Uniqueid", "1.1"), ("ChannelStateDesc", "Up"))
    lists = 0

    def handler(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        nonlocal lists
        if action.get("Action") != "CoreShowChannels":
            return with_channel_lists(session, action)
        lists += 1
        if lists > 1:
            return list_reply(action, "CoreShowChannelsComplete", [])
        item = event("CoreShowChannel", *channel, ("Duration", "00:00:05"), ("ActionID", action["ActionID"]))
        hangup = event("Hangup", *channel, ("Cause", "16"))
        return list_reply(action, "CoreShowChannelsComplete", [item]) + hangup

    pbx = PBX()
    async with scripted_server(handler) as server, running_service(server.port, pbx=pbx) as service:
        await wait_for(lambda: service.status.reconciles >= 3)
        assert pbx.channels.channels == {}
        assert pbx.corrections["channel"] == 1  # the first sight of the channel only


# -- 2. no live-state gauges while Asterisk cannot be seen ---------------------------------------


async def test_live_gauges_are_absent_while_disconnected_and_exact_again_after(
    running_service: ServiceFactory,
) -> None:
    allow_login = True
    callers = 1

    def handler(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        name = action.get("Action")
        if name == "Login" and not allow_login:
            return reply(action, ("Message", "Authentication failed"), response="Error")
        if name == "QueueStatus":
            items = queue_items(action["ActionID"], paused=False, callers=callers)
            return list_reply(action, "QueueStatusComplete", items)
        return read_only(session, action)

    pbx = PBX()
    async with scripted_server(handler) as server, running_service(server.port, pbx=pbx) as service:
        await wait_for(lambda: service.status.ready)
        live = samples(service)
        assert live["asterisk_up"][()] == 1
        assert live["asterisk_queue_callers"][(("queue", "sales"),)] == 1
        assert (("queue", "sales"),) in live["asterisk_queue_longest_wait_seconds"]
        assert live["asterisk_queue_member_status"][(("member", "Alice"), ("queue", "sales"))] == 1

        allow_login = False
        server.sessions[-1].close()
        await wait_for(lambda: not service.status.up and service.status.logins["auth_failed"] >= 1)
        down = samples(service)
        assert down["asterisk_up"][()] == 0
        for family in (
            "asterisk_queue_callers",
            "asterisk_queue_longest_wait_seconds",
            "asterisk_queue_members",
            "asterisk_queue_members_available",
            "asterisk_queue_member_status",
            "asterisk_channels",
            "asterisk_bridges",
            "asterisk_endpoints",
        ):
            assert family not in down, f"{family} exported while Asterisk is unreachable"
        # Counters stay, and so does the configuration.
        assert (("queue", "sales"),) in down["asterisk_queue_caller_joins_total"]
        assert down["asterisk_queue_service_level_seconds"][(("queue", "sales"),)] == 0

        callers = 0  # the caller left while we were away
        allow_login = True
        await wait_for(lambda: service.status.ready)
        back = samples(service)
        assert back["asterisk_queue_callers"][(("queue", "sales"),)] == 0
        assert back["asterisk_queue_longest_wait_seconds"][(("queue", "sales"),)] == 0


# -- 3. channels do not leak across sessions without a channel snapshot ---------------------------


@pytest.mark.parametrize("may_list_channels", [False, True])
async def test_a_new_session_without_channel_snapshot_starts_the_channel_model_afresh(
    running_service: ServiceFactory, may_list_channels: bool
) -> None:
    """Two channels start in the first session; their hang-ups happen while we are away. A user
    without CoreShowChannels would keep them forever (before the fix); with it, the snapshot
    removes them as before."""
    handler_base = with_channel_lists if may_list_channels else read_only
    live: set[int] = set()  # the channels Asterisk has now

    def channel(n: int) -> tuple[tuple[str, str], ...]:
        return (("Channel", f"PJSIP/a-{n}"), ("Uniqueid", f"1.{n}"), ("ChannelStateDesc", "Up"))

    def handler(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        name = action.get("Action")
        if name == "CoreShowChannels" and may_list_channels:
            items = [event("CoreShowChannel", *channel(n), ("ActionID", action["ActionID"])) for n in live]
            return list_reply(action, "CoreShowChannelsComplete", items)
        data = handler_base(session, action)
        if name == "QueueStatus" and session.number == 1 and not live and data is not None:
            live.update((1, 2))
            data += b"".join(event("Newchannel", *channel(n)) for n in (1, 2))
        return data

    pbx = PBX()
    async with scripted_server(handler) as server, running_service(server.port, pbx=pbx) as service:
        await wait_for(lambda: len(pbx.channels.channels) == 2)
        live.clear()  # both hang up while the exporter is away: it never sees the Hangup
        server.sessions[0].close()
        await wait_for(lambda: len(server.sessions) >= 2 and service.status.ready)
        assert pbx.channels.channels == {}
        assert pbx.channels.created == {"PJSIP": 2}  # counters survive


# -- 5. no reconnect storm ----------------------------------------------------------------------


class RecordingBackoff(Backoff):
    def __init__(self, initial: float, maximum: float) -> None:
        super().__init__(initial, maximum)
        self.delays: list[float] = []
        self.resets = 0

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.delays.append(delay)
        return delay

    def reset(self) -> None:
        self.resets += 1
        super().reset()


async def test_a_server_that_drops_every_session_after_login_is_retried_ever_more_slowly(
    running_service: ServiceFactory,
) -> None:
    """Before the fix the backoff reset at every successful login: 40 logins in 20 s against a
    server that closes each session right after it. Now it keeps growing to its maximum."""

    def handler(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        if action.get("Action") == "ListCommands":
            return None  # drop the session right after the login
        return read_only(session, action)

    backoff = RecordingBackoff(0.05, 0.4)
    async with (
        scripted_server(handler) as server,
        running_service(server.port, backoff=backoff, backoff_initial=0.05, backoff_max=0.4),
    ):
        await asyncio.sleep(3.0)
        logins = server.logins
    assert backoff.resets == 0
    assert backoff.delays[:3] == sorted(backoff.delays[:3])
    # The delays are at least 0.025, 0.05, 0.1, then 0.2 each: at most 17 logins fit in 3 s. A
    # slower machine only makes fewer; resetting at each login made it 60 or more.
    assert 3 <= logins <= 17, logins


async def test_the_backoff_starts_again_after_a_healthy_session(running_service: ServiceFactory) -> None:
    def handler(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        if action.get("Action") == "Login" and session.number <= 3:
            return reply(action, ("Message", "Authentication failed"), response="Error")
        return read_only(session, action)

    backoff = RecordingBackoff(0.05, 0.4)
    async with (
        scripted_server(handler) as server,
        running_service(server.port, backoff=backoff, healthy_after=0.3) as service,
    ):
        await wait_for(lambda: service.status.ready)
        assert backoff.resets == 0  # three refusals, then a login: not yet healthy
        await asyncio.sleep(0.4)
        server.sessions[-1].close()
        await wait_for(lambda: backoff.resets == 1 and len(server.sessions) >= 5)
        assert backoff.delays[-1] <= 0.05  # the first step again


# -- 6. a periodic task that fails restarts the session -------------------------------------------


class FailingOnce(PBX):
    def __init__(self) -> None:
        super().__init__()
        self.failures = 0

    def reconcile_queues(self, snapshot: QueueSnapshot) -> dict[str, int]:
        if self.failures == 0:
            self.failures += 1
            raise RuntimeError("a bug in the reconcile")
        return super().reconcile_queues(snapshot)


async def test_a_failing_reconcile_task_is_logged_and_restarts_the_session(
    running_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ami_exporter")
    pbx = FailingOnce()
    async with scripted_server(read_only) as server, running_service(server.port, pbx=pbx) as service:
        await wait_for(lambda: service.status.logins["success"] >= 2 and service.status.ready)
        assert service.status.disconnects["error"] == 1
    failures = [r for r in caplog.records if "task failed; restarting the session" in r.getMessage()]
    assert len(failures) == 1 and failures[0].levelno == logging.ERROR
    assert failures[0].exc_info is not None


async def test_sent_actions_stay_bounded(running_service: ServiceFactory) -> None:
    async with (
        scripted_server(read_only) as server,
        running_service(server.port, ping_interval=0.01) as service,
    ):
        await wait_for(
            lambda: service.sent_actions["Ping"] >= 50 and service.sent_actions["QueueStatus"] >= 20
        )
        # One entry per action name, however long the exporter runs.
        assert set(service.sent_actions) <= {"Login", "ListCommands", "QueueStatus", "Ping", "Logoff"}
