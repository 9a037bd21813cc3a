"""The aiohttp application: ``/metrics``, the landing page and the health endpoints.

Exposition comes from client_python's public API: ``choose_encoder`` negotiates the format from
``Accept`` (text 0.0.4 or 1.0.0, OpenMetrics) and ``restricted_registry`` serves ``name[]``
filters; aiohttp negotiates gzip/deflate from ``Accept-Encoding``. A large exposition (10,000
queue members) takes long enough to render that it would delay the AMI reader, so it runs in a
worker thread: collectors only read the model (mutated on the loop thread alone) and copy each
container with ``list()``/``dict()`` first, which is atomic under the GIL. A scrape sees each
value as of some instant during the render, never a torn container.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import html
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry

from .. import __version__
from ..service import AMIService, ConnectionStatus

SERVICE_KEY = web.AppKey("ami_service", AMIService)
STATUS_KEY = web.AppKey("connection_status", ConnectionStatus)

# Bodies larger than this are compressed in the scrape thread, not on the loop: a few hundred
# kilobytes of exposition take milliseconds to gzip, as long as Asterisk's writetimeout allows the
# AMI reader to stall. aiohttp before 3.14 compressed every body on the loop unless told this.
COMPRESS_IN_THREAD_ABOVE = 16 * 1024


@dataclass(frozen=True, slots=True)
class WebSettings:
    telemetry_path: str = "/metrics"
    ami_target: str = ""
    render_in_thread: bool = True


class GCPause:
    """Suspends the cyclic garbage collector while scrapes render.

    A large scrape allocates a few hundred thousand short-lived objects (samples, label dicts);
    they survive long enough to be promoted and trigger full collections, each of which holds the
    GIL for tens of milliseconds and freezes the AMI reader on the loop thread. The objects form
    no cycles and are freed by reference counting when the render ends, so pausing the collector
    for the render loses nothing: the allocation counters fall back as they are freed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._renders = 0
        self._reenable = False

    def __enter__(self) -> None:
        with self._lock:
            if self._renders == 0:
                self._reenable = gc.isenabled()
                gc.disable()
            self._renders += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._renders -= 1
            if self._renders == 0 and self._reenable:
                gc.enable()


Encoder = Callable[[Collector], bytes]
# What a render depends on: the negotiated content type (which fixes the encoder) and the names.
_RenderKey = tuple[str, tuple[str, ...] | None]


class MetricsHandler:
    """Renders the registry off the event loop, one render at a time.

    Concurrent scrapes that ask for the same thing (same negotiated format and ``name[]`` set)
    share one render: 100 scrapers arriving together cost one exposition, not 100 threads
    competing with the AMI reader for the GIL. Each request still gets its own response,
    compressed per its own ``Accept-Encoding`` (large bodies in the same worker thread). A scrape
    that joins a render in progress sees data at most one render old. With ``executor=None``
    everything runs on the loop (tests and benchmarks only)."""

    def __init__(self, registry: CollectorRegistry, *, executor: Executor | None) -> None:
        self._registry = registry
        self._executor = executor
        self._gc_pause = GCPause()
        self._in_flight: dict[_RenderKey, asyncio.Future[bytes]] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        encoder, content_type = choose_encoder(",".join(request.headers.getall(hdrs.ACCEPT, [])))
        names = tuple(sorted(set(request.query.getall("name[]")))) if "name[]" in request.query else None
        key = (content_type, names)
        render = self._in_flight.get(key)
        if render is None:
            render = asyncio.ensure_future(self._render(encoder, names))
            self._in_flight[key] = render
            render.add_done_callback(lambda done: self._forget(key, done))
        body = await asyncio.shield(render)
        response = web.Response(
            body=body,
            headers={hdrs.CONTENT_TYPE: content_type},
            zlib_executor_size=COMPRESS_IN_THREAD_ABOVE,
            zlib_executor=self._executor,
        )
        response.enable_compression()
        return response

    def _forget(self, key: _RenderKey, done: asyncio.Future[bytes]) -> None:
        if self._in_flight.get(key) is done:
            del self._in_flight[key]

    async def _render(self, encoder: Encoder, names: tuple[str, ...] | None) -> bytes:
        if self._executor is None:
            return self._render_sync(encoder, names)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._render_sync, encoder, names)

    def _render_sync(self, encoder: Encoder, names: tuple[str, ...] | None) -> bytes:
        registry: Collector = self._registry
        if names is not None:
            # A RestrictedRegistry has the collect() every encoder calls; it is not typed a Collector.
            registry = cast(Collector, self._registry.restricted_registry(names))
        with self._gc_pause:
            return encoder(registry)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def build_app(
    registry: CollectorRegistry,
    service: AMIService,
    *,
    settings: WebSettings | None = None,
    middlewares: Iterable[Middleware] = (),
) -> web.Application:
    settings = settings or WebSettings()
    app = web.Application(middlewares=list(middlewares))
    app[SERVICE_KEY] = service
    app[STATUS_KEY] = service.status
    executor = (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="scrape") if settings.render_in_thread else None
    )
    metrics = MetricsHandler(registry, executor=executor)
    app.router.add_get(settings.telemetry_path, metrics.handle)
    app.router.add_get("/", _landing_page(settings))
    app.router.add_get("/-/healthy", _healthy)
    app.router.add_get("/-/ready", _ready)
    app.cleanup_ctx.append(_ami_session(service))
    app.on_cleanup.append(_close_handler(metrics))
    return app


def _ami_session(service: AMIService) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(service.run(), name="ami-service")
        yield
        await service.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context


def _close_handler(metrics: MetricsHandler) -> Callable[[web.Application], Awaitable[None]]:
    async def close(app: web.Application) -> None:
        metrics.close()

    return close


async def _healthy(request: web.Request) -> web.Response:
    return web.Response(text="Healthy\n")


async def _ready(request: web.Request) -> web.Response:
    status = request.app[STATUS_KEY]
    if status.up and status.ready:
        return web.Response(text="Ready\n")
    reason = "AMI not logged in" if not status.up else "first reconcile not finished"
    return web.Response(status=503, text=f"Not ready: {reason}\n")


def _landing_page(settings: WebSettings) -> Handler:
    path = html.escape(settings.telemetry_path)
    target = html.escape(settings.ami_target or "not configured")
    body = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Asterisk AMI Exporter</title></head>
<body>
<h1>Asterisk AMI Exporter</h1>
<p>Prometheus exporter for the Asterisk PBX: queues, agents, channels, CDR and security events
from a read-only AMI session.</p>
<p>Version: {html.escape(__version__)}<br>AMI target: {target}</p>
<ul>
<li><a href="{path}">Metrics</a></li>
<li><a href="/-/healthy">Health</a></li>
<li><a href="/-/ready">Readiness</a></li>
</ul>
</body>
</html>
"""

    async def landing(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type="text/html")

    return landing
