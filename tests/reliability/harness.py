"""Shared pieces of the reliability tests and the soak (``scripts/soak.py``).

* an in-process exporter (``AMIService`` + the real aiohttp app on a free loopback port);
* the exporter as a real process (``python -m ami_exporter``), for the tests where the simulator
  must not share the exporter's event loop or GIL (the writetimeout burst, the soak: a blocked
  exporter must be seen by the simulator as a client that stopped reading, as Asterisk would);
* the exposition parsed into samples, RSS from ``/proc``, recovery-time records and the
  read-only-action audit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.ami.actions import READ_ONLY_ACTIONS
from ami_exporter.collectors import build_registry
from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService, AMISettings, SecretSource
from ami_exporter.simulator import Simulator
from ami_exporter.simulator.perms import get_perm, may_run
from ami_exporter.web.app import WebSettings, build_app

from ..support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
EVENTS = "asterisk_exporter_events_total"

# -- recovery times -------------------------------------------------------------------------------

RECOVERY: dict[str, float] = {}


def record_recovery(fault: str, seconds: float) -> None:
    """Print (run pytest with -s to see it) and keep for the terminal summary."""
    RECOVERY[fault] = seconds
    print(f"RECOVERY {fault}: {seconds:.3f}s", flush=True)


# -- the read-only audit --------------------------------------------------------------------------


@dataclass
class AuditEntry:
    where: str
    user: str
    sent: list[str]  # what the exporter sent (AMIService.sent_actions)
    received: dict[str, int]  # what the simulator received from that user's sessions


AUDIT: list[AuditEntry] = []


def list_commands(simulator: Simulator, user: str) -> frozenset[str]:
    """The actions the simulator's ``ListCommands`` names for ``user``."""
    config = simulator.users[user]
    writeperm = get_perm(config.write) if config.write else 0
    return frozenset(spec.name for spec in simulator.actions.values() if may_run(writeperm, spec))


def audit(where: str, simulator: Simulator, user: str, sent: Iterable[str]) -> AuditEntry:
    """Assert that every action the exporter sent, and every action the simulator received on
    that user's sessions, is read-only and was in that user's ``ListCommands``."""
    received: dict[str, int] = {}
    for session in simulator.truth().sessions.values():
        if session.user == user:
            for name, count in session.actions.items():
                received[name] = received.get(name, 0) + count
    entry = AuditEntry(where, user, list(sent), received)
    allowed = list_commands(simulator, user)
    for name in [*entry.sent, *entry.received]:
        assert name in READ_ONLY_ACTIONS, f"{where}: sent {name}, not a read-only action"
        assert name in allowed, f"{where}: sent {name}, not in {user}'s ListCommands"
    AUDIT.append(entry)
    return entry


# -- exposition -----------------------------------------------------------------------------------


@dataclass
class Exposition:
    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Exposition:
        exposition = cls()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                exposition.samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        return exposition

    def value(self, name: str, **labels: str) -> float:
        for sample_labels, value in self.samples.get(name, []):
            if all(sample_labels.get(k) == v for k, v in labels.items()):
                return value
        raise KeyError(f"{name}{labels}")

    def by_label(self, name: str, label: str) -> dict[str, float]:
        return {sample_labels[label]: value for sample_labels, value in self.samples.get(name, [])}

    def total(self, name: str) -> float:
        return sum(value for _labels, value in self.samples.get(name, []))


async def get(url: str, timeout: float = 30.0) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.get(url) as response,
    ):
        return response.status, await response.text()


# -- processes and ports ----------------------------------------------------------------------------


def rss_bytes(pid: int | None = None) -> int:
    """VmRSS of a process (this one by default), from ``/proc/<pid>/status``."""
    path = f"/proc/{pid or 'self'}/status"
    with open(path, encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS in {path}")


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.005) -> float:
    """Poll until ``predicate()`` holds; returns the seconds it took."""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - generic poll of plain state
            await asyncio.sleep(interval)
    return time.monotonic() - started


# -- the exporter in-process --------------------------------------------------------------------------


@dataclass
class InProcess:
    service: AMIService
    url: str


@contextlib.asynccontextmanager
async def exporter_in_process(settings: AMISettings, pbx: PBX | None = None) -> AsyncIterator[InProcess]:
    """The AMI service and the real web app (whose cleanup context runs the service)."""
    service = AMIService(settings, pbx or PBX())
    registry = build_registry(service.pbx, service.status)
    app = build_app(registry, service, settings=WebSettings(ami_target=settings.address))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield InProcess(service, f"http://{host}:{port}")
    finally:
        await runner.cleanup()


def simulator_settings(simulator: Simulator, user: str = "exporter_rep", **overrides: object) -> AMISettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": simulator.port,
        "username": user,
        "secret": SecretSource(value=simulator.users[user].secret),
        "auth": "md5",
        "ping_interval": 5.0,
        "reconcile_interval": 0.2,
        "backoff_initial": 0.1,
        "backoff_max": 1.0,
        "connect_timeout": 2.0,
        "action_timeout": 5.0,
    }
    values.update(overrides)
    return AMISettings(**values)  # type: ignore[arg-type]


# -- the exporter as a process --------------------------------------------------------------------


class ExporterProcess:
    """``python -m ami_exporter`` against ``127.0.0.1:port``; logs go to a file (a full pipe
    would block the exporter)."""

    def __init__(self, process: asyncio.subprocess.Process, web_port: int, log: IO[bytes]) -> None:
        self.process = process
        self.web_port = web_port
        self.url = f"http://127.0.0.1:{web_port}"
        self._log = log

    @classmethod
    @contextlib.asynccontextmanager
    async def run(
        cls,
        ami_port: int,
        user: str,
        secret: str,
        log_path: Path,
        *,
        extra: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        launcher: Sequence[str] = ("-m", "ami_exporter"),
    ) -> AsyncIterator[ExporterProcess]:
        web_port = free_port()
        with open(log_path, "wb") as log:  # noqa: ASYNC230 - opened once, before the process
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *launcher,
                f"--ami.address=127.0.0.1:{ami_port}",
                f"--ami.username={user}",
                f"--web.listen-address=127.0.0.1:{web_port}",
                *extra,
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env={**os.environ, "AMI_EXPORTER_SECRET": secret, **(env or {})},
            )
            exporter = cls(process, web_port, log)
            try:
                yield exporter
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid

    async def scrape(self, timeout: float = 30.0) -> Exposition:
        status, text = await get(f"{self.url}/metrics", timeout)
        assert status == 200, status
        return Exposition.parse(text)

    async def wait_ready(self, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                assert self.process.returncode is None, "the exporter exited"
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    status, _ = await get(f"{self.url}/-/ready", 2.0)
                    if status == 200:
                        return
                await asyncio.sleep(0.05)

    async def caught_up(self, expected: Mapping[str, int], timeout: float = 30.0) -> Exposition:
        """Scrape until ``asterisk_exporter_events_total`` equals ``expected``; fail with the diff."""
        deadline = time.monotonic() + timeout
        while True:
            exposition = await self.scrape()
            events = {name: int(value) for name, value in exposition.by_label(EVENTS, "event").items()}
            if events == expected:
                return exposition
            if time.monotonic() > deadline:
                diff = {
                    name: (events.get(name, 0), expected.get(name, 0))
                    for name in {*events, *expected}
                    if events.get(name, 0) != expected.get(name, 0)
                }
                raise AssertionError(f"exporter events != delivered (exporter, delivered): {diff}")
            await asyncio.sleep(0.1)

    async def terminate(self, timeout: float = 5.0) -> tuple[int, float]:
        """SIGTERM; returns the exit code and the seconds it took."""
        started = time.monotonic()
        self.process.terminate()
        code = await asyncio.wait_for(self.process.wait(), timeout)
        return code, time.monotonic() - started


# -- driving the simulator as fast as the exporter reads ----------------------------------------------


def delivered_events(simulator: Simulator, user: str) -> dict[str, int]:
    """Events the simulator wrote to ``user``'s sessions (summed over sessions), by name."""
    total: dict[str, int] = {}
    for session in simulator.truth().sessions.values():
        if session.user == user:
            for name, count in session.events.items():
                total[name] = total.get(name, 0) + count
    return total


def _delivered_now(simulator: Simulator, user: str) -> int:
    return sum(sum(s.events.values()) for s in simulator.session_stats.values() if s.user == user)


async def writable(simulator: Simulator, timeout: float = 5.0) -> None:
    """Wait while any session's write buffer is above ``write_high_water``: the simulated Asterisk
    blocks in ``write()`` like the real one (its writetimeout keeps running meanwhile)."""
    high = simulator.config.write_high_water
    async with asyncio.timeout(timeout):
        while True:
            transports = [s.transport for s in list(simulator.sessions.values()) if not s.closed]
            if all(t is None or t.get_write_buffer_size() <= high for t in transports):
                return
            await asyncio.sleep(0.001)


async def drive(simulator: Simulator, user: str, events: int, step: float = 0.05) -> int:
    """Run the model's traffic in ``step`` simulated seconds until ``events`` more events were
    written to ``user``'s sessions; returns the number written."""
    start = _delivered_now(simulator, user)
    while _delivered_now(simulator, user) - start < events:
        await simulator.advance(step)
        await writable(simulator)
    return _delivered_now(simulator, user) - start
