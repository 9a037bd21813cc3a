"""The backlog: a bounded FIFO of bytes read and not yet folded."""

from __future__ import annotations

import pytest

from ami_exporter.ami.backlog import Backlog, BacklogStats


def test_takes_in_order_and_splits_a_long_read() -> None:
    backlog = Backlog(limit=100)
    backlog.append(b"abcdef")
    backlog.append(b"")  # an empty read changes nothing
    backlog.append(b"gh")
    assert backlog.size == 8 and backlog
    assert backlog.take(4) == b"abcd"
    assert backlog.take(4) == b"ef"  # never joins reads: the rest of the first one
    assert backlog.take(4) == b"gh"
    assert backlog.take(4) == b"" and not backlog and backlog.size == 0


def test_full_at_the_limit_and_peak_is_kept_in_shared_stats() -> None:
    stats = BacklogStats()
    backlog = Backlog(limit=10, stats=stats)
    backlog.append(b"x" * 9)
    assert not backlog.full
    backlog.append(b"y")
    assert backlog.full and stats.peak_bytes == 10
    backlog.take(5)
    assert not backlog.full and stats.peak_bytes == 10
    # A new session's backlog shares the counters: the peak is the process's.
    other = Backlog(limit=10, stats=stats)
    other.append(b"z" * 3)
    assert stats.peak_bytes == 10


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_must_be_positive(limit: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        Backlog(limit=limit)


def test_a_long_read_taken_piece_by_piece_comes_back_whole() -> None:
    backlog = Backlog(limit=1 << 20)
    data = bytes(range(256)) * 1000
    backlog.append(data)
    backlog.append(b"tail")
    pieces = []
    while backlog:
        pieces.append(backlog.take(4096))
        assert backlog.size == len(data) + 4 - sum(map(len, pieces))
    assert b"".join(pieces) == data + b"tail"
    assert all(len(piece) <= 4096 for piece in pieces)


def test_clear_drops_what_is_left_even_mid_read() -> None:
    backlog = Backlog(limit=100)
    backlog.append(b"abcdef")
    backlog.append(b"gh")
    assert backlog.take(2) == b"ab"
    backlog.clear()
    assert not backlog and backlog.size == 0 and backlog.take(4) == b""
    backlog.append(b"ij")
    assert backlog.take(4) == b"ij"  # no stale offset into a dropped read
