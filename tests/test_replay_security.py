"""Replay of the e-failed-login admin connection, which reads the security class: every failed
login, refused action and good login of that scenario arrives as a security event."""

from __future__ import annotations

from collections import Counter

from ami_exporter.pbx import PBX
from ami_exporter.pbx.codes import SECURITY_EVENTS

from .conftest import ServiceFactory, wait_for
from .support.captures import event_counts
from .support.replay import Play, replay_server

ADMIN = ("e-failed-login/admin.rx.raw", "e-failed-login/admin.tx.raw")


async def test_security_counters_equal_the_security_events_in_the_capture(
    running_service: ServiceFactory,
) -> None:
    recorded = {name: count for name, count in event_counts(*ADMIN).items() if name in SECURITY_EVENTS}
    assert recorded == {
        "SuccessfulAuth": 2,
        "InvalidPassword": 1,
        "InvalidAccountID": 1,
        "RequestNotAllowed": 2,
        "ChallengeResponseFailed": 1,
        "FailedACL": 1,
    }
    pbx = PBX()
    async with (
        replay_server([Play(*ADMIN)], list_commands_user="admin") as server,
        running_service(server.port, pbx=pbx, username="admin") as service,
    ):
        # The recording answers no queries (the admin only watched): wait for the stream, not ready.
        await wait_for(lambda: server.finished.is_set() and service.status.up, timeout=10)
        await wait_for(lambda: sum(pbx.system.security.values()) >= sum(recorded.values()), timeout=5)
    by_event: Counter[str] = Counter()
    for (event, service_name), count in pbx.system.security.items():
        assert service_name == "AMI"
        by_event[event] += count
    assert dict(by_event) == recorded
    # ChallengeResponseFailed carries "Response:" and "ExpectedResponse:" headers: still an event.
    assert pbx.events["ChallengeResponseFailed"] == 1
