#!/usr/bin/env python3
"""Soak the exporter against the simulator: N events with random faults, then exact counters
against the simulator's truth and a flat RSS. See docs/reliability.md.

    .venv/bin/python scripts/soak.py --events 1000000 --faults 12
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.soak import run_soak  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events to deliver (default 1,000,000)")
    parser.add_argument("--faults", type=int, default=10, help="faults injected at random (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-rss-growth-mib", type=float, default=16.0, help="fail above this growth")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "exporter.log"
        result = asyncio.run(run_soak(args.events, args.faults, seed=args.seed, log_path=log, progress=True))
        print(result.summary())
        if args.json:
            args.json.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
        ok = (
            result.exact
            and result.scrape_failures == 0
            and result.rss_growth() <= args.max_rss_growth_mib * 2**20
        )
        if not result.exact:
            print(f"MISMATCH (exporter, simulator): {result.mismatch}")
            print(log.read_text(encoding="utf-8")[-4000:])
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
