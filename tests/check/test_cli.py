"""The command line: ``ami-exporter check [flags]`` next to ``ami-exporter [flags]``, ``--output json``
with the same verdicts as the text, the exit status of a real process, and the secret never shown."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from ami_exporter import cli as exporter_cli
from ami_exporter.check import cli
from ami_exporter.config import parse_args
from ami_exporter.simulator import Simulator

from ..support.net import free_port
from ..support.replay import Play, replay_server
from .conftest import SECRET, Outcome, RunCheck


def text_verdicts(result: Outcome) -> dict[str, str]:
    """Step title -> status, from the numbered step lines of the text report."""
    verdicts = {}
    for line in result.out.splitlines():
        head, _, rest = line.partition(". ")
        if head.isdigit():
            title, status = rest.rsplit(None, 1)
            verdicts[title.strip()] = status.lower()
    return verdicts


@pytest.mark.parametrize("user", ["exporter", "admin"])
async def test_json_output_carries_the_same_verdicts_as_the_text(
    run_check: RunCheck, sim: Simulator, user: str
) -> None:
    flags = (f"--ami.address=127.0.0.1:{sim.port}", f"--ami.username={user}", "--check.wait=100ms")
    text = await run_check(*flags)
    data = await run_check(*flags, "--output=json")
    document = data.json()
    assert data.code == text.code == document["exit_code"] == 0
    assert document["result"] == "ok"
    assert document["username"] == user and document["target"] == f"127.0.0.1:{sim.port}"
    steps = {step["title"]: step["status"] for step in document["steps"]}
    assert steps == text_verdicts(text)
    assert [step["step"] for step in document["steps"]] == [
        "connect",
        "login",
        "privileges",
        "events",
        "snapshot",
        "web_config",
    ]
    by_key = {step["step"]: step for step in document["steps"]}
    assert by_key["connect"]["facts"]["ami_version"] == "11.0.0"
    assert by_key["login"]["facts"]["method"] == "md5"
    privileges = by_key["privileges"]["facts"]
    assert privileges["families"]["queues"]["state"] == "available"
    expected_channels = "available" if user == "admin" else "degraded"
    assert privileges["families"]["channels"]["state"] == expected_channels
    if user == "admin":
        assert {"originate", "command", "system", "config"} <= set(privileges["excess_write_classes"])
        warned = [f for f in by_key["privileges"]["findings"] if f["status"] == "warn"]
        assert any("[admin]" in f["details"] for f in warned)
    else:
        assert privileges["excess_write_classes"] == []


async def test_json_output_of_a_failure(run_check: RunCheck) -> None:
    result = await run_check(f"--ami.address=127.0.0.1:{free_port()}", "--output=json")
    document = result.json()
    assert result.code == document["exit_code"] == 2
    assert document["result"] == "unusable"
    connect = document["steps"][0]
    assert connect["status"] == "fail"
    assert "connection refused" in connect["findings"][0]["message"]
    assert {step["status"] for step in document["steps"][1:5]} == {"skip"}


async def test_the_secret_never_appears_in_any_output(
    run_check: RunCheck, sim: Simulator, tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    runs = []
    for output in ("text", "json"):
        for flags, secret in [
            (("--ami.username=admin",), SECRET),
            (("--ami.auth=plain",), SECRET),
            ((f"--ami.secret-file={secret_file}",), None),
            (("--ami.auth=plain",), SECRET + "-but-wrong"),
            (("--ami.username=nobody",), SECRET),
        ]:
            result = await run_check(
                f"--ami.address=127.0.0.1:{sim.port}",
                "--check.wait=50ms",
                "--log.level=debug",
                f"--output={output}",
                *flags,
                secret=secret,
            )
            runs.append(result)
    assert {result.code for result in runs} == {0, 2}
    for result in runs:
        assert SECRET not in result.out and SECRET not in result.err


async def test_a_bad_flag_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        exporter_cli.main(["check", "--ami.adress=pbx:5038"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == "ami-exporter check: error: unrecognized arguments: --ami.adress=pbx:5038\n"


async def test_missing_secret_is_one_line_and_exit_2(
    run_check: RunCheck, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        await run_check("--ami.address=127.0.0.1:5038", secret=None)
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "ami-exporter check: error: no AMI secret: set AMI_EXPORTER_SECRET or pass --ami.secret-file\n"
    )


def test_exporter_flags_and_demo_still_parse_without_the_subcommand() -> None:
    config = parse_args(["--demo", "--web.listen-address=127.0.0.1:9999"])
    assert config.demo and config.listen[0].port == 9999
    with pytest.raises(SystemExit) as exited:
        parse_args(["check"])  # "check" is a subcommand only in the first position of ami-exporter
    assert exited.value.code == 2


def test_help_lists_the_check_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for flag in (
        "--ami.address",
        "--ami.secret-file",
        "--ami.auth",
        "--check.wait",
        "--output",
        "--web.config.file",
    ):
        assert flag in out


async def test_a_real_process_exits_with_the_report_status(sim: Simulator) -> None:
    """``python -m ami_exporter check`` as an operator runs it: the secret from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMI_EXPORTER_")}
    env["AMI_EXPORTER_SECRET"] = SECRET
    statuses = {}
    for user in ("exporter", "nobody"):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ami_exporter",
            "check",
            f"--ami.address=127.0.0.1:{sim.port}",
            f"--ami.username={user}",
            "--check.wait=100ms",
            "--output=json",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        document = json.loads(out)
        assert process.returncode == document["exit_code"], err
        statuses[user] = process.returncode
        assert SECRET.encode() not in out + err
    assert statuses == {"exporter": 0, "nobody": 2}


async def test_check_follows_the_configured_auth_mode(run_check: RunCheck, sim: Simulator) -> None:
    """The login method comes from --ami.auth, as in the exporter: md5 sends Challenge, plain not."""
    md5 = await run_check(f"--ami.address=127.0.0.1:{sim.port}", "--check.wait=50ms")
    plain_recording = [Play("b-scenario/exporter.rx.raw", "b-scenario/exporter.tx.raw")]
    async with replay_server(plain_recording) as server:
        plain = await run_check(f"--ami.address=127.0.0.1:{server.port}", "--ami.auth=plain")
    assert "with the MD5 challenge" in md5.line("OK    logged in as")
    assert "with a plain login" in plain.line("logged in as")
    sent = [action["Action"] for action in server.actions]
    assert sent[0] == "Login" and "Challenge" not in sent
