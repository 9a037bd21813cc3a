"""The exporter's side of the reader process (:mod:`.relay`): start it, hear its reports, reap it.

:meth:`Relay.start` hands a connected TCP socket to a new ``python`` process running
:func:`.relay.main` and returns the local end of a socket pair to read instead. The process is
started with :func:`asyncio.create_subprocess_exec` (exec, not fork: forking a process with a
render thread and an event loop is unsafe) and inherits exactly two descriptors.

Why a process and not a reader thread: a thread needs the GIL after every ``recv`` and waits up
to the interpreter's switch interval (5 ms) for it while a scrape renders, as the event loop does
today; a process does not share the GIL at all. Why not ``multiprocessing``: its ``spawn``
start re-imports the parent's main module, and its ``fork`` start has the same problem as
forking. Why not ``socat``: one more binary to install, and it neither bounds its buffer nor
paces reads when the exporter falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .backlog import BacklogStats
from .relay import REPORT_PREFIX

log = logging.getLogger(__name__)

_ENTRY = "from ami_exporter.ami.relay import main; main()"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# How long a relay may take to exit once its socket pair is closed before it is killed: it only
# has to flush a Logoff.
EXIT_SECONDS = 3.0


class ReaderProcessError(OSError):
    """The reader process could not be started (no interpreter, no processes or descriptors left)."""


@dataclass(slots=True)
class RelayStats:
    """What the reader process reported about its own reads (for ``bench.stall`` and logs)."""

    level: int = 0  # bytes buffered, as of its last report (at most 0.5 s old)
    peak: int = 0
    reads: int = 0
    longest_gap: float = 0.0  # seconds between two reads of the AMI socket, at most
    upstream_error: str | None = None  # Asterisk reset the connection (rather than closing it)


class Relay:
    """A running reader process and the socket the session reads from."""

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        sock: socket.socket,
        *,
        sockname: object,
        peername: object,
        backlog_stats: BacklogStats,
    ) -> None:
        self.process = process
        self.socket = sock
        self.sockname = sockname  # of the AMI connection, not of the socket pair
        self.peername = peername
        self.stats = RelayStats()
        self._backlog_stats = backlog_stats
        assert process.stderr is not None
        self._reports = asyncio.create_task(self._read_reports(process.stderr))

    @classmethod
    async def start(
        cls,
        upstream: socket.socket,
        *,
        limit: int,
        backlog_stats: BacklogStats | None = None,
    ) -> Relay:
        """Hand ``upstream`` (connected) to a new reader process, which then owns it.

        If the process cannot be started (:class:`ReaderProcessError`), ``upstream`` stays
        open and the caller's: reading it in the exporter beats not connecting at all.
        """
        if not sys.executable:
            raise ReaderProcessError("no Python interpreter to start (sys.executable is empty)")
        sockname, peername = upstream.getsockname(), upstream.getpeername()
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-S",  # no site-packages: the standard library and this package suffice
                "-c",
                _ENTRY,
                str(upstream.fileno()),
                str(theirs.fileno()),
                str(limit),
                str(max(limit // 4, 1)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(upstream.fileno(), theirs.fileno()),
                env=_child_environment(),
            )
        except OSError as error:
            ours.close()
            theirs.close()
            raise ReaderProcessError(f"cannot start {sys.executable}: {error}") from error
        except BaseException:
            ours.close()
            theirs.close()
            upstream.close()
            raise
        # Only the child holds the AMI connection from now on: when it exits, Asterisk sees the
        # close.
        theirs.close()
        upstream.close()
        return cls(
            process,
            ours,
            sockname=sockname,
            peername=peername,
            backlog_stats=backlog_stats if backlog_stats is not None else BacklogStats(),
        )

    async def _read_reports(self, stderr: asyncio.StreamReader) -> None:
        while line := await stderr.readline():
            self._report(line.decode("utf-8", "replace").rstrip())

    def _report(self, line: str) -> None:
        head, _, rest = line.partition(" ")
        if head != REPORT_PREFIX:
            log.error("AMI reader process: %s", line)  # a traceback, or Python refusing to start
            return
        kind, _, values = rest.partition(" ")
        words = values.split(" ")
        stats = self.stats
        try:
            if kind == "level":
                stats.level, stats.peak = int(words[0]), int(words[1])
                self._backlog_stats.peak_bytes = max(self._backlog_stats.peak_bytes, stats.peak)
            elif kind == "full":
                self._backlog_stats.times_full += 1
                log.warning(
                    "the AMI reader process holds %s bytes not yet taken by the exporter, its limit: "
                    "events arrive faster than they are folded; it reads no more until there is room",
                    words[0],
                )
            elif kind == "upstream-error":
                stats.upstream_error = values
                log.debug("AMI connection lost in the reader process: %s", values)
            elif kind == "stats":
                stats.reads, stats.longest_gap, stats.peak = int(words[0]), float(words[1]), int(words[2])
                stats.level = 0
            else:
                raise ValueError(kind)
        except (IndexError, ValueError):
            log.warning("AMI reader process: unexpected report %r", rest)  # a bug: two versions?

    async def wait(self, timeout: float = EXIT_SECONDS) -> int:
        """Wait for the process to exit (killing it after ``timeout``) and for its last report."""
        try:
            async with asyncio.timeout(timeout):
                returncode = await self.process.wait()
        except TimeoutError:
            log.warning("the AMI reader process did not exit within %.1f s; killing it", timeout)
            returncode = await self._kill()
        except asyncio.CancelledError:
            await asyncio.shield(self._kill())
            raise
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._reports
        if returncode != 0:
            log.error("the AMI reader process exited with status %d", returncode)
        return returncode

    async def _kill(self) -> int:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        return await self.process.wait()


def _child_environment() -> dict[str, str]:
    # The child must import this very package, also when it runs from a source tree that is not
    # installed (``python -m ami_exporter`` in a checkout).
    environment = dict(os.environ)
    paths = [_PACKAGE_ROOT, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return environment
