"""``--web.config.file`` through the real command line: HTTPS and basic auth on /metrics."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import bcrypt
import trustme
import yaml

from ..support.net import free_port


def write_web_config(directory: Path) -> tuple[Path, trustme.CA]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    config = {
        "tls_server_config": {"cert_file": str(cert_file), "key_file": str(key_file)},
        "basic_auth_users": {"prometheus": bcrypt.hashpw(b"scrape-me", bcrypt.gensalt(rounds=4)).decode()},
    }
    path = directory / "web.yml"
    path.write_text(yaml.safe_dump(config))
    return path, ca


async def test_https_and_basic_auth_from_the_command_line(tmp_path: Path) -> None:
    config, ca = write_web_config(tmp_path)
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ami_exporter",
        "--ami.address=127.0.0.1:1",  # nothing there: the web side must work regardless
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.config.file={config}",
        env={**os.environ, "AMI_EXPORTER_SECRET": "x"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    url = f"https://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_context)) as http:
            deadline = time.monotonic() + 20
            while True:
                try:
                    async with http.get(f"{url}/-/healthy") as response:
                        assert response.status == 200  # exempt from auth, for health checks
                        break
                except aiohttp.ClientConnectionError:
                    assert time.monotonic() < deadline, "exporter never listened"
                    await asyncio.sleep(0.1)
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 401
                assert response.headers["WWW-Authenticate"].startswith("Basic")
            wrong = {"Authorization": aiohttp.encode_basic_auth("prometheus", "guess")}
            async with http.get(f"{url}/metrics", headers=wrong) as response:
                assert response.status == 401
            right = {"Authorization": aiohttp.encode_basic_auth("prometheus", "scrape-me")}
            async with http.get(f"{url}/metrics", headers=right) as response:
                assert response.status == 200
                assert "asterisk_up 0.0" in await response.text()
        # Plain HTTP to the TLS port is refused.
        async with aiohttp.ClientSession() as http:
            try:
                async with http.get(f"http://127.0.0.1:{port}/-/healthy") as response:
                    plain_status = response.status
            except aiohttp.ClientError:
                plain_status = None
            assert plain_status != 200
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 5)
    assert process.stderr is not None
    logs = (await process.stderr.read()).decode()
    assert "serving metrics on https://" in logs
    assert "scrape-me" not in logs


def test_a_bad_web_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text(
        "tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\nbogus: 1\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "ami_exporter", f"--web.config.file={config}"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "AMI_EXPORTER_SECRET": "x"},
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ami-exporter: error: --web.config.file:")
