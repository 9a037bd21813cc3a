"""Every environment variable the command line reads, through the real entry point; and the flags
that shape the model (wrap-up times, the pause reason cap), parsed in process.

An environment value goes through exactly the validation of its flag: valid values (named choices
in any case) are used, invalid ones stop start-up with one line that names the variable and exit
status 2. Two exporter processes run against the simulator with every variable set to a valid,
non-default value and prove each one took effect.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from ami_exporter.config import ENV_OPTIONS, ENV_PREFIX, ConfigError, parse_args, parse_wrapup_times
from ami_exporter.pbx.agents import WrapupTimes
from ami_exporter.secret import SECRET_ENV
from ami_exporter.simulator import Simulator, SimulatorConfig

from .support.net import free_port

SECRET = "exportersecret"


def clean_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(ENV_PREFIX)}
    return {**env, **values}


def test_the_table_covers_every_variable_the_help_names() -> None:
    help_text = subprocess.run(
        [sys.executable, "-m", "ami_exporter", "--help"], capture_output=True, text=True, check=True
    ).stdout
    named = {option.env_var for option in ENV_OPTIONS}
    assert named == {
        "AMI_EXPORTER_ADDRESS",
        "AMI_EXPORTER_USERNAME",
        "AMI_EXPORTER_SECRET_FILE",
        "AMI_EXPORTER_AUTH",
        "AMI_EXPORTER_LOG_LEVEL",
        "AMI_EXPORTER_LOG_FORMAT",
    }
    for name in [*named, SECRET_ENV]:
        assert name in " ".join(help_text.split()), name


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ADDRESS", "localhost", "invalid AMI_EXPORTER_ADDRESS 'localhost' (use host:port)"),
        ("ADDRESS", "127.0.0.1:99999", "invalid port in AMI_EXPORTER_ADDRESS"),
        ("USERNAME", "bad\nname", "AMI_EXPORTER_USERNAME: invalid AMI user name"),
        (
            "SECRET_FILE",
            "/nonexistent/secret",
            "AMI_EXPORTER_SECRET_FILE /nonexistent/secret is not readable",
        ),
        ("AUTH", "sha256", "AMI_EXPORTER_AUTH: invalid choice 'sha256' (choose from md5, auto, plain)"),
        ("LOG_LEVEL", "warning", "AMI_EXPORTER_LOG_LEVEL: invalid choice 'warning'"),
        ("LOG_FORMAT", "xml", "AMI_EXPORTER_LOG_FORMAT: invalid choice 'xml' (choose from logfmt, json)"),
        (
            "SECRET",
            "top-secret\nsecond-line",
            "the AMI secret from AMI_EXPORTER_SECRET contains a line break",
        ),
    ],
)
def test_an_invalid_environment_value_is_one_line_naming_the_variable_and_exit_2(
    name: str, value: str, message: str
) -> None:
    env = clean_env(**{SECRET_ENV: SECRET, ENV_PREFIX + name: value})
    result = subprocess.run(
        [sys.executable, "-m", "ami_exporter"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ami-exporter: error: ")
    assert message in lines[0]
    assert "top-secret" not in result.stderr and "second-line" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ami.auth", "sha256"], "--ami.auth: invalid choice 'sha256'"),
        (["--log.level", "warning"], "--log.level: invalid choice 'warning'"),
        (["--ami.username", ""], "--ami.username: invalid AMI user name"),
    ],
)
def test_a_flag_wins_over_its_variable_and_is_checked_alike(args: list[str], message: str) -> None:
    # The variables are valid; the flags are not: the flag is used, and named in the error.
    env = clean_env(**{SECRET_ENV: SECRET, "AMI_EXPORTER_AUTH": "md5", "AMI_EXPORTER_LOG_LEVEL": "info"})
    result = subprocess.run(
        [sys.executable, "-m", "ami_exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr.strip()


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(SimulatorConfig.build(queues=1, members_per_queue=1, call_rate=0.0, time_scale=0))
    await sim.start(traffic=False)
    try:
        yield sim
    finally:
        await sim.stop()


async def run_until_ready(args: list[str], env: dict[str, str]) -> str:
    """Start the exporter, wait for /-/ready, stop it with SIGTERM; its stderr."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ami_exporter",
        f"--web.listen-address=127.0.0.1:{port}",
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 30
            while True:
                assert process.returncode is None, "the exporter exited"
                try:
                    async with http.get(f"http://127.0.0.1:{port}/-/ready") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                assert time.monotonic() < deadline, "the exporter never became ready"
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    return (await process.stderr.read()).decode()


async def test_every_variable_takes_effect(simulator: Simulator, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    env = clean_env(
        AMI_EXPORTER_ADDRESS=f"127.0.0.1:{simulator.port}",  # the default port has no Asterisk
        AMI_EXPORTER_USERNAME="exporter_rep",
        AMI_EXPORTER_SECRET_FILE=str(secret_file),
        AMI_EXPORTER_AUTH="MD5",  # was taken as plain
        AMI_EXPORTER_LOG_LEVEL="Debug",
        AMI_EXPORTER_LOG_FORMAT="JSON",
    )
    stderr = await run_until_ready([], env)
    records = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    assert "debug" in {record["level"] for record in records}
    assert any("AMI session established" in record["msg"] for record in records)
    (session,) = simulator.session_stats.values()
    assert session.user == "exporter_rep"
    assert session.actions["Challenge"] == 1  # MD5
    assert SECRET not in stderr


async def test_the_secret_variable_and_case_insensitive_flags(simulator: Simulator) -> None:
    env = clean_env(
        AMI_EXPORTER_ADDRESS=f"127.0.0.1:{simulator.port}",
        AMI_EXPORTER_SECRET=SECRET + "\n",  # e.g. a Kubernetes secret made from a file
        AMI_EXPORTER_AUTH="md5",  # the flag below wins
    )
    stderr = await run_until_ready(["--ami.auth=Plain", "--log.level=WARN", "--log.format=logfmt"], env)
    assert "level=info" not in stderr and "level=debug" not in stderr
    (session,) = simulator.session_stats.values()
    assert session.user == "exporter"
    assert session.actions["Login"] == 1 and session.actions["Challenge"] == 0
    assert SECRET not in stderr


# -- flags that shape the model -------------------------------------------------------------------


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMI_EXPORTER_SECRET", "s")


@pytest.mark.usefixtures("secret")
def test_wrapup_time_default_and_per_queue_overrides() -> None:
    config = parse_args(
        ["--queue.wrapup-time", "5s", "--queue.wrapup-time", "sales=2s", "--queue.wrapup-time", "a=b=500ms"]
    )
    assert config.wrapup == WrapupTimes(5.0, {"sales": 2.0, "a=b": 0.5})
    assert config.wrapup.seconds("sales", 0) == 2.0
    assert config.wrapup.seconds("support", 0) == 5.0
    assert config.wrapup.seconds("sales", 7) == 7.0  # the member's own Wrapuptime wins


@pytest.mark.usefixtures("secret")
def test_no_wrapup_time_means_none_and_zero_is_allowed() -> None:
    assert parse_args([]).wrapup == WrapupTimes(0.0, {})
    assert parse_wrapup_times(["0", "vip=0s"]) == WrapupTimes(0.0, {"vip": 0.0})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["soon"], "invalid --queue.wrapup-time"),
        (["sales=-1s"], "invalid --queue.wrapup-time"),
        (["=5s"], "no queue name"),
        (["5s", "6s"], "more than one default"),
        (["sales=1s", "sales=2s"], "given twice"),
    ],
)
def test_bad_wrapup_times_are_configuration_errors(values: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_wrapup_times(values)


@pytest.mark.usefixtures("secret")
def test_pause_reason_cap_flag() -> None:
    assert parse_args([]).caps["pause_reason"] == 50
    assert parse_args(["--limits.pause-reasons", "7"]).caps["pause_reason"] == 7
    with pytest.raises(SystemExit):
        parse_args(["--limits.pause-reasons", "0"])


@pytest.mark.usefixtures("secret")
def test_the_reader_process_is_on_by_default_on_posix_and_can_be_turned_off() -> None:
    assert parse_args([]).ami.reader_process is (os.name == "posix")
    assert parse_args(["--no-ami.reader-process"]).ami.reader_process is False
    assert parse_args(["--ami.reader-process"]).ami.reader_process is True
