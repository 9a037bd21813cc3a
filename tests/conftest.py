"""Shared fixtures: a running AMIService against a server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService, AMISettings, Backoff, SecretSource


def make_settings(port: int, secret_file: Path, **overrides: object) -> AMISettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "exporter",
        "secret": SecretSource(file=secret_file),
        "auth": "plain",
        "ping_interval": 30.0,
        "reconcile_interval": 0.05,
        "backoff_initial": 0.05,
        "backoff_max": 0.2,
        "connect_timeout": 2.0,
        "action_timeout": 5.0,
    }
    values.update(overrides)
    return AMISettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "ami-secret"
    path.write_text("exportersecret\n", encoding="utf-8")
    return path


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[AMIService]]


@pytest.fixture
def running_service(secret_file: Path) -> ServiceFactory:
    @contextlib.asynccontextmanager
    async def start(
        port: int, *, pbx: PBX | None = None, backoff: Backoff | None = None, **overrides: object
    ) -> AsyncIterator[AMIService]:
        settings = make_settings(port, secret_file, **overrides)
        service = AMIService(settings, pbx or PBX(), backoff=backoff)
        task = asyncio.create_task(service.run())
        try:
            yield service
        finally:
            await service.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return start


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01) -> None:
    """Poll until ``predicate()`` holds; fail the test with a clear message otherwise."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - generic poll of plain state
            await asyncio.sleep(interval)
