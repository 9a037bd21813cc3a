"""The reader process (ami/relay.py, ami/relay_handle.py) as a real process between real sockets.

The stand-in for Asterisk is a plain blocking TCP server in a thread, so that it keeps writing
while the test blocks the event loop the way a long render starves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from ami_exporter.ami.backlog import BacklogStats
from ami_exporter.ami.client import DisconnectReason, Session, open_socket
from ami_exporter.ami.relay import READ_BYTES, TRICKLE_BYTES
from ami_exporter.ami.relay_handle import Relay

MiB = 1024 * 1024


@dataclass
class Peer:
    """What the fake Asterisk saw and did."""

    sent: int = 0
    received: bytearray = field(default_factory=bytearray)
    send_error: BaseException | None = None
    sending_done: threading.Event = field(default_factory=threading.Event)
    closed_by_client: threading.Event = field(default_factory=threading.Event)


@contextlib.contextmanager
def fake_asterisk(script: Callable[[socket.socket, Peer], None]) -> Iterator[tuple[int, Peer]]:
    listener = socket.create_server(("127.0.0.1", 0))
    peer = Peer()

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            try:
                script(connection, peer)
            except OSError as error:
                peer.send_error = error
            finally:
                peer.sending_done.set()
            with contextlib.suppress(OSError):  # the script may have closed it (a reset)
                connection.settimeout(10)
                while data := connection.recv(65536):
                    peer.received += data
            peer.closed_by_client.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], peer
    finally:
        listener.close()
        thread.join(timeout=15)


def pattern(size: int) -> bytes:
    """Bytes that differ everywhere, so a lost, doubled or reordered chunk is seen."""
    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


def send_all(data: bytes, *, close: bool = True) -> Callable[[socket.socket, Peer], None]:
    def script(connection: socket.socket, peer: Peer) -> None:
        connection.settimeout(20)  # a stalled reader would make this fail
        view = memoryview(data)
        while peer.sent < len(data):
            peer.sent += connection.send(view[peer.sent : peer.sent + 65536])
        if close:
            connection.shutdown(socket.SHUT_WR)

    return script


async def start_relay(port: int, *, limit: int = 64 * MiB, stats: BacklogStats | None = None) -> Relay:
    return await Relay.start(await open_socket("127.0.0.1", port), limit=limit, backlog_stats=stats)


async def read_to_eof(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    received = bytearray()
    async with asyncio.timeout(30):
        while data := await loop.sock_recv(sock, 1 << 20):
            received += data
    return bytes(received)


async def test_bytes_pass_through_exactly_and_eof_ends_the_process() -> None:
    payload = pattern(3 * MiB + 12345)
    with fake_asterisk(send_all(payload)) as (port, peer):
        relay = await start_relay(port)
        relay.socket.sendall(b"Action: Ping\r\nActionID: 1\r\n\r\n")
        assert await read_to_eof(relay.socket) == payload
        assert await relay.wait() == 0
        relay.socket.close()
        assert peer.closed_by_client.wait(10)
    assert bytes(peer.received) == b"Action: Ping\r\nActionID: 1\r\n\r\n"
    assert relay.stats.reads > 0 and relay.stats.upstream_error is None
    assert relay.stats.level == 0  # its last report: nothing left behind


async def test_asterisk_is_drained_while_the_exporter_does_not_read_at_all() -> None:
    # 24 MiB is far more than the kernel buffers of both sockets; the exporter's loop is blocked
    # (as a long render would starve it) until Asterisk has written all of it.
    payload = pattern(24 * MiB)
    with fake_asterisk(send_all(payload)) as (port, peer):
        relay = await start_relay(port)
        assert peer.sending_done.wait(30), "Asterisk's writes stalled although the relay should read"
        assert peer.send_error is None
        assert await read_to_eof(relay.socket) == payload
        assert await relay.wait() == 0
        relay.socket.close()
    assert relay.stats.peak >= 16 * MiB  # it held the difference, as reported


async def test_past_a_quarter_of_the_limit_it_trickles_and_at_the_limit_it_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limit = 4 * MiB
    payload = pattern(32 * MiB)  # more than the limit and both sockets' kernel buffers
    stats = BacklogStats()
    with fake_asterisk(send_all(payload)) as (port, peer):
        relay = await start_relay(port, limit=limit, stats=stats)
        async with asyncio.timeout(20):
            while stats.times_full == 0:  # noqa: ASYNC110 - the exporter takes nothing meanwhile
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert not peer.sending_done.is_set()  # Asterisk is held back: memory stays bounded
        assert await read_to_eof(relay.socket) == payload  # and nothing was lost
        assert await relay.wait() == 0
        relay.socket.close()
    assert stats.times_full >= 1
    # Below the limit it reads whole chunks until the soft level, then trickle-sized ones.
    assert limit <= relay.stats.peak <= limit + max(READ_BYTES, TRICKLE_BYTES)
    assert any("the AMI reader process holds" in record.getMessage() for record in caplog.records)


async def test_the_exporter_closing_flushes_its_last_action_and_closes_asterisk() -> None:
    def idle(connection: socket.socket, peer: Peer) -> None:
        connection.sendall(b"Asterisk Call Manager/9.0.0\r\n")

    with fake_asterisk(idle) as (port, peer):
        relay = await start_relay(port)
        relay.socket.sendall(b"Action: Logoff\r\nActionID: 9\r\n\r\n")
        relay.socket.close()
        assert await relay.wait() == 0
        assert await asyncio.get_running_loop().run_in_executor(None, peer.closed_by_client.wait, 10)
    assert bytes(peer.received) == b"Action: Logoff\r\nActionID: 9\r\n\r\n"


async def test_a_reset_by_asterisk_is_reported_after_what_was_sent() -> None:
    def reset(connection: socket.socket, peer: Peer) -> None:
        connection.sendall(b"Asterisk Call Manager/9.0.0\r\n")
        time.sleep(0.2)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()  # with a zero linger: a reset

    with fake_asterisk(reset) as (port, _):
        relay = await start_relay(port)
        assert await read_to_eof(relay.socket) == b"Asterisk Call Manager/9.0.0\r\n"
        assert await relay.wait() == 0
        relay.socket.close()
    assert relay.stats.upstream_error is not None and "ECONNRESET" in relay.stats.upstream_error


async def test_a_session_over_the_reader_process_folds_everything_and_knows_its_addresses() -> None:
    frames = b"".join(b"Event: Ping%d\r\nN: %d\r\n\r\n" % (i % 7, i) for i in range(50_000))
    payload = b"Asterisk Call Manager/9.0.0\r\n" + frames
    seen: list[str] = []
    with fake_asterisk(send_all(payload)) as (port, _):
        session = await Session.connect(
            "127.0.0.1", port, lambda message: seen.append(message.fields["N"]), reader_process=True
        )
        assert session.relay is not None
        assert session.extra_info("peername") == ("127.0.0.1", port)
        assert session.extra_info("sockname")[0] == "127.0.0.1"
        reason = await asyncio.wait_for(asyncio.shield(session.closed), 30)
        await session.wait_closed()
    assert reason is DisconnectReason.EOF
    assert seen == [str(i) for i in range(50_000)]
    assert session.relay.process.returncode == 0


async def test_the_process_does_not_outlive_a_cancelled_connect() -> None:
    def silent(connection: socket.socket, peer: Peer) -> None:
        time.sleep(1.0)  # no banner: connect waits

    with fake_asterisk(silent) as (port, _):
        before = set(_python_children())
        with pytest.raises(TimeoutError):
            await Session.connect("127.0.0.1", port, lambda _: None, reader_process=True, timeout=0.5)
        left = set(_python_children()) - before
        assert not left, left


def _python_children() -> list[int]:
    """This process's live child processes (Linux /proc), zombies excluded."""
    if not os.path.isdir("/proc"):
        pytest.skip("needs Linux /proc")
    me = os.getpid()
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
            if int(fields[1]) == me and fields[0] != "Z":
                children.append(int(entry))
    return children


async def test_a_relay_log_line_that_is_not_a_report_is_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with fake_asterisk(send_all(b"x")) as (port, _):
        relay = await start_relay(port)
        relay._report("Traceback (most recent call last):")
        relay._report("ami-exporter-relay: level nope 1")
        relay._report("ami-exporter-relay: gossip 1 2")
        await read_to_eof(relay.socket)
        await relay.wait()
        relay.socket.close()
    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert (logging.ERROR, "AMI reader process: Traceback (most recent call last):") in messages
    unexpected = [
        text for level, text in messages if "unexpected report" in text and level == logging.WARNING
    ]
    assert len(unexpected) == 2


async def test_without_a_reader_process_the_session_reads_the_socket_itself(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "executable", "")  # an embedded interpreter: nothing to start
    payload = b"Asterisk Call Manager/9.0.0\r\n" + b"".join(
        b"Event: E\r\nN: %d\r\n\r\n" % i for i in range(500)
    )
    seen: list[str] = []
    with fake_asterisk(send_all(payload)) as (port, _):
        session = await Session.connect(
            "127.0.0.1", port, lambda message: seen.append(message.fields["N"]), reader_process=True
        )
        assert session.relay is None
        assert await asyncio.wait_for(asyncio.shield(session.closed), 10) is DisconnectReason.EOF
        await session.wait_closed()
    assert seen == [str(i) for i in range(500)]
    assert any("cannot start the AMI reader process" in record.getMessage() for record in caplog.records)
