"""The pieces of the end-to-end stack: the simulator in its own thread, real processes, Prometheus' API.

Why the simulator runs in-process, in a thread of its own: the overload test must place calls and
pause agents (``Simulator.place_call``/``pause_member``), which only the in-process API offers (the
simulator's command line has no control channel). Running it on pytest's event loop would freeze it
whenever a test blocks (HTTP calls to Prometheus, ``time.sleep``) and between tests, so it gets a
private event loop in a daemon thread; the test talks to it only through that loop
(:meth:`SimulatorThread.run`). The exporter and Prometheus are real processes, so nothing of theirs
shares a loop or a GIL with the simulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from ami_exporter.simulator import Simulator, SimulatorConfig

T = TypeVar("T")

SECRET = "exportersecret"


def require_binary(name: str) -> str:
    """The binary's path; skip without it unless CI demands it (then fail)."""
    path = shutil.which(name)
    if path is not None:
        return path
    if "1" in (
        os.environ.get("AMI_EXPORTER_REQUIRE_PROMETHEUS"),
        os.environ.get("AMI_EXPORTER_REQUIRE_PROMTOOL"),
    ):
        pytest.fail(f"{name} not found and AMI_EXPORTER_REQUIRE_PROMETHEUS/PROMTOOL=1")
    pytest.skip(f"{name} not installed (Debian: apt install prometheus)")


# --------------------------------------------------------------------------------------------------
# The simulator on a private event loop
# --------------------------------------------------------------------------------------------------


class SimulatorThread:
    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="ami-simulator", daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.sim: Simulator | None = None

    def start(self, timeout: float = 10.0) -> Simulator:
        self._thread.start()
        if not self._started.wait(timeout):
            raise TimeoutError("simulator did not start")
        if self._error is not None:
            raise self._error
        assert self.sim is not None
        return self.sim

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.sim = Simulator(self._config)
            self._loop.run_until_complete(self.sim.start(port=0))
        except BaseException as error:  # reported by start()
            self._error = error
            self._started.set()
            return
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self.sim.stop())
            self._loop.close()

    def run(self, fn: Callable[[Simulator], Coroutine[Any, Any, T]], timeout: float = 10.0) -> T:
        """Run ``await fn(sim)`` on the simulator's loop and return its result."""
        assert self.sim is not None
        sim = self.sim
        return asyncio.run_coroutine_threadsafe(fn(sim), self._loop).result(timeout)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


# --------------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------------


class Process:
    """A child process with its output in a log file; :meth:`stop` terminates, then kills."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return f"--- last lines of {self.name} log ({self.log}) ---\n" + "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


@contextlib.contextmanager
def process(name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Process]:
    proc = Process(name, argv, log, env)
    try:
        yield proc
    finally:
        proc.stop()


def exporter_argv(ami_port: int, web_port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ami_exporter",
        f"--ami.address=127.0.0.1:{ami_port}",
        "--ami.username=exporter_rep",
        f"--web.listen-address=127.0.0.1:{web_port}",
        "--ami.reconcile-interval=2s",
    ]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, proc: Process | None = None, step: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if proc is not None and not proc.alive():
            pytest.fail(
                f"{proc.name} exited ({proc.popen.returncode}) while waiting for {what}\n{proc.tail()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {timeout}s waiting for {what}" + (f"\n{proc.tail()}" if proc else "")
            )
        time.sleep(step)


# --------------------------------------------------------------------------------------------------
# Prometheus HTTP API
# --------------------------------------------------------------------------------------------------


class PromAPI:
    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        data = urllib.parse.urlencode(params).encode() if params is not None else None
        try:
            with urllib.request.urlopen(f"{self.url}{path}", data, timeout=15) as response:
                body: dict[str, Any] = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        return body

    def query(self, expr: str, at: float | None = None) -> dict[str, Any]:
        return self._call("/api/v1/query", {"query": expr, "time": f"{at or time.time():.3f}"})

    def query_range(self, expr: str, start: float, end: float, step: float) -> dict[str, Any]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}"}
        return self._call("/api/v1/query_range", params)

    def value(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """An instant query that must succeed: (labels, value) per series."""
        body = self.query(expr)
        assert body.get("status") == "success", (expr, body)
        if body["data"]["resultType"] == "scalar":
            return [({}, float(body["data"]["result"][1]))]
        return [(r["metric"], float(r["value"][1])) for r in body["data"]["result"]]

    def rules(self) -> list[dict[str, Any]]:
        body = self._call("/api/v1/rules")
        assert body.get("status") == "success", body
        groups: list[dict[str, Any]] = body["data"]["groups"]
        return groups

    def alerts(self) -> list[dict[str, Any]]:
        body = self._call("/api/v1/alerts")
        assert body.get("status") == "success", body
        alerts: list[dict[str, Any]] = body["data"]["alerts"]
        return alerts
