"""The reader process: drains the AMI socket into memory, whatever the exporter is doing.

Asterisk drops a manager session whose socket it cannot write to for ``writetimeout`` (100 ms by
default). In the exporter's own process the socket is read by the event loop thread, which shares
the GIL with the thread rendering a scrape: at 10,000 members a render holds the GIL for about a
second in 5 ms turns, and the loop thread waits for a turn after every system call, so reads can
be 100 ms apart although nothing blocks for that long. This process has its own interpreter and
does nothing but move bytes, so it reads within milliseconds regardless.

It owns the TCP (or TLS: the bytes are moved as they are, encrypted) connection to Asterisk and
one end of a socket pair whose other end the exporter reads as if it were the AMI socket:

* Asterisk -> exporter: read into a buffer, written to the exporter as fast as it takes them.
  Below ``soft`` bytes buffered it reads freely; between ``soft`` and ``limit`` it reads one
  ``TRICKLE_BYTES`` chunk every ``TRICKLE_SECONDS``, so that Asterisk's blocked write completes
  well within ``writetimeout`` while the buffer still grows slowly enough to ride out a fold that
  is behind for seconds; at ``limit`` it stops reading (memory is bounded; reported as ``full``).
* exporter -> Asterisk: actions, copied through.
* Asterisk closes or resets: what is buffered is delivered, then the exporter's end is closed
  (a reset is reported first, so the exporter can tell it from a clean close).
* The exporter closes its end (or dies): pending actions (a Logoff) are flushed for at most
  ``FLUSH_SECONDS``, then the AMI connection is closed and the process exits. It cannot outlive
  the exporter.

Reports go to stderr, one line each, prefixed with :data:`REPORT_PREFIX`, for
:mod:`.relay_handle` to parse: ``level BYTES PEAK`` (at most every ``LEVEL_SECONDS`` while it
changes), ``full LIMIT``, ``upstream-error TEXT`` and, on exit, ``stats READS LONGEST_GAP PEAK``.

Standard library only and no package imports: it starts in a fresh interpreter per session.
"""

from __future__ import annotations

import errno
import itertools
import os
import selectors
import signal
import socket
import sys
import time
from collections import deque

TYPE_CHECKING = False  # typing itself is not imported: a tenth of this process's start-up
if TYPE_CHECKING:
    from typing import TextIO

REPORT_PREFIX = "ami-exporter-relay:"
READ_BYTES = 256 * 1024  # one read when the buffer is below ``soft``
TRICKLE_BYTES = 64 * 1024  # one read when it is above: a full TCP window on loopback
TRICKLE_SECONDS = 0.010  # between trickle reads: a tenth of Asterisk's default writetimeout
LEVEL_SECONDS = 0.5
_SEND_CHUNKS = 64  # buffers per sendmsg: more than a socket pair's buffer holds of 256 KiB reads
FLUSH_SECONDS = 2.0

_READ = selectors.EVENT_READ
_WRITE = selectors.EVENT_WRITE


class _Report:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, *words: object) -> None:
        try:
            self._stream.write(" ".join((REPORT_PREFIX, *map(str, words))) + "\n")
            self._stream.flush()
        except (OSError, ValueError):
            pass  # the exporter stopped listening; moving bytes matters more than telling it


class _Chunks:
    """Bytes waiting for the exporter: the reads as they came, sent with one ``sendmsg`` each time.

    Not a ``bytearray``: once its head has been sent, CPython copies the whole rest on the next
    append, which at a few MiB buffered costs more than everything else this process does."""

    __slots__ = ("_chunks", "_offset", "size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._offset = 0  # of the first chunk, already sent
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def append(self, data: bytes) -> None:
        self._chunks.append(data)
        self.size += len(data)

    def clear(self) -> None:
        self._chunks.clear()
        self._offset = 0
        self.size = 0

    def send_to(self, sock: socket.socket) -> None:
        chunks = self._chunks
        buffers: list[memoryview | bytes] = [memoryview(chunks[0])[self._offset :]]
        buffers.extend(itertools.islice(chunks, 1, _SEND_CHUNKS))
        sent = sock.sendmsg(buffers)
        self.size -= sent
        sent += self._offset
        while chunks and sent >= len(chunks[0]):
            sent -= len(chunks.popleft())
        self._offset = sent


class _Relay:
    def __init__(
        self, upstream: socket.socket, downstream: socket.socket, limit: int, soft: int, report: _Report
    ) -> None:
        self.up = upstream
        self.down = downstream
        self.limit = limit
        self.soft = soft
        self.report = report
        self.inbound = _Chunks()  # Asterisk -> exporter
        self.outbound = bytearray()  # exporter -> Asterisk
        self.up_open = True  # still reading Asterisk
        self.down_open = True  # still reading the exporter
        self.next_trickle = 0.0
        self.flush_deadline: float | None = None
        self.full = False
        self.reads = 0
        self.last_read: float | None = None
        self.longest_gap = 0.0
        self.peak = 0
        self.reported_level = 0
        self.next_level = 0.0
        self.selector = selectors.DefaultSelector()
        self.masks = {upstream: 0, downstream: 0}

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        for sock in (self.up, self.down):
            sock.setblocking(False)
        while not self._finished():
            now = time.monotonic()
            self._set_mask(
                self.up, (_READ if self._may_read_up(now) else 0) | (_WRITE if self.outbound else 0)
            )
            self._set_mask(self.down, (_READ if self.down_open else 0) | (_WRITE if self.inbound else 0))
            for key, mask in self.selector.select(self._timeout(now)):
                if key.fileobj is self.up:
                    if mask & _WRITE:
                        self._send_up()
                    if mask & _READ:
                        self._read_up()
                else:
                    if mask & _WRITE:
                        self._send_down()
                    if mask & _READ:
                        self._read_down()
            self._report_level()
        self.report("stats", self.reads, f"{self.longest_gap:.6f}", self.peak)

    def _finished(self) -> bool:
        if not self.down_open:
            # The exporter is gone: deliver its last actions, for a while, and stop.
            return not self.outbound or not self.up_open or time.monotonic() >= (self.flush_deadline or 0.0)
        return not self.up_open and not self.inbound  # Asterisk is gone and all of it delivered

    def _may_read_up(self, now: float) -> bool:
        if not self.up_open or not self.down_open:
            return False
        level = len(self.inbound)
        if level >= self.limit:
            if not self.full:
                self.full = True
                self.report("full", self.limit)
            return False
        self.full = False
        return level < self.soft or now >= self.next_trickle

    def _timeout(self, now: float) -> float | None:
        waits: list[float] = []
        level = len(self.inbound)
        if self.up_open and self.soft <= level < self.limit and now < self.next_trickle:
            waits.append(self.next_trickle - now)
        if level != self.reported_level:
            waits.append(max(self.next_level - now, 0.0))
        if self.flush_deadline is not None:
            waits.append(max(self.flush_deadline - now, 0.0))
        return min(waits) if waits else None

    def _set_mask(self, sock: socket.socket, mask: int) -> None:
        old = self.masks[sock]
        if mask == old:
            return
        if old == 0:
            self.selector.register(sock, mask)
        elif mask == 0:
            self.selector.unregister(sock)
        else:
            self.selector.modify(sock, mask)
        self.masks[sock] = mask

    # -- Asterisk's side ------------------------------------------------------------------------

    def _read_up(self) -> None:
        trickling = len(self.inbound) >= self.soft
        try:
            data = self.up.recv(TRICKLE_BYTES if trickling else READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._upstream_failed(error)
            return
        if not data:
            self.up_open = False
            return
        now = time.monotonic()
        if self.last_read is not None:
            self.longest_gap = max(self.longest_gap, now - self.last_read)
        self.last_read = now
        self.reads += 1
        self.inbound.append(data)
        self.peak = max(self.peak, len(self.inbound))
        if len(self.inbound) >= self.soft:
            self.next_trickle = now + TRICKLE_SECONDS

    def _send_up(self) -> None:
        try:
            sent = self.up.send(self.outbound)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._upstream_failed(error)
            return
        del self.outbound[:sent]

    def _upstream_failed(self, error: OSError) -> None:
        if self.up_open:
            name = errno.errorcode.get(error.errno or 0, "error")
            self.report("upstream-error", name, error.strerror or error)
        self.up_open = False
        self.outbound.clear()

    # -- the exporter's side --------------------------------------------------------------------

    def _send_down(self) -> None:
        try:
            self.inbound.send_to(self.down)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._exporter_gone()

    def _read_down(self) -> None:
        try:
            data = self.down.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self.outbound += data
        else:
            self._exporter_gone()

    def _exporter_gone(self) -> None:
        self.down_open = False
        self.inbound.clear()
        self.flush_deadline = time.monotonic() + FLUSH_SECONDS

    def _report_level(self) -> None:
        level = len(self.inbound)
        now = time.monotonic()
        if level != self.reported_level and now >= self.next_level:
            self.report("level", level, self.peak)
            self.reported_level = level
            self.next_level = now + LEVEL_SECONDS


def relay(
    upstream: socket.socket, downstream: socket.socket, *, limit: int, soft: int, report: TextIO = sys.stderr
) -> None:
    """Move bytes between ``upstream`` (Asterisk) and ``downstream`` (the exporter) until one ends."""
    if not 0 < soft <= limit:
        raise ValueError(f"need 0 < soft <= limit, not soft={soft} limit={limit}")
    try:
        _Relay(upstream, downstream, limit, soft, _Report(report)).run()
    finally:
        for sock in (upstream, downstream):
            sock.close()


def main(argv: list[str] | None = None) -> None:
    """``UPSTREAM_FD DOWNSTREAM_FD LIMIT SOFT``: the descriptors are inherited from the exporter."""
    args = sys.argv[1:] if argv is None else argv
    # Ctrl-C in a terminal reaches the whole process group: the exporter decides when to stop,
    # and its closing the socket pair ends this process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A report must never make this process wait (the exporter reads them on its event loop): if
    # the pipe is ever full, a report is dropped instead.
    os.set_blocking(sys.stderr.fileno(), False)
    upstream_fd, downstream_fd, limit, soft = (int(arg) for arg in args)
    relay(socket.socket(fileno=upstream_fd), socket.socket(fileno=downstream_fd), limit=limit, soft=soft)
