"""Benchmark 1: events folded per second, socket -> codec -> model, against panoramisk's parser.

Two streams, each the b-scenario's asynchronous events (a real 20-call queue scenario) repeated
``--reps`` times, each repetition's Uniqueids/Linkedids rewritten so that its channels are new to
the model: *all classes* (what ``Events: on`` receives, dialplan's VarSet and Newexten included)
and *recommended* (only what the README's ``read = system,call,agent,cdr,security`` receives).
A separate process (the "Asterisk") writes it to loopback TCP as fast as the client reads, then
closes; the client is the real ``Session`` (banner, decoder with the ``wants()`` fast path)
calling ``AMIService._on_event``, which counts every event and folds the wanted ones into the real ``PBX``.

In the same run, on the same bytes, in memory (no socket, so they are upper bounds):

* panoramisk 1.4's parser as its ``data_received`` does it: decode each 64 KiB read, split on
  ``\\r\\n\\r\\n``, ``Message.from_line`` per frame (parse only: no dispatch, no model);
* the bare framing loop: split each read on blank lines, nothing else (the physical reference).

Run: ``python -m bench.throughput`` (``--reps 20 --repeats 5``).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from ami_exporter.ami.client import Session
from ami_exporter.ami.protocol import Decoder, Kind
from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService, AMISettings

from .common import BANNER, RECOMMENDED_CLASSES, event_frames, machine, median, print_table

READ_SIZE = 64 * 1024  # what a socket read typically returns at full speed on loopback


# The streams measured, by name: the read classes whose events they hold (None: every class).
STREAMS: dict[str, frozenset[str] | None] = {"all classes": None, "recommended": RECOMMENDED_CLASSES}


@dataclass(frozen=True)
class Stream:
    payload: bytes  # banner + frames
    events: int


def build_stream(repetitions: int, classes: frozenset[str] | None = None) -> Stream:
    frames = event_frames(repetitions, classes=classes)
    return Stream(BANNER + b"".join(frames), len(frames))


def _chunks(payload: bytes) -> list[bytes]:
    return [payload[i : i + READ_SIZE] for i in range(0, len(payload), READ_SIZE)]


# -- end to end --------------------------------------------------------------------------------


def _serve_once(listener: socket.socket, payload: bytes) -> None:
    connection, _ = listener.accept()
    with connection:
        connection.sendall(payload)
        connection.shutdown(socket.SHUT_WR)
        connection.recv(1)  # wait for the client to close


async def _end_to_end_async(stream: Stream, reader_process: bool = False) -> tuple[float, PBX]:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = multiprocessing.get_context("fork").Process(target=_serve_once, args=(listener, stream.payload))
    server.start()
    listener.close()
    pbx = PBX()
    service = AMIService(AMISettings(port=port), pbx)
    try:
        started = time.perf_counter()
        session = await Session.connect(
            "127.0.0.1",
            port,
            service._on_event,
            wants=pbx.wants,
            on_skipped=pbx.count_many,
            reader_process=reader_process,
        )
        if reader_process:
            # Timed from the banner: starting the process (~0.1 s, once per session) is not a
            # cost per event; the stream waits in the kernel's buffers meanwhile.
            started = time.perf_counter()
        await session.closed
        elapsed = time.perf_counter() - started
        session.close()
        await session.wait_closed()
    finally:
        server.join(10)
    received = sum(pbx.events.values())
    if received != stream.events:
        raise RuntimeError(f"end to end: {received} events folded, {stream.events} sent")
    return elapsed, pbx


def end_to_end(stream: Stream, reader_process: bool = False) -> float:
    """Seconds from connect to EOF with every event counted and folded."""
    return asyncio.run(_end_to_end_async(stream, reader_process))[0]


# -- in-memory references ------------------------------------------------------------------------


def codec_and_model(chunks: list[bytes], events: int) -> float:
    """Decoder + ``_on_event`` + PBX without the socket: what the end-to-end run costs in Python."""
    pbx = PBX()
    service = AMIService(AMISettings(), pbx)
    decoder = Decoder(wants=pbx.wants)
    on_event = service._on_event
    started = time.perf_counter()
    for chunk in chunks:
        for message in decoder.feed(chunk):
            if message.kind is Kind.EVENT:  # the banner is a message, not an event
                on_event(message)
        pbx.count_many(decoder.take_skipped())
    elapsed = time.perf_counter() - started
    assert sum(pbx.events.values()) == events, (sum(pbx.events.values()), events)
    return elapsed


def panoramisk_parse(chunks: list[bytes], events: int) -> float | None:
    """panoramisk 1.4 ``AMIProtocol.data_received``'s parsing, minus logging and dispatch."""
    try:
        from panoramisk.message import Message as PanoramiskMessage
    except ImportError:
        return None
    from_line: Callable[[str], object] = PanoramiskMessage.from_line
    queue: list[str] = []
    parsed = 0
    started = time.perf_counter()
    for chunk in chunks:
        data = chunk.decode("ascii", "ignore")  # panoramisk's default encoding
        if queue:
            data = queue.pop() + data
        lines = data.split("\r\n\r\n")
        queue.append(lines.pop(-1))
        for line in lines:
            if from_line(line.strip()) is not None:
                parsed += 1
    elapsed = time.perf_counter() - started
    assert parsed == events, (parsed, events)  # the banner shares the first frame: not a message
    return elapsed


def bare_framing(chunks: list[bytes], events: int) -> float:
    """Split the reads on blank lines and do nothing else."""
    rest = b""
    frames = 0
    started = time.perf_counter()
    for chunk in chunks:
        parts = (rest + chunk).split(b"\r\n\r\n")
        rest = parts.pop()
        frames += len(parts)
    elapsed = time.perf_counter() - started
    assert frames == events, (frames, events)
    return elapsed


# -- report --------------------------------------------------------------------------------------


@dataclass
class Result:
    stream: str
    events: int
    megabytes: float
    seconds: dict[str, list[float]]

    def rate(self, name: str) -> float:
        return self.events / median(self.seconds[name])


def run(repetitions: int, repeats: int) -> list[Result]:
    """Every stream of :data:`STREAMS`, each with its own panoramisk baseline."""
    streams = {name: build_stream(repetitions, classes) for name, classes in STREAMS.items()}
    chunked = {name: _chunks(stream.payload) for name, stream in streams.items()}
    seconds: dict[str, dict[str, list[float]]] = {
        name: {"end_to_end": [], "end_to_end_process": [], "codec_model": [], "panoramisk": [], "framing": []}
        for name in streams
    }
    for _ in range(repeats):  # interleaved, so that machine noise hits every row alike
        for name, stream in streams.items():
            chunks, times = chunked[name], seconds[name]
            times["end_to_end"].append(end_to_end(stream))
            times["end_to_end_process"].append(end_to_end(stream, reader_process=True))
            times["codec_model"].append(codec_and_model(chunks, stream.events))
            panoramisk = panoramisk_parse(chunks, stream.events)
            if panoramisk is not None:
                times["panoramisk"].append(panoramisk)
            times["framing"].append(bare_framing(chunks, stream.events))
    return [
        Result(name, stream.events, len(stream.payload) / 1e6, {k: v for k, v in seconds[name].items() if v})
        for name, stream in streams.items()
    ]


def report(results: list[Result]) -> None:
    for result in results:
        _report_one(result)


def _compiled() -> str:
    """Whether the codec is the mypyc-compiled extension (a .so) or pure Python."""
    from ami_exporter.ami import protocol

    return "mypyc-compiled" if not (protocol.__file__ or "").endswith(".py") else "pure Python"


def _report_one(result: Result) -> None:
    labels = {
        "end_to_end": "ami-exporter end to end (TCP -> Session -> PBX)",
        "end_to_end_process": "  the same through the reader process (the service's default)",
        "codec_model": "ami-exporter decoder + fold, in memory",
        "panoramisk": "panoramisk 1.4 parse only, in memory",
        "framing": "bare framing (split on blank lines), in memory",
    }
    base = result.rate("panoramisk") if "panoramisk" in result.seconds else None
    rows: list[tuple[object, ...]] = []
    for name, label in labels.items():
        if name not in result.seconds:
            rows.append((label, "n/a", "n/a", "n/a"))
            continue
        rate = result.rate(name)
        rows.append(
            (
                label,
                rate,
                result.megabytes / median(result.seconds[name]),
                f"{rate / base:.2f}x" if base else "n/a",
            )
        )
    print_table(
        f"Throughput, {result.stream} stream: {result.events:,} events, {result.megabytes:.1f} MB;"
        f" codec {_compiled()}; {machine()}",
        ("path", "events/s (median)", "MB/s", "vs panoramisk"),
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=20, help="repetitions of the b-scenario (2,6xx events)")
    parser.add_argument("--repeats", type=int, default=5, help="measurements per path; medians are shown")
    args = parser.parse_args(argv)
    report(run(args.reps, args.repeats))


if __name__ == "__main__":
    main()
