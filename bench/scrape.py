"""Benchmark 2: a ``/metrics`` scrape at call-centre scale, against prometheus_client's own floor.

The model (``bench.model``): 200 queues x 50 members, 500 waiting callers, 5,000 channels. The
app is the real one (``build_registry`` + ``build_app``, rendering in its worker thread) served
by aiohttp on 127.0.0.1; the scraper is a separate process (``http.client``, one keep-alive
connection), so that its parsing does not run on the exporter's event loop. Each scrape is timed
from request to last body byte.

The floor of each variant: every metric family the registry yields, collected once into a static
collector, and the encoder that the app negotiates for the variant's ``Accept`` (prometheus_client's
``choose_encoder``: ``generate_latest`` for text, the OpenMetrics ``generate_latest``) timed over
it, plus gzip at aiohttp's level for the gzip variants - what prometheus_client itself needs to
render the same families, without collection and without serving. Each variant's GET median is
reported as a ratio to its own floor.

Run: ``python -m bench.scrape`` (``--repeats 50 --other-repeats 10``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import http.client
import logging
import multiprocessing
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService, AMISettings, ConnectionStatus
from ami_exporter.web.app import build_app

from .common import machine, median, p95, print_table
from .model import FULL, Scale, build_pbx, check

TEXT = "text/plain"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
PROMETHEUS_ACCEPT = f"{OPENMETRICS};q=0.5,{TEXT};version=0.0.4;q=0.4,*/*;q=0.1"


@dataclass(frozen=True)
class Variant:
    name: str
    accept: str
    gzip: bool


VARIANTS = (
    Variant("text", TEXT, False),
    Variant("text+gzip", TEXT, True),
    Variant("openmetrics", PROMETHEUS_ACCEPT, False),
    Variant("openmetrics+gzip", PROMETHEUS_ACCEPT, True),
)


# -- the exporter side -------------------------------------------------------------------------


# The model stands for a connected, reconciled PBX: its live-state gauges are exported.
LIVE = ConnectionStatus(up=True, ready=True)


def idle_service(pbx: PBX) -> AMIService:
    """An AMIService that the app starts and stops but that never reaches an Asterisk (nothing
    listens on port 9 of the loopback; its first retry is an hour away)."""
    logging.getLogger("ami_exporter").setLevel(logging.CRITICAL)
    return AMIService(AMISettings(port=9, backoff_initial=3600, backoff_max=3600, connect_timeout=1), pbx)


@contextlib.asynccontextmanager
async def serve(pbx: PBX, *, members: bool) -> AsyncIterator[int]:
    """The real app over the model on 127.0.0.1; yields its port."""
    registry = build_registry(pbx, LIVE, CollectorOptions(queue_members=members))
    app = build_app(registry, idle_service(pbx))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()


# -- the scraper process ---------------------------------------------------------------------


def scrape_many(port: int, variant: Variant, count: int) -> list[tuple[float, int]]:
    """``count`` scrapes back to back on one connection: (seconds, body bytes on the wire)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Accept": variant.accept}
    if variant.gzip:
        headers["Accept-Encoding"] = "gzip"
    results = []
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", "/metrics", headers=headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"/metrics answered {response.status}")
        results.append((elapsed, len(body)))
    connection.close()
    return results


def _scraper(port: int, variant: Variant, count: int, pipe: multiprocessing.connection.Connection) -> None:
    pipe.send(scrape_many(port, variant, count))
    pipe.close()


async def scrape_in_process(port: int, variant: Variant, count: int) -> list[tuple[float, int]]:
    """Run :func:`scrape_many` in a spawned process and wait for it without blocking the loop."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_scraper, args=(port, variant, count, sender))
    process.start()
    sender.close()
    try:
        loop = asyncio.get_running_loop()
        results: list[tuple[float, int]] = await loop.run_in_executor(None, receiver.recv)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, process.join)
    return results


# -- the floor ---------------------------------------------------------------------------------


class StaticCollector(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def gzip_body(body: bytes) -> bytes:
    """What aiohttp sends for ``Accept-Encoding: gzip``: zlib's default level, gzip framing."""
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def floor(pbx: PBX, *, members: bool, repeats: int) -> dict[str, list[float]]:
    """prometheus_client rendering the same families, prebuilt, per variant (its negotiated
    encoder, gzip for the gzip variants); and ``collect()`` alone. Also the series count."""
    registry = build_registry(pbx, LIVE, CollectorOptions(queue_members=members))
    static = CollectorRegistry(auto_describe=False)
    families = list(registry.collect())
    static.register(StaticCollector(families))
    times: dict[str, list[float]] = {variant.name: [] for variant in VARIANTS}
    times["collect"] = []
    times["series"] = [float(sum(len(family.samples) for family in families))]
    for _ in range(repeats):
        for variant in VARIANTS:
            encoder, _content_type = choose_encoder(variant.accept)
            with paused_gc():
                started = time.perf_counter()
                body = encoder(static)
                if variant.gzip:
                    gzip_body(body)
                times[variant.name].append(time.perf_counter() - started)
        with paused_gc():
            started = time.perf_counter()
            list(registry.collect())
            times["collect"].append(time.perf_counter() - started)
    return times


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The app renders with the cyclic collector paused (``web.app.GCPause``); so does the floor,
    else its collections would count against prometheus_client and flatter the ratios."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# -- report ------------------------------------------------------------------------------------


@dataclass
class Measured:
    members: bool
    floor: dict[str, list[float]]
    scrapes: dict[str, list[tuple[float, int]]]


async def measure(scale: Scale, repeats: int, other_repeats: int) -> list[Measured]:
    pbx = build_pbx(scale)
    check(pbx, scale)
    measured = []
    for members in (True, False):
        scrapes: dict[str, list[tuple[float, int]]] = {}
        async with serve(pbx, members=members) as port:
            for variant in VARIANTS:
                count = repeats if variant.name == "text" else other_repeats
                scrapes[variant.name] = await scrape_in_process(port, variant, count)
        measured.append(
            Measured(members, floor(pbx, members=members, repeats=max(5, other_repeats)), scrapes)
        )
    return measured


def report(measured: list[Measured], scale: Scale) -> None:
    rows: list[tuple[object, ...]] = []
    for result in measured:
        members = "on" if result.members else "off"
        series = int(result.floor["series"][0])
        rows.append(
            (
                f"members {members}: collect() only ({series:,} series)",
                median(result.floor["collect"]) * 1e3,
                "",
                "",
                "",
            )
        )
        for name, samples in result.scrapes.items():
            floor_seconds = median(result.floor[name])
            rows.append(
                (f"members {members}: prometheus_client floor, {name}", floor_seconds * 1e3, "", "", "1.00x")
            )
            seconds = [s for s, _ in samples]
            rows.append(
                (
                    f"members {members}: GET /metrics {name} (n={len(seconds)})",
                    median(seconds) * 1e3,
                    p95(seconds) * 1e3,
                    f"{samples[-1][1] / 1e6:.2f} MB",
                    f"{median(seconds) / floor_seconds:.2f}x",
                )
            )
    print_table(
        f"Scrape: {scale.queues} queues x {scale.members_per_queue} members, {scale.callers} callers, "
        f"{scale.channels} channels; {machine()}",
        ("what", "median ms", "p95 ms", "size", "vs floor"),
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50, help="scrapes of the text variant")
    parser.add_argument("--other-repeats", type=int, default=10, help="scrapes of the other variants")
    args = parser.parse_args(argv)
    report(asyncio.run(measure(FULL, args.repeats, args.other_repeats)), FULL)


if __name__ == "__main__":
    main()
