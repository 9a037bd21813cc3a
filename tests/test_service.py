"""The reconnecting service against recorded restarts, cold starts and failed logins."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from ami_exporter.pbx import PBX
from ami_exporter.service import Backoff

from .conftest import ServiceFactory, wait_for
from .support.replay import Play, Refuse, Reset, replay_server

CONN1 = Play(
    "d-restart-reload/exporter.conn1.rx.raw", "d-restart-reload/exporter.conn1.tx.raw", close_at_end=True
)
CONN2 = Play("d-restart-reload/exporter.conn2.rx.raw", "d-restart-reload/exporter.conn2.tx.raw")


async def test_recorded_restart_reconnects_and_gauges_equal_the_new_snapshot(
    running_service: ServiceFactory,
) -> None:
    pbx = PBX()
    # The recording: Shutdown, EOF, a connect reset before the banner, a refused connect, banner.
    async with (
        replay_server([CONN1, Reset(), Refuse(0.3), CONN2]) as server,
        running_service(server.port, pbx=pbx, backoff_initial=0.5, backoff_max=30.0) as service,
    ):
        status = service.status
        await wait_for(lambda: pbx.system.state.shutdowns == 1, timeout=15)
        started_before = pbx.system.state.start_time
        shutdown_seen = time.monotonic()
        await wait_for(lambda: not status.up, timeout=5)
        await wait_for(lambda: status.up and status.ready, timeout=15)
        reconnect_seconds = time.monotonic() - shutdown_seen
        assert server.connections == 4
        assert status.disconnects["shutdown"] == 1
        assert status.logins["success"] == 2
        assert status.logins["error"] == 2  # the reset and the refused attempt
        # The garbage-collection policy: the model frozen after each reconcile, one full
        # collection when the first session ended (not while a session streamed).
        assert service.gc_policy.freezes >= 1
        assert service.gc_policy.refreshes == 1
        # FullyBooted of the new process says Uptime 0: the start time moved forward.
        assert pbx.system.state.start_time > started_before
        # The restart abandoned every waiting caller; the new snapshot has none and no channels.
        queues = pbx.queues.queues
        assert sum(queue.count for queue in queues.values()) == 0
        assert all(not queue.callers for queue in queues.values())
        assert pbx.channels.channels == {}
        assert pbx.channels.bridges == set()
        members = {
            (q.name, m.interface): (m.status, m.paused, m.in_call)
            for q in queues.values()
            for m in q.members.values()
        }
        assert members and all(state == (1, False, False) for state in members.values())
        # QueueParams counters of the new process start again from 0.
        assert all(q.params is not None and q.params.completed == 0 for q in queues.values())
        print(f"reconnect after the recorded restart took {reconnect_seconds:.2f}s")
        assert reconnect_seconds < 5


async def test_cold_start_login_before_fully_booted(running_service: ServiceFactory) -> None:
    pbx = PBX()
    plan = [Play("d2-cold-start/exporter.rx.raw", "d2-cold-start/exporter.tx.raw")]
    async with replay_server(plan) as server, running_service(server.port, pbx=pbx) as service:
        await wait_for(lambda: service.status.ready, timeout=10)
        assert pbx.system.state.start_time > 0  # from the boot-time FullyBooted (Status first)
        assert sorted(pbx.queues.queues) == ["billing", "sales", "support"]


async def test_wrong_secret_logs_once_and_recovers_when_the_file_is_fixed(
    running_service: ServiceFactory, secret_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = Play(
        "e-failed-login/exporter-wrong-secret.rx.raw",
        "e-failed-login/exporter-wrong-secret.tx.raw",
        close_at_end=True,
        delay_before={"Login": 0.05},
    )
    good = Play("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")
    secret_file.write_text("wrong\n", encoding="utf-8")
    caplog.set_level(logging.DEBUG, logger="ami_exporter")
    async with (
        replay_server([wrong, wrong, wrong, wrong, good]) as server,
        running_service(server.port) as service,
    ):
        await wait_for(lambda: service.status.logins["auth_failed"] >= 3, timeout=10)
        assert not service.status.up
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "failed" in r.getMessage()]
        assert len(errors) == 1, [r.getMessage() for r in errors]
        assert "'exporter'" in errors[0].getMessage() and f"127.0.0.1:{server.port}" in errors[0].getMessage()
        secret_file.write_text("exportersecret\n", encoding="utf-8")  # re-read on the next attempt
        await wait_for(lambda: service.status.up, timeout=10)
        for record in caplog.records:
            assert "exportersecret" not in record.getMessage()
            assert "wrong" not in record.getMessage().replace("wrong secret", "")


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(0.5, 30.0)
    delays = [backoff.next_delay() for _ in range(12)]
    steps = [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30]
    for delay, step in zip(delays, steps, strict=True):
        assert step * 0.5 <= delay <= step
    # Once backed off: at most a handful of attempts a minute.
    assert 60 / min(delays[6:]) <= 4
    backoff.reset()
    assert backoff.next_delay() <= 0.5


async def test_stop_logs_off(running_service: ServiceFactory) -> None:
    async with replay_server([Play("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")]) as server:
        async with running_service(server.port) as service:
            await wait_for(lambda: service.status.ready, timeout=10)
        await asyncio.sleep(0.05)
        assert server.actions[-1]["Action"] == "Logoff"
