"""One AMI session over TCP (or TLS): banner, login, ActionID correlation, list actions, Ping.

The socket is read by an ``asyncio.Protocol``. Asterisk drops a client that does not read within
``writetimeout`` (100 ms by default), so reading never waits for folding: ``data_received``
appends to a bounded :class:`~.backlog.Backlog`, and the backlog is decoded and handed to the
synchronous event callback in slices of a few milliseconds, the event loop polling the socket
between slices.
Replies are routed only when they carry an ActionID this session sent and still waits for;
everything else, including events with other clients' ActionIDs, is an ordinary event.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from .actions import READ_ONLY_ACTIONS, SESSION_ACTIONS, ForbiddenActionError
from .backlog import DEFAULT_BACKLOG_LIMIT, Backlog, BacklogStats
from .connection import open_socket as open_socket
from .connection import open_transport
from .errors import AMIError as AMIError
from .errors import AuthenticationError as AuthenticationError
from .errors import ConnectionLostError as ConnectionLostError
from .errors import DisconnectReason as DisconnectReason
from .login import AUTH_MODES as AUTH_MODES
from .login import DEFAULT_EVENT_MASK as DEFAULT_EVENT_MASK
from .login import listed_actions as listed_actions
from .login import log_in
from .protocol import DEFAULT_MAX_FRAME_BYTES, Decoder, Kind, Message, encode_action
from .relay_handle import Relay
from .replies import ListApply as ListApply
from .replies import ListReply as ListReply
from .replies import Pending, Replies, with_list_replies

log = logging.getLogger(__name__)

EventCallback = Callable[[Message], None]
# Events the ``wants`` filter turned away, counted by name, once per read (not once per event).
SkippedCallback = Callable[[dict[str, int]], None]


# One slice of folding: after this much time the loop gets back to the socket (and to everything
# else it serves) before the next slice. Short against writetimeout, long against the ~1 µs a
# loop iteration costs.
FOLD_SLICE_SECONDS = 0.004
# Decoded at a time within a slice (the deadline is checked between chunks): ~150 events, ~1 ms.
# Smaller chunks cost throughput (16 KiB: -6 % in memory, per-chunk decoder and tally overhead).
FOLD_CHUNK_BYTES = 64 * 1024
# The backlog of a session fed by a reader process (which holds up to ``backlog_limit`` itself).
RELAYED_BACKLOG_LIMIT = 1024 * 1024


class _Protocol(asyncio.Protocol):
    def __init__(self, session: Session) -> None:
        self._session = session

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._session._connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._session._data_received(data)

    def eof_received(self) -> bool | None:
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._session._connection_lost(exc)


class Session:
    """A single AMI connection. Create with :meth:`connect`; the owner decides on reconnects."""

    def __init__(
        self,
        on_event: EventCallback,
        *,
        wants: Callable[[str], bool] | None = None,
        on_skipped: SkippedCallback | None = None,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        action_id_prefix: str = "amiexp",
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
        backlog_stats: BacklogStats | None = None,
        relay: Relay | None = None,
    ) -> None:
        if wants is not None and on_skipped is None:
            raise ValueError(
                "a wants() filter needs on_skipped: the events it turns away must still be counted"
            )
        self._on_event = on_event
        self._on_skipped = on_skipped
        self._decoder = Decoder(max_frame_bytes=max_frame_bytes, wants=with_list_replies(wants))
        self._backlog = Backlog(backlog_limit, backlog_stats)
        self._drain_scheduled = False
        self._reading_paused = False
        self._transport: asyncio.Transport | None = None
        self._relay: Relay | None = None
        if relay is not None:
            self._use_relay(relay)
        self._relay_exit: asyncio.Task[None] | None = None
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # and reaped
        self._replies = Replies()
        self._ids = itertools.count(1)
        self._prefix = f"{action_id_prefix}-"
        self._banner: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[DisconnectReason] = asyncio.get_running_loop().create_future()
        self.banner = ""  # the server's first line, e.g. "Asterisk Call Manager/11.0.0"
        self.ami_version = ""
        self.permitted: frozenset[str] | None = None  # from ListCommands; None = not asked yet
        self.logged_in = False
        self.login_method: str | None = None  # "md5" or "plain" once a Login was sent
        self.shutdown_seen = False
        # How often each action was sent, for audits and tests: bounded by the allowlist, unlike
        # a list of every action (a Ping every 10 s is 8,640 entries a day).
        self.sent_actions: Counter[str] = Counter()

    # -- connection ---------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        on_event: EventCallback,
        *,
        wants: Callable[[str], bool] | None = None,
        on_skipped: SkippedCallback | None = None,
        ssl_context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 10.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
        backlog_stats: BacklogStats | None = None,
        reader_process: bool = False,
    ) -> Session:
        """Open the connection and wait for the banner.

        With ``reader_process``, the AMI socket is read by a separate process (:mod:`.relay`)
        and this session reads that process's copy: no scrape can then delay reading long
        enough for Asterisk's ``writetimeout``.
        """
        backlog_stats = backlog_stats if backlog_stats is not None else BacklogStats()
        session = cls(
            on_event,
            wants=wants,
            on_skipped=on_skipped,
            max_frame_bytes=max_frame_bytes,
            backlog_limit=backlog_limit,
            backlog_stats=backlog_stats,
        )
        async with asyncio.timeout(timeout):
            await open_transport(
                lambda: _Protocol(session),
                host,
                port,
                ssl_context=ssl_context,
                server_hostname=server_hostname,
                reader_process=reader_process,
                limit=backlog_limit,
                backlog_stats=backlog_stats,
                on_relay=session._use_relay,
            )
            # A restarting Asterisk accepts and resets before the banner: that is an error here.
            waiters: list[asyncio.Future[Any]] = [session._banner, session.closed]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            except BaseException:  # timed out or cancelled: nobody else will close it
                session.close()
                await session.wait_closed()
                raise
        banner = session._banner
        if not banner.done() or banner.cancelled():
            session.close()
            raise ConnectionLostError("connection closed before the AMI banner")
        return session

    def _use_relay(self, relay: Relay) -> None:
        """Read from ``relay``'s socket pair (before the first byte arrives)."""
        self._relay = relay
        # The reader process is the buffer that keeps Asterisk going; here, enough to fold
        # without waiting for the next read is all that is needed.
        self._backlog.limit = min(self._backlog.limit, RELAYED_BACKLOG_LIMIT)

    @property
    def decoder(self) -> Decoder:
        return self._decoder

    @property
    def backlog_bytes(self) -> int:
        """Bytes read from Asterisk and not folded yet (in the reader process too, if any)."""
        relayed = self._relay.stats.level if self._relay is not None else 0
        return self._backlog.size + relayed

    @property
    def relay(self) -> Relay | None:
        """The reader process reading the AMI socket for this session, if any."""
        return self._relay

    def extra_info(self, name: str) -> Any:
        """A transport detail (``sockname``, ``peername``, ``ssl_object``, ...); None when unknown."""
        if self._relay is not None and name in ("sockname", "peername"):
            return self._relay.sockname if name == "sockname" else self._relay.peername
        return self._transport.get_extra_info(name) if self._transport is not None else None

    def close(self, reason: DisconnectReason = DisconnectReason.EOF) -> None:
        """Close now; pending actions fail with :class:`ConnectionLostError`."""
        if not self.closed.done():
            self.closed.set_result(reason)
        if self._transport is not None:
            self._transport.close()
        self._replies.fail_all()

    def abort(self, reason: DisconnectReason) -> None:
        """Drop the connection without waiting for buffered writes (dead peer)."""
        if not self.closed.done():
            self.closed.set_result(reason)
        if self._transport is not None:
            self._transport.abort()
        self._replies.fail_all()

    # -- protocol callbacks (run on the loop, never block) --------------------------------------

    def _connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def _connection_lost(self, exc: Exception | None) -> None:
        # What was read before the end is Asterisk's last word (a Shutdown, the final hangups):
        # fold all of it before the session is reported closed.
        try:
            self._drain(budget=None)
        except Exception:
            log.exception("folding the last AMI events of a closed session failed")
        if self._relay is None:
            self._end(exc)
        else:
            # Whether Asterisk closed or reset the connection, only the reader process knows: it
            # reports a reset before closing the socket pair, and it exits right after.
            self._relay_exit = asyncio.get_running_loop().create_task(self._end_after_relay(exc))

    async def _end_after_relay(self, exc: Exception | None) -> None:
        assert self._relay is not None
        try:
            await self._relay.wait()
        finally:
            self._end(exc, self._relay.stats.upstream_error)

    def _end(self, exc: Exception | None, upstream_error: str | None = None) -> None:
        if not self.closed.done():
            reason = DisconnectReason.SHUTDOWN if self.shutdown_seen else DisconnectReason.EOF
            if (exc is not None or upstream_error is not None) and not self.shutdown_seen:
                reason = DisconnectReason.ERROR
                log.debug("AMI connection lost: %s", exc or upstream_error)
            self.closed.set_result(reason)
        if not self._banner.done():
            self._banner.cancel()
        self._replies.fail_all()
        if not self._ended.done():
            self._ended.set_result(None)

    async def wait_closed(self) -> None:
        """Until the connection is gone and its reader process (if any) has exited."""
        await asyncio.shield(self._ended)

    def _data_received(self, data: bytes) -> None:
        backlog = self._backlog
        backlog.append(data)
        if backlog.full and not self._reading_paused and self._transport is not None:
            # Bounded memory first: stop reading until a slice has made room (one slice, a few ms).
            self._transport.pause_reading()
            self._reading_paused = True
            if self._relay is None:
                backlog.stats.times_full += 1
                log.warning(
                    "the AMI backlog reached its limit of %d bytes: events arrive faster than they "
                    "are folded; reading paused for one fold slice",
                    backlog.limit,
                )
            # With a reader process this is plain flow control: the process holds the rest and
            # reports when its own limit is reached.
        if not self._drain_scheduled:
            self._drain()

    def _drain(self, budget: float | None = FOLD_SLICE_SECONDS) -> None:
        """Fold from the backlog for ``budget`` seconds (None: all of it), then yield to the loop."""
        self._drain_scheduled = False
        backlog = self._backlog
        deadline = time.perf_counter() + budget if budget is not None else None
        while backlog:
            self._fold(backlog.take(FOLD_CHUNK_BYTES))
            if deadline is not None and time.perf_counter() >= deadline:
                break
        if backlog and budget is not None:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain_later)
        if self._reading_paused and not backlog.full and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()

    def _drain_later(self) -> None:
        try:
            self._drain()
        except Exception:
            # The same outcome as a failing data_received: the session ends, the owner reconnects.
            log.exception("folding AMI events failed; closing the session")
            self._backlog.clear()  # not folded again by connection_lost
            self.abort(DisconnectReason.ERROR)

    def _fold(self, data: bytes) -> None:
        decoder = self._decoder
        for message in decoder.feed(data):
            kind = message.kind
            if kind is Kind.EVENT:
                action_id = message.action_id
                if action_id is not None and action_id in self._replies:
                    self._replies.list_item(action_id, message)
                    continue
                self._on_event(message)
            elif kind is Kind.RESPONSE:
                self._replies.response(message)
            elif not self._banner.done():
                self.banner = message.name
                self.ami_version = message.name.rpartition("/")[2]
                self._banner.set_result(self.ami_version)
        if decoder.skipped:
            skipped = decoder.take_skipped()
            if self._on_skipped is not None:
                self._on_skipped(skipped)

    # -- actions --------------------------------------------------------------------------------

    def _send(
        self, name: str, fields: Mapping[str, str], *, is_list: bool, apply: ListApply | None = None
    ) -> tuple[str, Pending]:
        if name not in READ_ONLY_ACTIONS:
            raise ForbiddenActionError(f"{name} is not a read-only action; the exporter never sends it")
        if self.permitted is not None and name not in SESSION_ACTIONS and name not in self.permitted:
            raise ForbiddenActionError(f"the AMI user may not run {name} (not in ListCommands)")
        if self._transport is None or self.closed.done():
            raise ConnectionLostError(f"not connected; cannot send {name}")
        action_id = f"{self._prefix}{next(self._ids)}"
        # Encode first: a refused value must not leave a reply future behind that nobody awaits.
        frame = encode_action(name, [("ActionID", action_id), *fields.items()])
        future: asyncio.Future[Message | ListReply] = asyncio.get_running_loop().create_future()
        entry = Pending(name, future, is_list, apply=apply)
        self._replies.expect(action_id, entry)
        self._transport.write(frame)
        self.sent_actions[name] += 1
        return action_id, entry

    async def action(
        self, name: str, fields: Mapping[str, str] | None = None, *, timeout: float = 10.0
    ) -> Message:
        """Send an action and return its reply; ``Response: Error`` raises :class:`AMIError`."""
        action_id, entry = self._send(name, fields or {}, is_list=False)
        try:
            async with asyncio.timeout(timeout):
                reply = await entry.future
        finally:
            self._replies.forget(action_id)
        assert isinstance(reply, Message)
        if reply.name.lower() == "error":
            raise AMIError(name, reply.fields.get("Message", ""))
        return reply

    async def list_action(
        self,
        name: str,
        fields: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
        apply: ListApply | None = None,
    ) -> ListReply:
        """Send a list action and collect items until its ``...Complete`` event.

        ``apply`` is called with the complete reply synchronously, at the point of the stream
        where the ``...Complete`` arrives: a snapshot applied after this coroutine resumes would
        overwrite the events that followed it in the same read. It is not called for an error
        reply or after a timeout; an exception it raises is raised here.
        """
        action_id, entry = self._send(name, fields or {}, is_list=True, apply=apply)
        try:
            async with asyncio.timeout(timeout):
                reply = await entry.future
        finally:
            self._replies.forget(action_id)
        if isinstance(reply, Message):
            if reply.name.lower() == "error":
                raise AMIError(name, reply.fields.get("Message", ""))
            return ListReply(reply)  # a plain Success without a list: nothing to list
        return reply

    # -- login ----------------------------------------------------------------------------------

    async def login(
        self,
        username: str,
        secret: str,
        *,
        auth: str = "auto",
        events: str = DEFAULT_EVENT_MASK,
        timeout: float = 10.0,
    ) -> str:
        """Log in; returns the method used (``md5`` or ``plain``). See :func:`.login.log_in`."""
        method = await log_in(self, username, secret, auth=auth, events=events, timeout=timeout)
        self.logged_in = True
        return method

    async def discover_permitted(self, timeout: float = 10.0) -> frozenset[str]:
        """Ask ``ListCommands`` which actions this user may run (it raises no security event)."""
        reply = await self.action("ListCommands", timeout=timeout)
        self.permitted = listed_actions(reply)
        return self.permitted

    async def logoff(self, timeout: float = 1.0) -> None:
        """Say goodbye politely; errors are irrelevant at this point."""
        if self.closed.done() or not self.logged_in:
            return
        with contextlib.suppress(AMIError, ConnectionLostError, TimeoutError, ForbiddenActionError):
            await self.action("Logoff", timeout=timeout)
