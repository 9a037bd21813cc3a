"""The AMI secret: one newline rule for both sources, and never a secret in a log or an exception.

The service tests run the real reconnect loop against the simulator over TCP and capture every
log record of every logger at DEBUG.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ami_exporter.collectors import build_registry
from ami_exporter.pbx import PBX
from ami_exporter.secret import SECRET_ENV, SecretError, SecretSource
from ami_exporter.service import AMIService
from ami_exporter.simulator import Simulator, SimulatorConfig

from .conftest import make_settings, wait_for

# Two distinctive halves: a log may quote either side of the line break (or its repr).
HEAD, TAIL = "hunter2-top", "zebra-tail"


# -- SecretSource -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("exportersecret", "exportersecret"),
        ("exportersecret\n", "exportersecret"),
        ("exportersecret\r\n", "exportersecret"),
        ("", ""),
    ],
)
def test_one_trailing_newline_is_removed_from_either_source(
    raw: str, secret: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, raw)
    assert SecretSource().read() == secret
    path = tmp_path / "secret"
    path.write_bytes(raw.encode())
    assert SecretSource(file=path).read() == secret


@pytest.mark.parametrize(
    "raw", [f"{HEAD}\n{TAIL}", f"{HEAD}\r{TAIL}", f"{HEAD}{TAIL}\n\n", f"{HEAD}\r\n\r\n"]
)
def test_a_secret_with_another_line_break_is_an_error_that_does_not_quote_it(
    raw: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, raw)
    path = tmp_path / "secret"
    path.write_bytes(raw.encode())
    for source, origin in ((SecretSource(), SECRET_ENV), (SecretSource(file=path), str(path))):
        with pytest.raises(SecretError, match="contains a line break") as raised:
            source.read()
        assert origin in str(raised.value)
        assert HEAD not in str(raised.value) and TAIL not in str(raised.value)


def test_a_secret_file_that_is_not_utf8_is_sent_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_bytes(b"caf\xe9\n")  # Latin-1: Asterisk compares bytes, so must we
    secret = SecretSource(file=path).read()
    assert secret.encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_the_repr_hides_the_value() -> None:
    assert HEAD not in repr(SecretSource(value=HEAD))


# -- the service ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running(simulator: Simulator, auth: str, tmp_path: Path) -> AsyncIterator[AMIService]:
    settings = make_settings(simulator.port, tmp_path / "unused", secret=SecretSource(), auth=auth)
    service = AMIService(settings, PBX())
    task = asyncio.create_task(service.run())
    try:
        yield service
        assert not task.done(), "the service loop ended"
    finally:
        await service.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig(time_scale=0, auth_failure_delay=0.0))
    await sim.start(traffic=False)
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.mark.parametrize("auth", ["plain", "md5"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
async def test_an_env_secret_with_a_trailing_newline_logs_in(
    auth: str,
    newline: str,
    simulator: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # e.g. a Kubernetes secret created from a file that ends in a newline.
    monkeypatch.setenv(SECRET_ENV, "exportersecret" + newline)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="ami_exporter")  # whatever an earlier test left
    async with running(simulator, auth, tmp_path) as service:
        await wait_for(lambda: service.status.up, timeout=10)
    assert service.status.logins["success"] >= 1
    assert "exportersecret" not in caplog.text


@pytest.mark.parametrize("auth", ["plain", "auto", "md5"])
async def test_a_secret_that_cannot_be_sent_is_never_logged_and_the_service_keeps_running(
    auth: str,
    simulator: Simulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(SECRET_ENV, f"{HEAD}\n{TAIL}")
    caplog.set_level(logging.DEBUG)  # every logger, every level
    caplog.set_level(logging.DEBUG, logger="ami_exporter")  # whatever an earlier test left
    async with running(simulator, auth, tmp_path) as service:
        registry = build_registry(service.pbx, service.status)
        # Several attempts: before the fix each one reached the codec (and the log) again.
        await wait_for(lambda: service.status.logins["error"] + len(simulator.session_stats) >= 3, timeout=10)
        assert registry.get_sample_value("asterisk_up") == 0
    for record in caplog.records:
        for text in (record.getMessage(), repr(record.args), caplog.handler.format(record)):
            assert HEAD not in text and TAIL not in text, record.getMessage()
    assert HEAD not in caplog.text and TAIL not in caplog.text
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"the AMI secret from {SECRET_ENV} contains a line break (only one trailing newline is removed); "
        "the AMI cannot carry it; retrying with backoff"
    ]
    assert simulator.session_stats == {}  # nothing was sent to Asterisk at all
