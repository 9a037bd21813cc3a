"""Bytes read from the AMI socket and not yet decoded and folded: a bounded FIFO.

Asterisk drops a manager session whose socket stays full for ``writetimeout`` (100 ms by
default). Reading must therefore never wait for folding: the session appends every read here
at once and folds from the front in short slices, giving the event loop back between slices so
that the next read is never more than one slice away. When folding falls behind (a large scrape
rendering in another thread, a snapshot being applied), the backlog absorbs the difference, up to
``limit`` bytes; past the limit the session pauses reading until a slice has made room, so memory
stays bounded and the pause is a single slice long.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

# The default cap: at the ~400 bytes of an average AMI event, about 40,000 events, which a busy
# PBX produces in seconds and the fold clears in a fraction of a second.
DEFAULT_BACKLOG_LIMIT = 16 * 1024 * 1024


@dataclass(slots=True)
class BacklogStats:
    """Counted across sessions, for ``asterisk_exporter_ami_backlog_*``."""

    times_full: int = 0  # times the backlog reached its limit and reading was paused
    peak_bytes: int = 0  # the largest backlog seen


class Backlog:
    """A FIFO of byte chunks with a running size."""

    __slots__ = ("_chunks", "_offset", "limit", "size", "stats")

    def __init__(self, limit: int = DEFAULT_BACKLOG_LIMIT, stats: BacklogStats | None = None) -> None:
        if limit <= 0:
            raise ValueError(f"the backlog limit must be positive, not {limit}")
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # bytes of the first chunk already taken
        self.limit = limit
        self.size = 0
        self.stats = stats if stats is not None else BacklogStats()

    def __bool__(self) -> bool:
        return self.size > 0

    @property
    def full(self) -> bool:
        return self.size >= self.limit

    def append(self, data: bytes) -> None:
        if data:
            self._chunks.append(data)
            self.size += len(data)
            if self.size > self.stats.peak_bytes:
                self.stats.peak_bytes = self.size

    def clear(self) -> None:
        """Drop everything not folded yet (the session is being abandoned)."""
        self._chunks.clear()
        self._offset = 0
        self.size = 0

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` from the front (a whole read when it fits, else its first part)."""
        chunks = self._chunks
        if not chunks:
            return b""
        head = chunks[0]
        start = self._offset
        if start == 0 and len(head) <= max_bytes:
            chunk = chunks.popleft()  # the common case: a whole read, no copy
        else:
            # Slice at an offset instead of keeping the rest as a new bytes object: a 256 KiB read
            # taken 16 KiB at a time would otherwise be copied eight times over.
            end = start + max_bytes
            chunk = head[start:end]
            if end >= len(head):
                chunks.popleft()
                self._offset = 0
            else:
                self._offset = end
        self.size -= len(chunk)
        return chunk
