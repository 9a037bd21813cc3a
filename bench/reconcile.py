"""Benchmark 5: applying one ``QueueStatus`` snapshot of 200 queues x 50 members (and 500 waiting
callers): ``PBX.reconcile_queues(QueueSnapshot.from_items(items))``, the work the service does
on the event loop every ``--ami.reconcile-interval``.

Timed: the first snapshot into an empty model (start-up) and the steady state (the same
snapshot again: every member rebuilt and compared, no correction), median and worst of
``--repeats``; and, once, a snapshot in which every queue is gone (all members released).

Run: ``python -m bench.reconcile`` (``--repeats 20``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from ami_exporter.pbx import PBX, QueueSnapshot

from .common import machine, median, print_table
from .model import FULL, Scale, queue_status_items


@dataclass
class ReconcileResult:
    members: int
    cold: list[float]
    steady: list[float]
    remove_all: float


def measure(scale: Scale, repeats: int) -> ReconcileResult:
    items = queue_status_items(scale)
    cold: list[float] = []
    steady: list[float] = []
    remove_all = 0.0
    for _ in range(repeats):
        pbx = PBX()
        started = time.perf_counter()
        pbx.reconcile_queues(QueueSnapshot.from_items(items))
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        corrections = pbx.reconcile_queues(QueueSnapshot.from_items(items))
        steady.append(time.perf_counter() - started)
        assert not any(corrections.values()), corrections
    started = time.perf_counter()
    pbx.reconcile_queues(QueueSnapshot.from_items([]))
    remove_all = time.perf_counter() - started
    assert not pbx.queues.queues
    return ReconcileResult(scale.queues * scale.members_per_queue, cold, steady, remove_all)


def report(result: ReconcileResult, scale: Scale) -> None:
    rows: list[tuple[object, ...]] = [
        ("first snapshot into an empty model", median(result.cold) * 1e3, max(result.cold) * 1e3),
        ("steady state (same snapshot again)", median(result.steady) * 1e3, max(result.steady) * 1e3),
        ("every queue gone (all members released), once", result.remove_all * 1e3, result.remove_all * 1e3),
    ]
    print_table(
        f"Reconcile: {scale.queues} queues x {scale.members_per_queue} members, {scale.callers} callers; "
        f"{machine()}",
        ("snapshot", "median ms", "max ms"),
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    report(measure(FULL, args.repeats), FULL)


if __name__ == "__main__":
    main()
