"""``--web.config.file`` is reloaded on SIGHUP: certificate rotation and new users, no restart.

The first test runs the real command line (HTTPS on 127.0.0.1, trustme certificates, bcrypt
users), rotates the certificate and the users, and sends SIGHUP; every check opens a new
connection. The second switches client-certificate authentication on by a reload, in-process.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
import trustme
import yaml
from aiohttp import web

from ami_exporter.web.reload import LiveWebConfig

from ..support.net import free_port

OLD_PASSWORD, NEW_PASSWORD = "old-scrape-password", "new-scrape-password"


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def write_pki(directory: Path, ca: trustme.CA) -> trustme.LeafCert:
    """A server certificate for 127.0.0.1 from ``ca``, written where web.yml points."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.cert_chain_pems[0].write_to_path(str(directory / "server.crt"))
    cert.private_key_pem.write_to_path(str(directory / "server.key"))
    return cert


def write_web_config(directory: Path, users: dict[str, str], **tls: Any) -> Path:
    path = directory / "web.yml"
    config = {
        "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key", **tls},
        "basic_auth_users": {name: bcrypt_hash(password) for name, password in users.items()},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def client_context(ca: trustme.CA, cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if cert is not None:
        cert.configure_cert(context)
    return context


async def status(url: str, context: ssl.SSLContext, auth: tuple[str, str] | None = None) -> int:
    """GET over a new connection (no pooling across calls)."""
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    connector = aiohttp.TCPConnector(ssl=context, force_close=True)
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.get(url, headers=headers) as response,
    ):
        await response.read()
        return response.status


async def served_certificate(port: int, context: ssl.SSLContext) -> bytes:
    """The DER certificate a new handshake presents."""
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        certificate = ssl_object.getpeercert(binary_form=True)
        assert isinstance(certificate, bytes)
        return certificate
    finally:
        writer.close()


def der(cert: trustme.LeafCert) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())


class LogReader:
    """Collects the exporter's stderr lines as they come."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode())

    async def wait_for(self, fragment: str, count: int = 1, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            matching = [line for line in self.lines if fragment in line]
            if len(matching) >= count:
                return matching[count - 1]
            assert time.monotonic() < deadline, f"no log line with {fragment!r}: {self.lines}"
            await asyncio.sleep(0.05)

    async def done(self) -> str:
        await asyncio.wait_for(self._task, 5)
        return "".join(self.lines)


async def test_sighup_rotates_the_certificate_and_the_users(tmp_path: Path) -> None:
    old_ca, new_ca = trustme.CA(), trustme.CA()
    old_cert = write_pki(tmp_path, old_ca)
    config = write_web_config(tmp_path, {"prometheus": OLD_PASSWORD})
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ami_exporter",
        "--ami.address=127.0.0.1:1",  # nothing there: the web side works regardless
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.config.file={config}",
        env={**os.environ, "AMI_EXPORTER_SECRET": "x"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    logs = LogReader(process.stderr)
    base = f"https://127.0.0.1:{port}"
    old_trust, new_trust = client_context(old_ca), client_context(new_ca)
    try:
        await logs.wait_for("serving metrics on https://")
        assert await served_certificate(port, old_trust) == der(old_cert)
        assert await status(f"{base}/metrics", old_trust, ("prometheus", OLD_PASSWORD)) == 200

        # Rotate: a certificate from another CA, a new password and a second user.
        new_cert = write_pki(tmp_path, new_ca)
        write_web_config(tmp_path, {"prometheus": NEW_PASSWORD, "grafana": OLD_PASSWORD})
        process.send_signal(signal.SIGHUP)
        await logs.wait_for("reloaded --web.config.file")
        assert await served_certificate(port, new_trust) == der(new_cert)
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await status(f"{base}/-/healthy", old_trust)  # the old chain is gone
        assert await status(f"{base}/metrics", new_trust, ("prometheus", NEW_PASSWORD)) == 200
        assert await status(f"{base}/metrics", new_trust, ("prometheus", OLD_PASSWORD)) == 401
        assert await status(f"{base}/metrics", new_trust, ("grafana", OLD_PASSWORD)) == 200

        # A broken file is refused at ERROR; everything keeps working as before it.
        config.write_text("tls_server_config: [\n", encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        error = await logs.wait_for("reloading --web.config.file failed")
        assert "level=error" in error and "invalid YAML" in error
        # So is turning TLS off, which would need other sockets.
        config.write_text(yaml.safe_dump({"basic_auth_users": {"x": bcrypt_hash("y")}}), encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        await logs.wait_for("turning TLS on or off needs a restart")
        assert await served_certificate(port, new_trust) == der(new_cert)
        assert await status(f"{base}/metrics", new_trust, ("prometheus", NEW_PASSWORD)) == 200
        assert await status(f"{base}/metrics", new_trust, ("x", "y")) == 401
        assert process.returncode is None
    finally:
        if process.returncode is None:
            process.terminate()
        code = await asyncio.wait_for(process.wait(), 5)
    assert code == 0
    text = await logs.done()
    assert OLD_PASSWORD not in text and NEW_PASSWORD not in text
    assert text.count("reloaded --web.config.file") == 1


@asynccontextmanager
async def serve(live: LiveWebConfig) -> AsyncIterator[int]:
    async def ok(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application(middlewares=[live.middleware()])
    app.router.add_get("/metrics", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=live.ssl_context).start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
        live.close()


async def test_a_reload_can_require_client_certificates(tmp_path: Path) -> None:
    server_ca, client_ca = trustme.CA(), trustme.CA()
    write_pki(tmp_path, server_ca)
    client_ca.cert_pem.write_to_path(str(tmp_path / "clients.crt"))
    client_cert = client_ca.issue_cert("prometheus.example.org")
    config = write_web_config(tmp_path, {"prometheus": OLD_PASSWORD})
    live = LiveWebConfig(config)
    async with serve(live) as port:
        url = f"https://127.0.0.1:{port}/metrics"
        anonymous = client_context(server_ca)
        assert await status(url, anonymous, ("prometheus", OLD_PASSWORD)) == 200
        write_web_config(
            tmp_path,
            {"prometheus": OLD_PASSWORD},
            client_auth_type="RequireAndVerifyClientCert",
            client_ca_file="clients.crt",
            client_allowed_sans=["prometheus.example.org"],
            min_version="TLS13",
        )
        assert await live.reload()
        assert live.config.tls is not None and live.config.tls.client_allowed_sans
        with pytest.raises(aiohttp.ClientError):
            await status(url, anonymous, ("prometheus", OLD_PASSWORD))
        with_cert = client_context(server_ca, client_cert)
        assert await status(url, with_cert, ("prometheus", OLD_PASSWORD)) == 200
        tls12_only = client_context(server_ca, client_cert)
        tls12_only.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(aiohttp.ClientError):
            await status(url, tls12_only, ("prometheus", OLD_PASSWORD))
