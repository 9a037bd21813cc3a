"""The aiohttp app on a real socket, with the AMI service against a replay server."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.collectors import build_registry
from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService
from ami_exporter.web.app import WebSettings, build_app

from ..conftest import make_settings, wait_for
from ..support.replay import Play, ReplayServer, replay_server

B_SCENARIO = Play("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")


async def serve(service: AMIService, settings: WebSettings | None = None) -> tuple[web.AppRunner, str]:
    app = build_app(build_registry(service.pbx, service.status), service, settings=settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def live(secret_file: Path) -> AsyncIterator[tuple[str, AMIService, ReplayServer]]:
    async with replay_server([B_SCENARIO]) as server:
        service = AMIService(make_settings(server.port, secret_file), PBX())
        runner, url = await serve(service, WebSettings(ami_target=f"127.0.0.1:{server.port}"))
        try:
            await wait_for(lambda: service.status.ready, timeout=10)
            yield url, service, server
        finally:
            await runner.cleanup()


async def test_metrics_ready_and_landing(live: tuple[str, AMIService, ReplayServer]) -> None:
    url, _service, server = live
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await response.text()
        families = {family.name: family for family in text_string_to_metric_families(text)}
        assert families["asterisk_up"].samples[0].value == 1
        assert {s.labels["queue"] for s in families["asterisk_queue_callers"].samples} == {
            "sales",
            "support",
            "billing",
        }
        assert "process_resident_memory_bytes" in text
        async with http.get(f"{url}/-/ready") as response:
            assert response.status == 200
        async with http.get(f"{url}/-/healthy") as response:
            assert response.status == 200
        async with http.get(f"{url}/") as response:
            page = await response.text()
            assert response.status == 200
            assert 'href="/metrics"' in page
            assert f"127.0.0.1:{server.port}" in page
            assert "exportersecret" not in page


async def test_openmetrics_gzip_and_name_filter(live: tuple[str, AMIService, ReplayServer]) -> None:
    url, _service, _server = live
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        headers = {"Accept": "application/openmetrics-text; version=1.0.0", "Accept-Encoding": "gzip"}
        async with http.get(f"{url}/metrics", headers=headers) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            assert response.headers["Content-Encoding"] == "gzip"
            body = gzip.decompress(await response.read()).decode()
            assert body.endswith("# EOF\n")
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{url}/metrics", params=[("name[]", "asterisk_up"), ("name[]", "asterisk_info")]
        ) as response,
    ):
        text = await response.text()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names == {"asterisk_up", "asterisk_info"}


async def test_scrape_answers_200_while_ami_is_down(secret_file: Path) -> None:
    # Nothing listens on this port: the service keeps retrying, the web side keeps answering.
    async with replay_server([B_SCENARIO]) as server:
        port = server.port
    service = AMIService(make_settings(port, secret_file), PBX())
    runner, url = await serve(service)
    try:
        await wait_for(lambda: service.status.logins["error"] >= 2, timeout=10)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 200
                text = await response.text()
            async with http.get(f"{url}/-/ready") as response:
                assert response.status == 503
            async with http.get(f"{url}/-/healthy") as response:
                assert response.status == 200
        assert "asterisk_up 0.0" in text
    finally:
        await runner.cleanup()


async def test_concurrent_scrapes_do_not_block_the_loop(live: tuple[str, AMIService, ReplayServer]) -> None:
    url, _service, _server = live
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    try:
        async with aiohttp.ClientSession() as http:

            async def scrape() -> int:
                async with http.get(f"{url}/metrics") as response:
                    await response.read()
                    return response.status

            statuses = await asyncio.gather(*(scrape() for _ in range(100)))
    finally:
        beat.cancel()
    assert statuses == [200] * 100
    assert ticks > 0


async def test_custom_telemetry_path(secret_file: Path) -> None:
    service = AMIService(make_settings(1, secret_file), PBX())
    runner, url = await serve(service, WebSettings(telemetry_path="/probe"))
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/probe") as response:
                assert response.status == 200
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 404
    finally:
        await runner.cleanup()
