"""Reading never waits for folding: the session's backlog over a real socket.

A server on 127.0.0.1 writes thousands of events at once to a session whose event callback is
deliberately slow, so that folding falls far behind reading.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from ami_exporter.ami.backlog import BacklogStats
from ami_exporter.ami.client import FOLD_SLICE_SECONDS, DisconnectReason, Session
from ami_exporter.ami.protocol import Message, encode_message

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def numbered_events(count: int) -> bytes:
    return b"".join(
        encode_message([("Event", "UserEvent"), ("Number", str(n)), ("Padding", "x" * 200)])
        for n in range(count)
    )


@contextlib.asynccontextmanager
async def server_writing(payload: bytes, *, close: bool) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(BANNER + payload)
        await writer.drain()
        if close:
            writer.close()
        else:
            await reader.read()  # until the client goes away

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


class SlowFold:
    """An event callback that costs real time per event and notes what the loop did meanwhile."""

    def __init__(self, seconds_per_event: float, expected: int = 0) -> None:
        self.seconds = seconds_per_event
        self.expected = expected
        self.all_folded = asyncio.Event()
        self.numbers: list[int] = []
        self.backlog_seen: list[int] = []
        self.session: Session | None = None

    def __call__(self, message: Message) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        while loop.time() < deadline:
            pass
        self.numbers.append(int(message.fields["Number"]))
        if self.session is not None:
            self.backlog_seen.append(self.session.backlog_bytes)
        if len(self.numbers) == self.expected:
            self.all_folded.set()


async def test_the_loop_runs_between_fold_slices_and_every_event_is_folded_in_order() -> None:
    count = 8000  # ~1.9 MB: ~28 chunks of FOLD_CHUNK_BYTES
    fold = SlowFold(seconds_per_event=FOLD_SLICE_SECONDS / 40, expected=count)  # ~20 events per slice
    async with server_writing(numbered_events(count), close=False) as port:
        session = await Session.connect("127.0.0.1", port, fold)
        fold.session = session
        # A loop callback that reschedules itself: it can only run between slices.
        progress: list[int] = []

        def tick() -> None:
            progress.append(len(fold.numbers))
            if len(fold.numbers) < count and not session.closed.done():
                asyncio.get_running_loop().call_soon(tick)

        tick()
        await asyncio.wait_for(fold.all_folded.wait(), 30)
        session.close()
    assert fold.numbers == list(range(count))
    # The loop ran many times while the events were being folded, not once before and once after.
    in_between = {n for n in progress if 0 < n < count}
    assert len(in_between) > 10
    # The fold lagged behind the reads: the events waited in the backlog.
    assert max(fold.backlog_seen) > 0


async def test_a_full_backlog_pauses_reading_and_loses_nothing() -> None:
    count = 4000  # ~1 MB against a 64 KiB limit
    stats = BacklogStats()
    fold = SlowFold(seconds_per_event=FOLD_SLICE_SECONDS / 50, expected=count)
    limit = 64 * 1024
    async with server_writing(numbered_events(count), close=False) as port:
        session = await Session.connect("127.0.0.1", port, fold, backlog_limit=limit, backlog_stats=stats)
        fold.session = session
        await asyncio.wait_for(fold.all_folded.wait(), 30)
        session.close()
    assert fold.numbers == list(range(count))
    assert stats.times_full >= 1
    # Bounded: at most the limit plus the one read that crossed it (asyncio reads <= 256 KiB).
    assert stats.peak_bytes <= limit + 256 * 1024
    assert max(fold.backlog_seen) <= limit + 256 * 1024


async def test_events_read_before_the_server_closes_are_folded_before_closed_resolves() -> None:
    count = 2000
    fold = SlowFold(seconds_per_event=FOLD_SLICE_SECONDS / 10)
    async with server_writing(numbered_events(count), close=True) as port:
        session = await Session.connect("127.0.0.1", port, fold)
        fold.session = session
        reason = await session.closed
    assert reason is DisconnectReason.EOF
    assert fold.numbers == list(range(count))
    assert session.backlog_bytes == 0


async def test_a_callback_failing_in_a_later_slice_ends_the_session_with_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fold = SlowFold(seconds_per_event=FOLD_SLICE_SECONDS / 10)

    def failing(message: Message) -> None:
        fold(message)
        if len(fold.numbers) == 500:
            raise RuntimeError("a bug in a handler")

    async with server_writing(numbered_events(1000), close=False) as port:
        session = await Session.connect("127.0.0.1", port, failing)
        fold.session = session
        reason = await asyncio.wait_for(session.closed, 10)
    assert reason is DisconnectReason.ERROR
    assert "folding AMI events failed" in caplog.text
    assert len(fold.numbers) == 500
