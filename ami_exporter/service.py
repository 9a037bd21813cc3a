"""Keeps one AMI session alive and the model in step with Asterisk.

Per session: connect, log in, ``ListCommands`` (what may we run?), reconcile (``QueueStatus``,
and ``CoreShowChannels``/``BridgeList``/``CoreSettings``/``CoreStatus`` and the SIP snapshots of
``sip_snapshots`` where permitted), then
ping and reconcile on their intervals until the session ends; reconnect with capped
exponential backoff and jitter. Login failures are logged once per state change, never per
attempt, and never end the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field

from .ami.backlog import DEFAULT_BACKLOG_LIMIT, BacklogStats
from .ami.client import (
    DEFAULT_EVENT_MASK,
    AMIError,
    AuthenticationError,
    ConnectionLostError,
    DisconnectReason,
    ListReply,
    Session,
)
from .ami.protocol import DEFAULT_MAX_FRAME_BYTES, Message
from .gc_policy import GCPolicy
from .pbx import PBX, QueueSnapshot
from .secret import SecretError
from .secret import SecretSource as SecretSource  # re-exported: settings are built with it
from .sip_snapshots import SIP_SNAPSHOT_ACTIONS, reconcile_sip

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AMISettings:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "exporter"
    secret: SecretSource = field(default_factory=SecretSource)
    auth: str = "auto"  # one of ami.client.AUTH_MODES
    events: str = DEFAULT_EVENT_MASK
    ping_interval: float = 10.0
    reconcile_interval: float = 30.0
    connect_timeout: float = 10.0
    action_timeout: float = 10.0
    list_timeout: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # A session must have reconciled and stayed up this long before the backoff starts again
    # from its first step: a server that drops us right after login must not get a login storm.
    healthy_after: float = 30.0
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    # Bytes read and not yet folded, at most (see ami/backlog.py): bounded memory when folding
    # falls behind, without making Asterisk wait.
    backlog_limit: int = DEFAULT_BACKLOG_LIMIT
    # Read the AMI socket in a separate process (ami/relay.py): a render holding the GIL cannot
    # then delay reading past Asterisk's writetimeout.
    reader_process: bool = os.name == "posix"
    ssl_context: ssl.SSLContext | None = None
    server_hostname: str | None = None

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(slots=True)
class ConnectionStatus:
    """The exporter's own view of its AMI connection, read by the exporter collector."""

    up: bool = False
    ready: bool = False
    logins: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("success", "auth_failed", "error"), 0)
    )
    disconnects: dict[str, int] = field(
        default_factory=lambda: {reason.value: 0 for reason in DisconnectReason}
    )
    malformed_frames: int = 0  # finished sessions; add the live decoder's counts for the total
    reconciles: int = 0
    last_reconcile_time: float = 0.0  # Unix time the last complete reconcile finished
    backlog: BacklogStats = field(default_factory=BacklogStats)  # across sessions
    session: Session | None = None

    @property
    def live(self) -> bool:
        """Whether the model's live state (callers, members, channels, endpoints) is Asterisk's
        state now: logged in and reconciled in this session. Until then, gauges of a PBX we
        cannot see are not exported; counters always are."""
        return self.up and self.ready

    def malformed_total(self) -> int:
        session = self.session
        live = 0
        if session is not None:
            live = session.decoder.malformed_frames + session.decoder.oversized_frames
        return self.malformed_frames + live


class Backoff:
    """Capped exponential backoff with jitter: 0.5 s doubling to 30 s, each delay drawn from
    [50 %, 100 %] of the step so that a fleet of exporters does not reconnect in lockstep."""

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None) -> None:
        self.initial = initial
        self.maximum = maximum
        self._step = initial
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        delay = self._step * self._rng.uniform(0.5, 1.0)
        self._step = min(self._step * 2, self.maximum)
        return delay

    def reset(self) -> None:
        self._step = self.initial


class AMIService:
    """Owns the reconnect loop; started and stopped by the web app's ``cleanup_ctx``."""

    def __init__(
        self,
        settings: AMISettings,
        pbx: PBX,
        status: ConnectionStatus | None = None,
        backoff: Backoff | None = None,
        gc_policy: GCPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.pbx = pbx
        self.status = status or ConnectionStatus()
        self._backoff = backoff or Backoff(settings.backoff_initial, settings.backoff_max)
        self.gc_policy = gc_policy or GCPolicy()
        self._stopping = False
        self._state = "starting"  # for logging state changes only
        self._reconcile_now = asyncio.Event()
        self._reconciled_once = False
        self._queue_status_warned = False
        self._logged_in_at = 0.0  # monotonic time of the current session's login
        self._plain_fallback_warned = False
        self.sent_actions: Counter[str] = Counter()  # all sessions, by action: audited by tests

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        while not self._stopping:
            try:
                await self._one_session()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must survive anything; say what happened once
                log.exception("unexpected error in the AMI session; reconnecting")
            if self._stopping:
                break
            await asyncio.sleep(self._backoff.next_delay())

    async def stop(self) -> None:
        """Log off politely (bounded to about a second) so Asterisk logs a clean goodbye."""
        self._stopping = True
        session = self.status.session
        if session is not None:
            await session.logoff(timeout=0.8)
            session.close()
            await session.wait_closed()

    # -- one session ----------------------------------------------------------------------------

    async def _one_session(self) -> None:
        settings = self.settings
        try:
            secret = settings.secret.read()
        except SecretError as error:
            self._set_state("no_secret", logging.ERROR, "%s; retrying with backoff", error)
            self.status.logins["error"] += 1
            return
        try:
            session = await Session.connect(
                settings.host,
                settings.port,
                self._on_event,
                wants=self.pbx.wants,
                on_skipped=self.pbx.count_many,
                ssl_context=settings.ssl_context,
                server_hostname=settings.server_hostname,
                timeout=settings.connect_timeout,
                max_frame_bytes=settings.max_frame_bytes,
                backlog_limit=settings.backlog_limit,
                backlog_stats=self.status.backlog,
                reader_process=settings.reader_process,
            )
        except (OSError, TimeoutError, ConnectionLostError) as error:
            self.status.logins["error"] += 1
            self._set_state(
                "unreachable",
                logging.WARNING,
                "cannot connect to Asterisk AMI at %s: %s; retrying with backoff",
                settings.address,
                _describe(error),
            )
            return
        self.status.session = session
        session.sent_actions = self.sent_actions
        try:
            await self._login(session, secret)
            if not session.logged_in:
                return
            await self._serve(session)
        finally:
            self._end_session(session)
            # The reader process (if any) exits once its socket pair is closed: wait for it, so
            # that no session outlives its own end, also when this task is being cancelled.
            try:
                await session.wait_closed()
            except asyncio.CancelledError:
                await session.wait_closed()
                raise

    async def _login(self, session: Session, secret: str) -> None:
        settings = self.settings
        self.pbx.system.set_ami_version(session.ami_version)
        try:
            method = await session.login(
                settings.username,
                secret,
                auth=settings.auth,
                events=settings.events,
                timeout=settings.action_timeout,
            )
        except AuthenticationError as error:
            self.status.logins["auth_failed"] += 1
            self._set_state(
                "auth_failed",
                logging.ERROR,
                "AMI login as %r at %s failed: %s (check the secret, that the user exists in "
                "manager.conf and that its permit= lines allow this host); retrying with backoff",
                settings.username,
                settings.address,
                error,
            )
            return
        except (AMIError, ConnectionLostError, TimeoutError) as error:
            self.status.logins["error"] += 1
            self._set_state(
                "login_error",
                logging.WARNING,
                "AMI login as %r at %s did not complete: %s; retrying with backoff",
                settings.username,
                settings.address,
                _describe(error),
            )
            return
        finally:
            self._warn_plain_fallback(session)
        self.status.logins["success"] += 1
        self.status.up = True
        self._logged_in_at = time.monotonic()
        self._set_state(
            "connected",
            logging.INFO,
            "AMI session established with Asterisk at %s as %r (AMI %s, %s login)",
            settings.address,
            settings.username,
            session.ami_version or "unknown",
            method,
        )

    async def _serve(self, session: Session) -> None:
        settings = self.settings
        try:
            permitted = await session.discover_permitted(timeout=settings.action_timeout)
        except ConnectionLostError:
            return  # _end_session counts and logs the disconnect
        except (AMIError, TimeoutError) as error:
            # Without ListCommands, only use actions every user may run (authority 0).
            log.warning("ListCommands failed (%s); using only unprivileged actions", _describe(error))
            session.permitted = permitted = frozenset({"Ping", "QueueStatus", "QueueSummary", "BridgeList"})
        log.debug("AMI user may run: %s", ", ".join(sorted(permitted)))
        if "CoreShowChannels" not in permitted:
            # No channel snapshot will ever correct the channel model, and hang-ups missed while
            # we were away would stay forever: start afresh. An undercount heals as calls end;
            # an overcount never would. Bridges likewise, if BridgeList is not allowed either.
            self.pbx.channels.clear_channels()
        if "BridgeList" not in permitted:
            self.pbx.channels.clear_bridges()
        self.pbx.new_session()
        self._reconciled_once = False
        self._reconcile_now.clear()
        tasks = [
            asyncio.create_task(self._reconcile_loop(session), name="ami-reconcile"),
            asyncio.create_task(self._ping_loop(session), name="ami-ping"),
        ]
        for task in tasks:
            task.add_done_callback(lambda task: self._periodic_task_ended(session, task))
        try:
            await asyncio.shield(session.closed)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def _periodic_task_ended(self, session: Session, task: asyncio.Task[None]) -> None:
        """A ping or reconcile loop only ends with its session. If one died of a bug, the
        session would live on without it (no reconcile, no dead-peer detection): say so and
        start a new session."""
        if task.cancelled() or session.closed.done():
            return
        error = task.exception()
        if error is None:
            return
        log.error(
            "the AMI %s task failed; restarting the session",
            task.get_name().removeprefix("ami-"),
            exc_info=error,
        )
        session.abort(DisconnectReason.ERROR)

    def _end_session(self, session: Session) -> None:
        status = self.status
        status.malformed_frames += session.decoder.malformed_frames + session.decoder.oversized_frames
        was_up = status.up
        status.up = False
        status.ready = False
        status.session = None
        if not session.closed.done():
            session.close(DisconnectReason.ERROR)
        reason = session.closed.result()
        # Nothing streams now: the one moment a full garbage collection cannot stall the reader.
        self.gc_policy.refresh()
        lived = time.monotonic() - self._logged_in_at
        if was_up and self._reconciled_once and lived >= self.settings.healthy_after:
            self._backoff.reset()  # a healthy session ended: reconnect quickly
        if was_up:
            status.disconnects[reason.value] += 1
            if self._stopping:
                log.debug("AMI session with %s closed on shutdown", self.settings.address)
                return
            self._set_state(
                "disconnected",
                logging.WARNING,
                "AMI session with %s ended (%s); reconnecting with backoff",
                self.settings.address,
                reason.value,
            )

    # -- periodic work ----------------------------------------------------------------------------

    async def _ping_loop(self, session: Session) -> None:
        interval = self.settings.ping_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await session.action("Ping", timeout=interval)
            except TimeoutError:
                log.warning(
                    "no reply to Ping from %s within %.1fs; the connection is dead (half-open?)",
                    self.settings.address,
                    interval,
                )
                session.abort(DisconnectReason.PING_TIMEOUT)
                return
            except (AMIError, ConnectionLostError):
                return

    async def _reconcile_loop(self, session: Session) -> None:
        while True:
            try:
                await self.reconcile(session)
            except ConnectionLostError:
                return
            except TimeoutError:
                log.warning(
                    "a reconcile poll timed out; the next one runs in %.0fs", self.settings.reconcile_interval
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.reconcile_interval):
                    await self._reconcile_now.wait()
            self._reconcile_now.clear()

    async def reconcile(self, session: Session) -> None:
        """Take every snapshot this user may take and replace the model's state with it."""
        outcomes = await take_snapshots(session, self.pbx, list_timeout=self.settings.list_timeout)
        queue_error = outcomes.get("QueueStatus")
        if queue_error is not None and not self._queue_status_warned:
            log.warning(
                "QueueStatus failed (%s): is app_queue loaded? Queue state comes from events "
                "only until it works",
                queue_error,
            )
        if "QueueStatus" in outcomes:
            self._queue_status_warned = queue_error is not None
        self._reconciled_once = True
        self.status.reconciles += 1
        self.status.last_reconcile_time = time.time()
        self.status.ready = True
        # The model now holds what will live for a while: keep it out of full collections.
        self.gc_policy.settle()

    # -- events -------------------------------------------------------------------------------------

    def _on_event(self, message: Message) -> None:
        name = message.name
        pbx = self.pbx
        pbx.count(name)
        pbx.apply(name, message.view)
        if name == "FullyBooted":
            # Logged in before boot completed (cold start): snapshot again now that modules are up.
            if self._reconciled_once:
                self._reconcile_now.set()
        elif name == "Shutdown":
            session = self.status.session
            if session is not None:
                session.shutdown_seen = True

    # -- logging ----------------------------------------------------------------------------------

    def _warn_plain_fallback(self, session: Session) -> None:
        """``--ami.auth auto`` sent the secret in plain text: say so once per process, not per login."""
        if self.settings.auth != "auto" or session.login_method != "plain" or self._plain_fallback_warned:
            return
        self._plain_fallback_warned = True
        log.warning(
            "the AMI server at %s refused the MD5 challenge, so the secret was sent in plain text "
            "(--ami.auth auto); logged once: use --ami.auth plain to accept this or md5 to refuse it",
            self.settings.address,
        )

    def _set_state(self, state: str, level: int, message: str, *args: object) -> None:
        """Log on state changes only: a PBX that refuses us every 30 s must not flood the log."""
        if state == self._state:
            log.debug(message, *args)
            return
        self._state = state
        log.log(level, message, *args)


# The snapshots of a reconcile, in order; each is taken only when ListCommands permits it. The SIP
# ones (sip_snapshots.py) follow the core ones.
_CORE_SNAPSHOT_ACTIONS = ("QueueStatus", "CoreShowChannels", "BridgeList", "CoreSettings", "CoreStatus")
SNAPSHOT_ACTIONS = (*_CORE_SNAPSHOT_ACTIONS, *SIP_SNAPSHOT_ACTIONS)


async def take_snapshots(session: Session, pbx: PBX, *, list_timeout: float = 60.0) -> dict[str, str | None]:
    """Run every snapshot action the session may run and fold each reply into the model.

    Returns, for each action sent, ``None`` when it worked or Asterisk's error message. Shared by the
    service's reconcile loop and ``ami-exporter check``. A lost connection or a timeout propagates.
    Each list is applied by the session at the point of the stream where its "...Complete" arrives,
    before the events Asterisk flushes right after it.
    """

    def apply_queues(reply: ListReply) -> None:
        pbx.reconcile_queues(QueueSnapshot.from_items(reply.item_fields()))

    def apply_channels(reply: ListReply) -> None:
        pbx.reconcile_channels(item.fields for item in reply.items)

    def apply_bridges(reply: ListReply) -> None:
        pbx.reconcile_bridges(item.fields for item in reply.items)

    lists = {"QueueStatus": apply_queues, "CoreShowChannels": apply_channels, "BridgeList": apply_bridges}
    permitted = session.permitted or frozenset()
    outcomes: dict[str, str | None] = {}
    for name in _CORE_SNAPSHOT_ACTIONS:
        if name not in permitted:
            continue
        try:
            if name in lists:
                await session.list_action(name, timeout=list_timeout, apply=lists[name])
            elif name == "CoreSettings":
                pbx.system.core_settings((await session.action(name)).fields)
            else:
                pbx.system.core_status((await session.action(name)).fields)
        except AMIError as error:
            outcomes[name] = error.message or "error"
        else:
            outcomes[name] = None
    outcomes.update(await reconcile_sip(session, pbx, permitted, list_timeout))
    return outcomes


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
