"""Shared pieces of the benchmarks: the recorded traffic, statistics, RSS and the machine."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ami_exporter.ami.protocol import Decoder, Kind, Message, encode_message

ROOT = Path(__file__).resolve().parents[1]
# A real 20-call queue scenario recorded from Asterisk 22.10.1 by a client logged in with
# "Events: on": every class, dialplan (VarSet, Newexten) included.
CAPTURES = ROOT / "tests" / "fixtures" / "ami-captures" / "asterisk-22.10.1"
B_SCENARIO = CAPTURES / "b-scenario" / "exporter.rx.raw"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


# The README's recommended ``read = system,call,agent,cdr,security``: no dialplan (VarSet,
# Newexten), no user (UserEvent).
RECOMMENDED_CLASSES = frozenset(("system", "call", "agent", "cdr", "security"))


def recorded_events(classes: frozenset[str] | None = None) -> list[Message]:
    """The b-scenario's asynchronous events, in wire order: not the replies to (or the list items
    of) the recording client's own actions, which carry its ``exporter-N`` ActionIDs. With
    ``classes``, only the events a session with that ``read=`` would receive: Asterisk sends an
    event when one of the classes in its ``Privilege:`` header is in the session's read mask
    (``all`` is how the header ends, not a class)."""
    decoder = Decoder()
    messages = decoder.feed(B_SCENARIO.read_bytes())
    return [
        message
        for message in messages
        if message.kind is Kind.EVENT
        and not (message.action_id or "").startswith("exporter-")
        and (classes is None or not classes.isdisjoint((message.get("Privilege") or "").split(",")))
    ]


def _is_id_key(key: str) -> bool:
    return key.casefold().endswith(("uniqueid", "linkedid"))


def _shift_id(value: str, repetition: int) -> str:
    """``1795841633.42`` -> ``1795841633.{42 + repetition * 100000}``: same shape, distinct."""
    epoch, dot, sequence = value.partition(".")
    if not dot or not sequence.isdigit() or repetition == 0:
        return value
    return f"{epoch}.{int(sequence) + repetition * 100_000}"


def event_frames(
    repetitions: int, *, distinct_ids: bool = True, classes: frozenset[str] | None = None
) -> list[bytes]:
    """The recorded events (of ``classes``, see :func:`recorded_events`) repeated; with
    ``distinct_ids`` every Uniqueid/Linkedid is rewritten per repetition so that each
    repetition's channels are new channels to the model."""
    events = recorded_events(classes)
    frames: list[bytes] = []
    for repetition in range(repetitions):
        for event in events:
            headers = event.headers
            if distinct_ids and repetition:
                headers = [(k, _shift_id(v, repetition) if _is_id_key(k) else v) for k, v in headers]
            frames.append(encode_message(headers))
    return frames


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    rank = max(0, -(-95 * len(ordered) // 100) - 1)
    return ordered[rank]


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def rss_bytes() -> int:
    """Resident set size of this process now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def machine() -> str:
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.partition(":")[2].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU ({model}), Python {platform.python_version()} ({sys.platform})"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(cell) for cell in header], *[[_format(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        print(
            "  ".join(
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=True))
            )
        )
        if number == 0:
            print("  ".join("-" * width for width in widths))


def _format(cell: object) -> str:
    if isinstance(cell, float):
        if cell >= 100:
            return f"{cell:,.0f}"
        if cell >= 10:
            return f"{cell:.1f}"
        return f"{cell:.2f}"
    if isinstance(cell, int):
        return f"{cell:,}"
    return str(cell)
