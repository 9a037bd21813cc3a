"""Fault 7 (hostile and many scrapers, a scrape during a reconnect) and fault 8 (SIGTERM) against
the simulator, with the real aiohttp app."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ami_exporter.simulator import Simulator, SimulatorConfig

from .harness import (
    ExporterProcess,
    Exposition,
    audit,
    delivered_events,
    drive,
    exporter_in_process,
    get,
    record_recovery,
    simulator_settings,
    wait_until,
)

USER = "exporter_rep"


@pytest.fixture
async def sizeable() -> AsyncIterator[Simulator]:
    """50 queues x 20 members: an exposition of a few MB, far larger than socket buffers."""
    config = SimulatorConfig.build(
        queues=50, members_per_queue=20, call_rate=100.0, time_scale=0, seed=9, patience=(5.0, 60.0)
    )
    simulator = Simulator(config)
    await simulator.start(traffic=False)
    try:
        yield simulator
    finally:
        await simulator.stop()


async def test_stuck_scraper_and_100_concurrent_scrapes_never_block_the_reader(
    sizeable: Simulator, tmp_path: Path
) -> None:
    """The exporter runs as a process, so that the simulator's writetimeout (nothing drained for
    100 ms while its buffer is above the high-water mark) measures exactly whether the event
    reader was ever blocked while a stuck scraper holds a connection and 100 scrapes run."""
    simulator = sizeable
    secret = simulator.users[USER].secret
    flags = ["--ami.reconcile-interval=1s"]
    async with ExporterProcess.run(simulator.port, USER, secret, tmp_path / "log", extra=flags) as exporter:
        await exporter.wait_ready()
        # A scraper that sends a request and never reads the answer.
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", exporter.web_port))
        stuck.sendall(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nAccept-Encoding: identity\r\n\r\n")
        simulator.model.start_traffic()
        statuses: list[int] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as http:

            async def scrape() -> None:
                async with http.get(f"{exporter.url}/metrics") as response:
                    await response.read()
                    statuses.append(response.status)

            started = time.monotonic()
            burst = asyncio.gather(*(scrape() for _ in range(100)))
            written = await drive(simulator, USER, 30_000)
            await burst
            scraped = time.monotonic() - started
        simulator.model.stop_traffic()
        stuck.close()
        record_recovery("7. 100 concurrent scrapes + stuck scraper (all answered)", scraped)
        assert statuses == [200] * 100
        sessions = [s for s in simulator.truth().sessions.values() if s.user == USER]
        worst = max(s.longest_stall for s in sessions)
        print(f"scrapers: {written} events meanwhile; longest reader stall {worst * 1000:.0f} ms")
        final = await exporter.scrape()
        assert final.value("asterisk_up") == 1
        # Concurrent identical scrapes share one render (web/app.py), so 100 of them cost one
        # exposition and the reader is never dropped by the 100 ms writetimeout.
        (session,) = sessions
        await exporter.caught_up(delivered_events(simulator, USER))
        assert session.open and session.close_reason is None
        assert session.longest_stall < 0.1
        assert final.total("asterisk_exporter_ami_disconnects_total") == 0
    audit("scrapers", simulator, USER, [])


async def test_scrape_during_a_reconnect_is_answered(sizeable: Simulator) -> None:
    simulator = sizeable
    async with exporter_in_process(simulator_settings(simulator, backoff_initial=0.1)) as exporter:
        status = exporter.service.status
        await wait_until(lambda: status.ready)
        restart = asyncio.create_task(simulator.restart(reset_for=0.3, refuse_for=0.5))
        await wait_until(lambda: not status.up, timeout=5)
        started = time.monotonic()
        code, text = await get(f"{exporter.url}/metrics")
        answered = time.monotonic() - started
        assert code == 200
        exposition = Exposition.parse(text)
        assert exposition.value("asterisk_up") == 0
        assert exposition.value("asterisk_exporter_ami_disconnects_total", reason="shutdown") == 1
        # The model is kept (counters go on), but a PBX we cannot see has no live gauges.
        assert "asterisk_queue_member_status" not in exposition.samples
        assert "asterisk_queue_callers" not in exposition.samples
        assert len(exposition.samples["asterisk_queue_caller_joins_total"]) == 50  # one per queue
        assert (await get(f"{exporter.url}/-/ready"))[0] == 503
        record_recovery("7. scrape while reconnecting: answer time", answered)
        await restart
        await wait_until(lambda: status.up and status.ready, timeout=10)
        code, text = await get(f"{exporter.url}/metrics")
        assert len(Exposition.parse(text).samples["asterisk_queue_member_status"]) == 1000
    audit("scrape during reconnect", simulator, USER, exporter.service.sent_actions)


async def test_sigterm_logs_off_and_exits_0_within_a_second(sizeable: Simulator, tmp_path: Path) -> None:
    simulator = sizeable
    secret = simulator.users[USER].secret
    async with ExporterProcess.run(simulator.port, USER, secret, tmp_path / "exporter.log") as exporter:
        await exporter.wait_ready()
        code, elapsed = await exporter.terminate()
    record_recovery("8. SIGTERM -> exit", elapsed)
    assert code == 0
    assert elapsed < 1.0, elapsed
    (session,) = [s for s in simulator.truth().sessions.values() if s.user == USER]
    assert session.actions.get("Logoff") == 1
    assert session.close_reason == "logoff"
    audit("sigterm", simulator, USER, [])
