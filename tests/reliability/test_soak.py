"""The short soak in CI: 20,000 events, 3 random faults (``scripts/soak.py`` runs the long one)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .harness import record_recovery
from .soak import run_soak


async def test_short_soak_counts_exactly_and_rss_stays_flat(tmp_path: Path) -> None:
    result = await run_soak(20_000, 3, seed=3, log_path=tmp_path / "exporter.log")
    print(result.summary())
    kinds = Counter(fault.kind for fault in result.faults)
    assert sum(kinds.values()) == 3
    assert result.exact, result.mismatch
    assert result.scrape_failures == 0 and result.scrapes > 0
    assert result.disconnects.get("eof", 0) == kinds["drop"]
    assert result.disconnects.get("shutdown", 0) == kinds["restart"]
    assert sum(result.disconnects.values()) == kinds["drop"] + kinds["restart"]
    assert result.malformed == 2 * kinds["garbage"]
    assert result.rss_growth() < 16 * 2**20, result.summary()
    for fault in result.faults:
        record_recovery(f"soak: {fault.kind} at {fault.at_events:,} events", fault.recovery)
