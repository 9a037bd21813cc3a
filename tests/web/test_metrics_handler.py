"""``MetricsHandler`` on a real aiohttp server: negotiation, ``name[]``, gzip, the shared render.

The registry here is a fixed one, so every body can be compared byte for byte with what
client_python's own encoders produce for it.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import exposition
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics import exposition as openmetrics_exposition
from prometheus_client.registry import Collector, CollectorRegistry

from ami_exporter.web.app import COMPRESS_IN_THREAD_ABOVE, MetricsHandler

P = ParamSpec("P")
T = TypeVar("T")

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
# client_python's own OpenMetrics encoder (untyped upstream).
openmetrics_latest = cast(Callable[..., bytes], openmetrics_exposition.generate_latest)


class Families(Collector):
    """Three gauge families; ``wide`` has enough series to pass the compression threshold."""

    def __init__(self, wide_series: int = 3) -> None:
        self.wide_series = wide_series
        self.collects = 0
        self.gate: threading.Event | None = None  # when set, collect() waits for it
        self.started = threading.Event()

    def collect(self) -> Iterator[Metric]:
        self.collects += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        for name in ("test_alpha", "test_beta"):
            family = GaugeMetricFamily(name, f"{name} help", labels=["queue"])
            family.add_metric(["sales"], 1.5)
            yield family
        wide = GaugeMetricFamily("test_wide", "many series", labels=["member"])
        for index in range(self.wide_series):
            wide.add_metric([f"member-{index:05d}"], float(index))
        yield wide


class RecordingExecutor(ThreadPoolExecutor):
    """The scrape thread, recording what it is asked to run."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="test-scrape")
        self.jobs: list[str] = []

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.jobs.append(getattr(fn, "__qualname__", repr(fn)))
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
async def executor() -> AsyncIterator[RecordingExecutor]:
    pool = RecordingExecutor()
    yield pool
    pool.shutdown(wait=True)


async def start(
    registry: CollectorRegistry, executor: RecordingExecutor, counter: list[int] | None = None
) -> tuple[web.AppRunner, str]:
    handler = MetricsHandler(registry, executor=executor)

    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        if counter is not None:
            counter.append(1)
        return await handler(request)

    app = web.Application(middlewares=[count])
    app.router.add_get("/metrics", handler.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}/metrics"


async def get(
    url: str, *, accept: str | None = None, encoding: str = "identity", names: tuple[str, ...] = ()
) -> tuple[dict[str, str], bytes]:
    headers = {"Accept-Encoding": encoding}
    if accept is not None:
        headers["Accept"] = accept
    params = [("name[]", name) for name in names]
    async with (
        aiohttp.ClientSession(auto_decompress=False) as http,
        http.get(url, headers=headers, params=params) as response,
    ):
        assert response.status == 200
        return dict(response.headers), await response.read()


def registry_with(families: Families) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)  # describe() makes name[] find collectors
    registry.register(families)
    return registry


async def test_formats_names_and_gzip_are_client_pythons_own(executor: RecordingExecutor) -> None:
    families = Families()
    registry = registry_with(families)
    runner, url = await start(registry, executor)
    try:
        headers, body = await get(url)
        assert headers["Content-Type"] == exposition.CONTENT_TYPE_PLAIN_0_0_4
        assert "Content-Encoding" not in headers
        assert body == exposition.generate_latest(registry)

        headers, body = await get(url, accept=OPENMETRICS, encoding="gzip")
        assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == openmetrics_latest(registry, version="1.0.0")
        assert gzip.decompress(body).endswith(b"# EOF\n")

        names = ("test_beta", "test_wide")
        headers, body = await get(url, accept=OPENMETRICS, encoding="gzip", names=names)
        text = gzip.decompress(body)
        assert text == openmetrics_latest(registry.restricted_registry(names), version="1.0.0")
        assert b"test_beta" in text and b"test_wide" in text and b"test_alpha" not in text

        headers, body = await get(url, accept="text/plain; version=1.0.0", names=("test_alpha",))
        assert headers["Content-Type"].startswith(exposition.CONTENT_TYPE_PLAIN_1_0_0)
        assert b"test_alpha" in body and b"test_beta" not in body

        headers, body = await get(url, names=("no_such_metric",))
        assert body == b""
    finally:
        await runner.cleanup()


async def test_a_large_body_is_gzipped_in_the_scrape_thread_not_on_the_loop(
    executor: RecordingExecutor,
) -> None:
    registry = registry_with(Families(wide_series=2000))
    assert len(exposition.generate_latest(registry)) > COMPRESS_IN_THREAD_ABOVE
    runner, url = await start(registry, executor)
    try:
        _, plain = await get(url)
        assert executor.jobs == ["MetricsHandler._render_sync"]  # identity: render only
        executor.jobs.clear()
        headers, body = await get(url, encoding="gzip")
        assert headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(body) == plain
        render, *compression = executor.jobs
        assert render == "MetricsHandler._render_sync"
        assert compression, "the gzip did not run in the scrape thread (before aiohttp 3.14: on the loop)"
    finally:
        await runner.cleanup()


async def test_concurrent_scrapes_of_one_format_share_one_render(executor: RecordingExecutor) -> None:
    families = Families()
    registry = registry_with(families)
    families.collects = 0  # registering described the collector by collecting it once
    families.gate = threading.Event()
    arrived: list[int] = []
    runner, url = await start(registry, executor, arrived)
    try:
        first = asyncio.ensure_future(get(url))
        await asyncio.get_running_loop().run_in_executor(None, families.started.wait, 10)
        later = [asyncio.ensure_future(get(url)) for _ in range(5)]
        other = asyncio.ensure_future(get(url, accept=OPENMETRICS))
        # The handler looks up the render in flight in the same step the middleware counts in.
        while len(arrived) < 7:  # noqa: ASYNC110 - waiting for requests to arrive, not a state
            await asyncio.sleep(0.01)
        families.gate.set()
        bodies = [body for _, body in await asyncio.gather(first, *later)]
        await other
        assert len(set(bodies)) == 1
        assert families.collects == 2  # one text render shared by six scrapes, one OpenMetrics
    finally:
        families.gate.set()
        await runner.cleanup()
