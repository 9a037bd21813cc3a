"""Benchmark 3: does the AMI reader keep up while large scrapes render?

A separate process plays Asterisk: it streams the b-scenario's events (repeated, unchanged) as
fast as the client reads them and enforces Asterisk's ``writetimeout`` of 100 ms the way
``manager.c`` does: its socket has a small ``SO_SNDBUF``, and when its output has stayed above a
high-water mark (``transport.get_write_buffer_size()``, i.e. the kernel buffer full and more
queued) for longer than 100 ms it drops the session. The client is the real ``Session``
(``AMIService._on_event`` into the 200 x 50 model) on a socket with a small ``SO_RCVBUF``, so
that the kernel cannot hide a stalled reader for long. Meanwhile another process scrapes
``/metrics`` back to back (benchmark 2's app, members on).

Reported: the longest gap between two ``data_received`` calls while the scrapes ran (and before
them, streaming alone), whether the server dropped the session, whether every event sent was
counted, the AMI backlog's peak, and the longest full garbage collection (CPU time). As in the
service, the model is frozen out of full collections once built (``GCPolicy.settle``, which the
service runs after each reconcile).

Run: ``python -m bench.stall`` (``--scrapes 50 --runs 5``: the issue's "5 runs in a row").
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import multiprocessing
import multiprocessing.connection
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from ami_exporter.ami.backlog import DEFAULT_BACKLOG_LIMIT, BacklogStats
from ami_exporter.ami.client import Session, _Protocol
from ami_exporter.ami.relay_handle import Relay, RelayStats
from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService, AMISettings

from .common import BANNER, event_frames, machine, print_table
from .model import FULL, Scale, build_pbx
from .scrape import VARIANTS, scrape_in_process, serve

WRITETIMEOUT = 0.100
SNDBUF = 64 * 1024
RCVBUF = 64 * 1024
HIGH_WATER = 64 * 1024
CHUNK = 16 * 1024


# -- the "Asterisk" process ----------------------------------------------------------------------


@dataclass
class StreamReport:
    repetitions: int = 0
    events: int = 0
    dropped: bool = False
    longest_blocked: float = 0.0  # longest time the output stayed above the high-water mark


class _Streamer(asyncio.Protocol):
    def __init__(
        self, chunks: list[bytes], events_per_rep: int, stop: Any, done: asyncio.Future[None]
    ) -> None:
        self._chunks = chunks
        self._events_per_rep = events_per_rep
        self._stop = stop
        self._done = done
        self._next = 0
        self._blocked_since: float | None = None
        self.report = StreamReport()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
        transport.set_write_buffer_limits(high=HIGH_WATER)
        transport.write(BANNER)
        loop = asyncio.get_running_loop()
        loop.call_soon(self._pump)
        loop.call_later(0.005, self._watchdog)

    def _pump(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or self._blocked_since is not None:
            return
        transport.write(self._chunks[self._next])  # may call pause_writing()
        self._next += 1
        if self._next == len(self._chunks):
            self._next = 0
            self.report.repetitions += 1
            self.report.events += self._events_per_rep
            if self._stop.is_set():
                transport.close()  # at a repetition boundary: the client can count what was sent
                return
        asyncio.get_running_loop().call_soon(self._pump)

    def pause_writing(self) -> None:
        self._blocked_since = time.monotonic()

    def resume_writing(self) -> None:
        if self._blocked_since is not None:
            blocked = time.monotonic() - self._blocked_since
            self.report.longest_blocked = max(self.report.longest_blocked, blocked)
        self._blocked_since = None
        asyncio.get_running_loop().call_soon(self._pump)

    def _watchdog(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        since = self._blocked_since
        if since is not None and time.monotonic() - since > WRITETIMEOUT:
            # manager.c: a write that cannot complete within writetimeout ends the session.
            self.report.dropped = True
            self.report.longest_blocked = max(self.report.longest_blocked, time.monotonic() - since)
            transport.abort()
            return
        asyncio.get_running_loop().call_later(0.005, self._watchdog)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._done.done():
            self._done.set_result(None)


async def _stream(listener: socket.socket, stop: Any, pipe: multiprocessing.connection.Connection) -> None:
    frames = event_frames(1, distinct_ids=False)
    payload = b"".join(frames)
    chunks = [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)]
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    streamer = _Streamer(chunks, len(frames), stop, done)
    server = await loop.create_server(lambda: streamer, sock=listener)
    await done
    server.close()
    pipe.send(streamer.report)


def _streamer_main(listener: socket.socket, stop: Any, pipe: multiprocessing.connection.Connection) -> None:
    asyncio.run(_stream(listener, stop, pipe))


# -- the exporter side ---------------------------------------------------------------------------


class _TimedProtocol(_Protocol):
    """The session's protocol, noting when each read arrives."""

    def __init__(self, session: Session, reads: list[float]) -> None:
        super().__init__(session)
        self._reads = reads

    def data_received(self, data: bytes) -> None:
        self._reads.append(time.perf_counter())
        super().data_received(data)


@dataclass
class StallResult:
    scrapes: int
    scrape_seconds: float
    gap_streaming_alone: float
    gap_during_scrapes: float
    reads: int
    stream: StreamReport
    events_counted: int
    backlog: BacklogStats
    longest_full_gc: float  # CPU seconds of the longest generation-2 collection during the run
    scrape_times: list[float] = field(default_factory=list)
    relay: RelayStats | None = None  # with the reader process: what it reported of its own reads


class _FullCollections:
    """CPU time of each generation-2 collection (``gc.callbacks``), in whichever thread ran it."""

    def __init__(self) -> None:
        self.durations: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.durations.append(time.thread_time() - self._started)


def _longest_gap(reads: list[float], start: float, end: float) -> float:
    window = [t for t in reads if start <= t <= end]
    return max((b - a for a, b in itertools.pairwise(window)), default=0.0)


async def measure(
    scale: Scale, scrapes: int, alone_seconds: float = 2.0, *, reader_process: bool = True
) -> StallResult:
    pbx: PBX = build_pbx(scale)
    service = AMIService(AMISettings(), pbx)
    service.gc_policy.settle()  # what the service does after the snapshot that built the model
    collections = _FullCollections()
    context = multiprocessing.get_context("spawn")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
    port = listener.getsockname()[1]
    stop = context.Event()
    receiver, sender = context.Pipe(duplex=False)
    streamer = context.Process(target=_streamer_main, args=(listener, stop, sender))
    streamer.start()
    listener.close()
    sender.close()

    loop = asyncio.get_running_loop()
    reads: list[float] = []
    backlog = BacklogStats()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)  # before connect: sets the window
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    relay = None
    if reader_process:  # as the service does by default: the relay owns the small-window socket
        relay = await Relay.start(sock, limit=DEFAULT_BACKLOG_LIMIT, backlog_stats=backlog)
        sock = relay.socket
    session = Session(
        service._on_event, wants=pbx.wants, on_skipped=pbx.count_many, backlog_stats=backlog, relay=relay
    )
    events_before = sum(pbx.events.values())
    await loop.create_connection(lambda: _TimedProtocol(session, reads), sock=sock)

    gc.callbacks.append(collections)
    try:
        async with serve(pbx, members=True) as web_port:
            await asyncio.sleep(alone_seconds)
            started = time.perf_counter()
            samples = await scrape_in_process(web_port, VARIANTS[0], scrapes)
            ended = time.perf_counter()
    finally:
        gc.callbacks.remove(collections)
    stop.set()
    await session.closed
    await session.wait_closed()
    report: StreamReport = await loop.run_in_executor(None, receiver.recv)
    await loop.run_in_executor(None, streamer.join)
    return StallResult(
        scrapes=scrapes,
        scrape_seconds=ended - started,
        gap_streaming_alone=_longest_gap(reads, started - alone_seconds + 0.2, started),
        gap_during_scrapes=_longest_gap(reads, started, ended),
        reads=len(reads),
        stream=report,
        events_counted=sum(pbx.events.values()) - events_before,
        backlog=backlog,
        longest_full_gc=max(collections.durations, default=0.0),
        scrape_times=[seconds for seconds, _ in samples],
        relay=relay.stats if relay is not None else None,
    )


def report(result: StallResult) -> None:
    lost = result.stream.events - result.events_counted
    relay = result.relay
    rows: list[tuple[object, ...]] = [
        ("reader", "separate process" if relay is not None else "inline (event loop)"),
        (
            "longest gap between the reader process's reads of the AMI socket, whole run (ms)",
            relay.longest_gap * 1e3 if relay is not None else "n/a",
        ),
        ("its buffer's peak (KiB)", relay.peak / 1024 if relay is not None else "n/a"),
        ("longest gap between the session's reads, streaming alone (ms)", result.gap_streaming_alone * 1e3),
        (
            f"longest gap between the session's reads, during {result.scrapes} scrapes (ms)",
            result.gap_during_scrapes * 1e3,
        ),
        ("longest time the server's output stayed blocked (ms)", result.stream.longest_blocked * 1e3),
        ("dropped by the 100 ms writetimeout", "yes" if result.stream.dropped else "no"),
        (
            "events sent / counted / lost",
            f"{result.stream.events:,} / {result.events_counted:,} / {lost:,}"
            if not result.stream.dropped
            else "n/a: the session was dropped mid-stream",
        ),
        ("events/s during the run", result.events_counted / max(result.scrape_seconds, 1e-9)),
        ("scrape median (ms)", sorted(result.scrape_times)[len(result.scrape_times) // 2] * 1e3),
        ("AMI backlog peak (KiB)", result.backlog.peak_bytes / 1024),
        ("AMI backlog reached its limit (times)", result.backlog.times_full),
        ("longest full garbage collection (ms CPU)", result.longest_full_gc * 1e3),
    ]
    print_table(
        f"Event-loop stall under back-to-back scrapes (members on); {machine()}", ("what", "value"), rows
    )


def summary(results: list[StallResult]) -> None:
    drops = sum(result.stream.dropped for result in results)
    kept = [result for result in results if not result.stream.dropped]
    lost = sum(result.stream.events - result.events_counted for result in kept)
    longest = max(result.gap_during_scrapes for result in results)
    relayed = [result.relay.longest_gap for result in results if result.relay is not None]
    if relayed:
        print(f"\nlongest gap between the reader process's reads, all runs: {max(relayed) * 1e3:.1f} ms")
    blocked = max(result.stream.longest_blocked for result in results)
    print(
        f"\n{len(results)} runs in a row: dropped in {drops}, events lost {lost:,} (runs not dropped), "
        f"longest read gap {longest * 1e3:.1f} ms, longest blocked output {blocked * 1e3:.1f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1, help="runs in a row, each with a fresh model")
    parser.add_argument(
        "--reader",
        choices=("process", "inline"),
        default="process",
        help="read the AMI socket in the reader process (the service's default) or in the event loop",
    )
    args = parser.parse_args(argv)
    results = []
    for _ in range(args.runs):
        result = asyncio.run(measure(FULL, args.scrapes, reader_process=args.reader == "process"))
        report(result)
        results.append(result)
    if args.runs > 1:
        summary(results)


if __name__ == "__main__":
    main()
