"""The soak: the exporter (a real ``python -m ami_exporter`` process) against the simulator for N
events with faults injected at random, then counters checked against the simulator's truth and
the exporter's RSS checked for growth. ``scripts/soak.py`` is the command line; a short run is a
CI test (``test_soak.py``).

Faults (bounded in number, at random points of the event stream): a connection dropped in the
middle of a frame (FIN: everything written before it is delivered), the full restart sequence,
and garbage plus a 2 MiB frame. Events lost in a fault are never *written* by the simulator, so
the per-session truth (what it wrote) must equal the exporter's ``asterisk_exporter_events_total``
exactly, by event name.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from ami_exporter.simulator import Simulator, SimulatorConfig

from .harness import EVENTS, ExporterProcess, audit, delivered_events, drive, rss_bytes

USER = "exporter_rep"
DISCONNECTS = "asterisk_exporter_ami_disconnects_total"
FAULT_KINDS = ("drop", "restart", "garbage")


@dataclass
class FaultRecord:
    kind: str
    at_events: int
    recovery: float  # seconds until the exporter was logged in again (garbage: until counted)


@dataclass
class SoakResult:
    events: int
    seconds: float
    faults: list[FaultRecord]
    rss_samples: list[tuple[int, int]]  # (events so far, RSS bytes)
    disconnects: dict[str, int]
    malformed: int
    scrapes: int
    scrape_failures: int
    exact: bool
    mismatch: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def rss_growth(self) -> int:
        """Peak RSS of the second half of the run minus the peak of the first half (the start
        sample excluded): a leak shows as a trend, while garbage collection and the transient
        buffers of a 2 MiB frame or a scrape make single samples jump both ways."""
        samples = [rss for _events, rss in self.rss_samples[1:]]
        if len(samples) < 2:
            return 0
        half = len(samples) // 2
        return max(samples[half:]) - max(samples[:half])

    def summary(self) -> str:
        lines = [
            f"events delivered and folded: {self.events:,} in {self.seconds:.1f}s ({self.rate:,.0f}/s)",
            f"exact per-event-name match with the simulator's truth: {self.exact}",
            f"disconnects: {self.disconnects}; malformed frames counted: {self.malformed}",
            f"scrapes during the run: {self.scrapes} ({self.scrape_failures} failed)",
            "RSS (MiB) at events: "
            + ", ".join(f"{events:,}: {rss / 2**20:.1f}" for events, rss in self.rss_samples),
            f"RSS growth (peak of 2nd half - peak of 1st half): {self.rss_growth() / 2**20:+.1f} MiB",
            "faults:",
        ]
        lines += [
            f"  {f.kind:<8} at {f.at_events:>10,} events: recovered in {f.recovery:.3f}s" for f in self.faults
        ]
        return "\n".join(lines)


def soak_config(seed: int) -> SimulatorConfig:
    return SimulatorConfig.build(
        queues=20,
        members_per_queue=10,
        call_rate=150.0,
        time_scale=0,
        seed=seed,
        patience=(5.0, 60.0),
        auth_failure_delay=0.05,
        write_high_water=64 * 1024,
        sndbuf=64 * 1024,
    )


async def _metrics(exporter: ExporterProcess) -> dict[str, float]:
    exposition = await exporter.scrape()
    return {
        "up": exposition.value("asterisk_up"),
        "logins": exposition.value("asterisk_exporter_ami_logins_total", result="success"),
        "malformed": exposition.value("asterisk_exporter_malformed_messages_total"),
    }


async def _wait_metric(
    exporter: ExporterProcess, check: str, at_least: float, timeout: float = 30.0
) -> float:
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while True:
            metrics = await _metrics(exporter)
            if metrics[check] >= at_least and metrics["up"] == 1:
                return time.monotonic() - started
            await asyncio.sleep(0.02)


async def run_soak(
    events: int, faults: int, *, seed: int = 1, log_path: Path, samples: int = 12, progress: bool = False
) -> SoakResult:
    rng = random.Random(seed)
    simulator = Simulator(soak_config(seed))
    await simulator.start(traffic=False)
    secret = simulator.users[USER].secret
    flags = ["--ami.reconcile-interval=2s", "--ami.ping-interval=2s"]
    kinds = [FAULT_KINDS[index % len(FAULT_KINDS)] for index in range(faults)]  # each kind at least once
    rng.shuffle(kinds)
    plan = sorted((int(events * rng.uniform(0.1, 0.9)), kind) for kind in kinds)
    records: list[FaultRecord] = []
    rss: list[tuple[int, int]] = []
    scrapes = failures = 0
    stop = asyncio.Event()
    try:
        async with ExporterProcess.run(simulator.port, USER, secret, log_path, extra=flags) as exporter:
            await exporter.wait_ready()

            async def scrape_loop() -> None:
                nonlocal scrapes, failures
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
                    while not stop.is_set():
                        try:
                            async with http.get(f"{exporter.url}/metrics") as response:
                                await response.read()
                                failures += response.status != 200
                        except aiohttp.ClientError:
                            failures += 1
                        scrapes += 1
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 0.5)

            scraper = asyncio.create_task(scrape_loop())
            started = time.monotonic()
            done = 0
            logins = 1.0
            malformed = 0.0
            step = max(events // samples, 1)
            simulator.model.start_traffic()
            rss.append((0, rss_bytes(exporter.pid)))
            while done < events:
                next_fault = plan[0][0] if plan else events
                next_sample = (done // step + 1) * step
                target = min(next_fault, next_sample, events)
                if target > done:
                    done += await drive(simulator, USER, target - done)
                if done >= next_sample or done >= events:
                    rss.append((done, rss_bytes(exporter.pid)))
                    if progress:
                        print(f"  {done:,} events, {time.monotonic() - started:.0f}s", flush=True)
                while plan and plan[0][0] <= done:
                    _at, kind = plan.pop(0)
                    if kind == "drop":
                        simulator.drop_mid_frame()
                        recovery = await _wait_metric(exporter, "logins", logins + 1)
                        logins += 1
                    elif kind == "restart":
                        began = time.monotonic()
                        await simulator.restart(shutdown_delay=0.02, reset_for=0.1, refuse_for=0.2)
                        simulator.model.start_traffic()
                        await _wait_metric(exporter, "logins", logins + 1)
                        recovery = time.monotonic() - began
                        logins += 1
                    else:
                        simulator.inject_garbage()
                        simulator.inject_oversized(2 * 1024 * 1024)
                        recovery = await _wait_metric(exporter, "malformed", malformed + 2)
                        malformed += 2
                    records.append(FaultRecord(kind, done, recovery))
            simulator.model.stop_traffic()
            expected = delivered_events(simulator, USER)
            mismatch: dict[str, tuple[int, int]] = {}
            try:
                final = await exporter.caught_up(expected, timeout=60)
            except AssertionError:
                final = await exporter.scrape()
                got = {k: int(v) for k, v in final.by_label(EVENTS, "event").items()}
                mismatch = {
                    name: (got.get(name, 0), expected.get(name, 0))
                    for name in {*got, *expected}
                    if got.get(name, 0) != expected.get(name, 0)
                }
            seconds = time.monotonic() - started
            rss.append((sum(expected.values()), rss_bytes(exporter.pid)))
            stop.set()
            await scraper
            audit("soak", simulator, USER, [])
            disconnects = {
                reason: int(value)
                for reason, value in final.by_label(
                    "asterisk_exporter_ami_disconnects_total", "reason"
                ).items()
                if value
            }
            code, _elapsed = await exporter.terminate()
            assert code == 0
        return SoakResult(
            events=sum(expected.values()),
            seconds=seconds,
            faults=records,
            rss_samples=rss,
            disconnects=disconnects,
            malformed=int(final.value("asterisk_exporter_malformed_messages_total")),
            scrapes=scrapes,
            scrape_failures=failures,
            exact=not mismatch,
            mismatch=mismatch,
        )
    finally:
        stop.set()
        await simulator.stop()
