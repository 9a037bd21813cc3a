"""Step 1 against real servers that are not (or not quite) what the flags say: nothing listening, a
web server, a silent server, TLS with a self-signed certificate, TLS and plain mixed up."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from ami_exporter.check.connect import classify
from ami_exporter.simulator import Simulator

from ..simulator.conftest import quiet_config
from ..support.net import free_port
from .conftest import USERS, RunCheck, self_signed_certificate

SERVER_NAME = "pbx.example.test"


@contextlib.asynccontextmanager
async def http_server() -> AsyncIterator[int]:
    """A real aiohttp server (like Asterisk's own HTTP port 8088): it speaks only when spoken to."""

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.Server)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts, reads everything, never writes a byte."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@contextlib.asynccontextmanager
async def tls_simulator(tmp_path: Path) -> AsyncIterator[tuple[Simulator, Path]]:
    cert, key = self_signed_certificate(SERVER_NAME, tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    simulator = Simulator(quiet_config(users=USERS))
    await simulator.start(traffic=False, ssl=context)
    try:
        yield simulator, cert
    finally:
        await simulator.stop()


async def test_refused_port(run_check: RunCheck) -> None:
    result = await run_check(f"--ami.address=127.0.0.1:{free_port()}")
    assert result.code == 2
    assert "FAIL  connection refused by 127.0.0.1:" in result.out
    assert "enabled = yes" in result.line("fix: in manager.conf [general]")
    assert result.line("2. Login").endswith("SKIP")


async def test_a_port_that_answers_http(run_check: RunCheck) -> None:
    async with http_server() as port:
        result = await run_check(f"--ami.address=127.0.0.1:{port}", "--ami.timeout=500ms")
    assert result.code == 2
    line = result.line("not an AMI server")
    assert "answered like a web server ('HTTP/1." in line and "400 Bad Request')" in line
    assert "8088" in result.line("fix:")


async def test_a_server_that_never_sends_a_banner(run_check: RunCheck) -> None:
    async with silent_server() as port:
        result = await run_check(f"--ami.address=127.0.0.1:{port}", "--ami.timeout=300ms")
    assert result.code == 2
    assert "accepted the connection but sent nothing within 0.3s" in result.line("FAIL  no AMI banner")


async def test_tls_self_signed_certificate_without_ca_file(run_check: RunCheck, tmp_path: Path) -> None:
    async with tls_simulator(tmp_path) as (simulator, _cert):
        result = await run_check(f"--ami.address=127.0.0.1:{simulator.port}", "--ami.tls")
    assert result.code == 2
    line = result.line("TLS: Asterisk's certificate for '127.0.0.1' is not trusted")
    assert line.endswith("self-signed certificate"), line
    assert "--ami.tls.ca-file" in result.line("fix:")


async def test_tls_self_signed_certificate_with_ca_file(run_check: RunCheck, tmp_path: Path) -> None:
    async with tls_simulator(tmp_path) as (simulator, cert):
        result = await run_check(
            f"--ami.address=127.0.0.1:{simulator.port}",
            "--ami.tls",
            f"--ami.tls.ca-file={cert}",
            f"--ami.tls.server-name={SERVER_NAME}",
            "--check.wait=200ms",
        )
    assert result.code == 0, result.out
    assert f"certificate verified for '{SERVER_NAME}'" in result.line("OK    connected to")
    assert "over TLSv1." in result.line("OK    connected to")
    assert result.line("2. Login").endswith("OK")


async def test_tls_certificate_for_another_name(run_check: RunCheck, tmp_path: Path) -> None:
    async with tls_simulator(tmp_path) as (simulator, cert):
        result = await run_check(
            f"--ami.address=127.0.0.1:{simulator.port}", "--ami.tls", f"--ami.tls.ca-file={cert}"
        )
    assert result.code == 2
    assert "mismatch" in result.line("is not trusted").lower()
    assert "--ami.tls.server-name" in result.line("fix:")


async def test_tls_insecure_skip_verify_is_a_warning(run_check: RunCheck, tmp_path: Path) -> None:
    async with tls_simulator(tmp_path) as (simulator, _cert):
        result = await run_check(
            f"--ami.address=127.0.0.1:{simulator.port}",
            "--ami.tls",
            "--ami.tls.insecure-skip-verify",
            "--check.wait=200ms",
        )
    assert result.code == 0
    assert "WITHOUT verifying" in result.line("WARN  connected to")


async def test_tls_flags_against_the_plain_port(run_check: RunCheck, sim: Simulator) -> None:
    result = await run_check(
        f"--ami.address=127.0.0.1:{sim.port}", "--ami.tls", "--ami.tls.insecure-skip-verify"
    )
    assert result.code == 2
    assert "the server does not speak TLS on this port" in result.line("FAIL  TLS handshake")


async def test_plain_flags_against_the_tls_port(run_check: RunCheck, tmp_path: Path) -> None:
    async with tls_simulator(tmp_path) as (simulator, _cert):
        result = await run_check(f"--ami.address=127.0.0.1:{simulator.port}", "--ami.timeout=300ms")
    assert result.code == 2
    assert "like a TLS port" in result.line("FAIL  no AMI banner")
    assert "--ami.tls" in result.line("fix:")


async def test_a_greeting_that_is_not_the_ami_banner(run_check: RunCheck) -> None:
    async def ssh_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        with contextlib.suppress(ConnectionError):
            await reader.read(4096)
        writer.close()

    server = await asyncio.start_server(ssh_like, "127.0.0.1", 0)
    try:
        result = await run_check(f"--ami.address=127.0.0.1:{server.sockets[0].getsockname()[1]}")
    finally:
        server.close()
    assert result.code == 2
    assert "(an SSH server)" in result.line("not an AMI server: it greeted with 'SSH-2.0-OpenSSH_9.6'")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "silent"),
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "http"),
        (b"<!DOCTYPE HTML>\n<html><body>Error 400</body></html>", "http"),
        (b"\x15\x03\x03\x00\x02\x02\x46", "tls"),
        (b"Asterisk Call Manager/11.0.0\r\n", "ami_late"),
        (b"220 mail.example.net ESMTP\r\n", "other"),
    ],
)
def test_classify_first_bytes(data: bytes, kind: str) -> None:
    assert classify(data).kind == kind


async def test_a_server_that_closes_before_the_banner(run_check: RunCheck) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        result = await run_check(f"--ami.address=127.0.0.1:{server.sockets[0].getsockname()[1]}")
    finally:
        server.close()
    assert result.code == 2
    assert result.line("FAIL  127.0.0.1:").endswith(
        "accepted the connection and closed it before any AMI banner"
    )
    assert "restarting" in result.line("fix:")
