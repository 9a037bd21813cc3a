"""The command line, run as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from .conftest import wait_for
from .support.net import free_port
from .support.replay import Play, replay_server

SECRET = "exportersecret"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ami_exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_help_lists_the_flags() -> None:
    result = run("--help")
    assert result.returncode == 0
    for flag in ("--ami.address", "--ami.secret-file", "--web.listen-address", "--web.config.file", "--demo"):
        assert flag in result.stdout
    assert "--ami.secret " not in result.stdout  # there is no flag for the secret itself


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-such-flag"], "unrecognized arguments"),
        (["--ami.ping-interval", "soon"], "invalid duration"),
        (["--ami.address", "localhost"], "invalid --ami.address"),
        (["--web.listen-address", ":99999"], "invalid port"),
        (["--log.level", "loud"], "invalid choice"),
        (["--ami.secret-file", "/nonexistent/secret"], "not readable"),
        (["--ami.tls.insecure-skip-verify"], "need --ami.tls"),
        (["--cdr.label", "source"], "invalid choice"),
        (["--queue.wrapup-time", "sales=soon"], "invalid --queue.wrapup-time"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run(*args, env={"AMI_EXPORTER_SECRET": SECRET})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ami-exporter: error:")
    assert message in lines[0]


def test_missing_secret_is_a_configuration_error() -> None:
    env = {key: value for key, value in os.environ.items() if key != "AMI_EXPORTER_SECRET"}
    result = subprocess.run(
        [sys.executable, "-m", "ami_exporter"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert "AMI_EXPORTER_SECRET" in result.stderr


async def test_sigterm_logs_off_and_exits_0_within_a_second(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    web_port = free_port()
    async with replay_server([Play("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")]) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ami_exporter",
            f"--ami.address=127.0.0.1:{server.port}",
            f"--ami.secret-file={secret_file}",
            "--ami.auth=plain",
            f"--web.listen-address=127.0.0.1:{web_port}",
            "--log.level=debug",
            stderr=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            async with aiohttp.ClientSession() as http:

                async def ready() -> bool:
                    try:
                        async with http.get(f"http://127.0.0.1:{web_port}/-/ready") as response:
                            return response.status == 200
                    except aiohttp.ClientError:
                        return False

                deadline = time.monotonic() + 20
                while not await ready():
                    assert time.monotonic() < deadline, "exporter never became ready"
                    await asyncio.sleep(0.1)
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), timeout=5)
            elapsed = time.monotonic() - started
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert code == 0
        assert elapsed < 1.0, f"took {elapsed:.2f}s to exit"
        await wait_for(lambda: any(a.get("Action") == "Logoff" for a in server.actions), timeout=2)
        assert process.stderr is not None
        logs = (await process.stderr.read()).decode()
        assert "AMI session established" in logs
        assert SECRET not in logs  # not even at debug level
