"""``python -m ami_exporter.simulator`` as a real process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

from ami_exporter.ami.client import Session
from ami_exporter.ami.protocol import Message

from ..support.net import free_port


def _ignore(message: Message) -> None:
    pass


def _ignore_counts(counts: dict[str, int]) -> None:
    pass


async def test_generated_call_centre_answers_queue_status_and_stops_on_sigterm() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ami_exporter.simulator",
        f"--listen=127.0.0.1:{port}",
        "--queues=2",
        "--members-per-queue=3",
        "--call-rate=0",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = await asyncio.wait_for(process.stderr.readline(), 20)
        assert f"listening on 127.0.0.1:{port}" in line.decode()
        session = await Session.connect(
            "127.0.0.1", port, _ignore, wants=lambda name: False, on_skipped=_ignore_counts
        )
        assert await session.login("exporter", "exportersecret") == "md5"
        reply = await session.list_action("QueueStatus")
        queues = {item.fields["Queue"] for item in reply.items if item.name == "QueueParams"}
        members = [item for item in reply.items if item.name == "QueueMember"]
        assert queues == {"q1", "q2"}
        assert len(members) == 6
        await session.logoff()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 5) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "nowhere"], "invalid --listen"),
        (["--user", "onlyname"], "error"),
        (["--queues", "x"], "invalid int"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ami_exporter.simulator", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
