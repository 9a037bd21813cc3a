"""One AMI session: framing of actions, login, privileges, replies and event delivery."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ami_exporter.ami.protocol import encode_message
from ami_exporter.simulator import events as ev
from ami_exporter.simulator import replies
from ami_exporter.simulator.callcenter import CallCenter, security_tv
from ami_exporter.simulator.config import SimulatorConfig, UserConfig
from ami_exporter.simulator.perms import CLASS_BITS, ActionSpec, get_perm, may_run, strings_to_mask
from ami_exporter.simulator.pjsip import SipPlant
from ami_exporter.simulator.shapes import Event, Pairs

__all__ = ["Action", "ActionParser", "Hub", "Session", "SessionStats"]

_FRAME_END = re.compile(rb"\n\r?\n")
_MAX_ACTION_BYTES = 64 * 1024
_NEVER = "1970-01-01T00:00:00.000+0000"
_SYSTEM = CLASS_BITS["system"]
_WRITE_CHECK = 0.01  # seconds between writetimeout progress checks


@dataclass(slots=True)
class Action:
    """A parsed action: headers in order; lookups are case-insensitive and return the first value."""

    headers: list[tuple[str, str]]

    def get(self, key: str, default: str = "") -> str:
        folded = key.lower()
        for name, value in self.headers:
            if name.lower() == folded:
                return value
        return default

    def has(self, key: str) -> bool:
        folded = key.lower()
        return any(name.lower() == folded for name, _ in self.headers)

    @property
    def name(self) -> str:
        return self.get("Action").strip()

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID") if self.has("ActionID") else None


class ActionParser:
    """Asterisk's ``get_input()`` rules: CRLF or bare LF, an empty line ends the action, leading
    blanks of a value are skipped. A frame over 64 KiB without an empty line is dropped."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Action]:
        buffer = self._buffer
        buffer += data
        actions: list[Action] = []
        start = 0
        for match in _FRAME_END.finditer(buffer):
            text = bytes(buffer[start : match.start()]).decode("utf-8", "replace")
            start = match.end()
            headers: list[tuple[str, str]] = []
            for line in text.split("\n"):
                line = line.rstrip("\r")
                if not line:
                    continue
                key, sep, value = line.partition(":")
                if sep:
                    headers.append((key.strip(), value.lstrip(" \t")))
            if headers:
                actions.append(Action(headers))
        del buffer[:start]
        if len(buffer) > _MAX_ACTION_BYTES:
            buffer.clear()
        return actions


@dataclass(slots=True)
class SessionStats:
    id: int
    remote: str
    user: str | None = None
    open: bool = True
    events: Counter[str] = field(default_factory=Counter)
    list_items: Counter[str] = field(default_factory=Counter)
    responses: int = 0
    close_reason: str | None = None
    actions: Counter[str] = field(default_factory=Counter)  # every action received, by name
    write_pauses: int = 0  # times the transport buffer passed write_high_water
    longest_stall: float = 0.0  # longest time (s) without any byte drained while above it


class Hub(Protocol):
    """What a session needs from the server."""

    config: SimulatorConfig
    model: CallCenter
    users: dict[str, UserConfig]
    actions: dict[str, ActionSpec]  # by lower-case name, in ListCommands order
    booted: bool

    def broadcast(self, event: Event) -> None: ...

    def session_closed(self, session: Session) -> None: ...

    def accepting(self) -> str: ...


class Session(asyncio.Protocol):
    def __init__(self, hub: Hub, sid: int) -> None:
        self.hub = hub
        self.id = sid
        self.transport: asyncio.Transport | None = None
        self.stats = SessionStats(sid, "")
        self.parser = ActionParser()
        self.queue: asyncio.Queue[Action] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.user: UserConfig | None = None
        self.readperm = 0
        self.writeperm = 0
        self.send_events = -1
        self.challenge = ""
        self.login_tv = _NEVER
        self.session_id = f"0x7f10{sid * 0x1450 + 0xE4000000:08x}"
        self.frozen = False
        self.closed = False
        self._holding = False
        self._pending: list[Event] = []
        self._write_timer: asyncio.TimerHandle | None = None
        self._written = 0  # bytes handed to the transport
        self._drained_mark = 0  # bytes drained at the last observed progress
        self._progress_at = 0.0  # loop time of the last observed progress (while paused)
        self.local = "IPV4/TCP/127.0.0.1/5038"
        self.remote = "IPV4/TCP/127.0.0.1/0"

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if peer:
            self.remote = f"IPV4/TCP/{peer[0]}/{peer[1]}"
            self.stats.remote = f"{peer[0]}:{peer[1]}"
        if local:
            self.local = f"IPV4/TCP/{local[0]}/{local[1]}"
        mode = self.hub.accepting()
        if mode == "reset":
            self.closed = True
            self.stats.open = False
            self.stats.close_reason = "reset"
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.hub.config.sndbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.hub.config.sndbuf)
        high = self.hub.config.write_high_water
        transport.set_write_buffer_limits(high=high, low=high // 2)
        if mode == "frozen":
            self.freeze()
            return
        self.write_raw(f"{self.hub.config.banner}\r\n".encode())
        self.task = asyncio.get_running_loop().create_task(self._run())

    def data_received(self, data: bytes) -> None:
        if self.frozen or self.closed:
            return
        for action in self.parser.feed(data):
            self.queue.put_nowait(action)

    def eof_received(self) -> bool | None:
        self._closed("eof")
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed("lost" if exc is None else f"lost: {exc}")

    def pause_writing(self) -> None:
        """Asterisk writes each event with a ``writetimeout`` (100 ms by default) and drops the
        client when one write cannot complete in time, i.e. when the client drained nothing for
        that long. Modelled as: while the buffer is above ``write_high_water``, no byte drained
        for ``writetimeout`` closes the session. (A large reply may take longer than 100 ms to
        drain as a whole; Asterisk writes it frame by frame, each with its own timeout.)"""
        self.stats.write_pauses += 1
        if self._write_timer is None:
            self._drained_mark = self._drained()
            self._progress_at = asyncio.get_running_loop().time()
            self._write_timer = asyncio.get_running_loop().call_later(_WRITE_CHECK, self._write_check)

    def resume_writing(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _drained(self) -> int:
        buffered = self.transport.get_write_buffer_size() if self.transport is not None else 0
        return self._written - buffered

    def _write_check(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        drained = self._drained()
        if drained > self._drained_mark:
            self._drained_mark = drained
            self._progress_at = now
        stall = now - self._progress_at
        self.stats.longest_stall = max(self.stats.longest_stall, stall)
        timeout = (self.user.writetimeout_ms if self.user else 100) / 1000
        if stall >= timeout:
            self._write_timer = None
            self._write_timeout()
            return
        self._write_timer = loop.call_later(_WRITE_CHECK, self._write_check)

    # --- state --------------------------------------------------------------------------------

    def _write_timeout(self) -> None:
        self._write_timer = None
        self.stats.close_reason = "writetimeout"
        if self.transport is not None:
            self.transport.abort()
        self._closed("writetimeout")

    def _closed(self, reason: str) -> None:
        if self.closed and not self.stats.open:
            return
        self.closed = True
        self.stats.open = False
        if self.stats.close_reason is None:
            self.stats.close_reason = reason
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()
        self.hub.session_closed(self)

    def close(self, reason: str, *, abort: bool = False) -> None:
        if self.stats.close_reason is None:
            self.stats.close_reason = reason
        if self.transport is not None:
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
        self._closed(reason)

    def freeze(self) -> None:
        self.frozen = True
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def thaw(self) -> None:
        self.frozen = False
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()
            if self.task is None:  # connected while frozen: the banner was never sent
                self.write_raw(f"{self.hub.config.banner}\r\n".encode())
                self.task = asyncio.get_running_loop().create_task(self._run())

    @property
    def authenticated(self) -> bool:
        return self.user is not None

    def wants(self, event: Event) -> bool:
        category = event.category
        return (
            self.user is not None
            and not self.closed
            and self.readperm & category == category
            and self.send_events & category == category
        )

    def deliver(self, event: Event) -> None:
        if self.frozen or self.closed or self.transport is None:
            return
        if self._holding:
            self._pending.append(event)
            return
        data = event.wire()
        self._written += len(data)
        self.transport.write(data)
        self.stats.events[event.name] += 1

    def write_raw(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self._written += len(data)
            self.transport.write(data)

    def _write_reply(self, frames: list[Pairs]) -> None:
        """Write one whole reply, then the events queued while the action ran."""
        if self.transport is None or self.closed:
            return
        chunks: list[bytes] = []
        for frame in frames:
            chunks.append(encode_message(frame))
            key, name = frame[0]
            if key == "Response":
                self.stats.responses += 1
            elif self.user is not None and name == "FullyBooted":
                self.stats.events[name] += 1
            else:
                self.stats.list_items[name] += 1
        data = b"".join(chunks)
        self._written += len(data)
        self.transport.write(data)

    def _flush(self) -> None:
        self._holding = False
        pending, self._pending = self._pending, []
        for event in pending:
            self.deliver(event)

    # --- security events ----------------------------------------------------------------------

    def _security(
        self, name: str, account: str | None, extra: Pairs, *, severity: str = "Error", version: int = 1
    ) -> None:
        event = ev.security(
            name,
            event_tv=security_tv(time.time()),
            severity=severity,
            service="AMI",
            account=account,
            session_id=self.session_id,
            local=self.local,
            remote=self.remote,
            extra=extra,
            session_tv=self.login_tv,
            version=version,
        )
        self.hub.model.security[name] += 1
        self.hub.model.emit(event)

    # --- actions ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self.closed:
            action = await self.queue.get()
            if self.frozen:
                continue
            self._holding = True
            try:
                await self._handle(action)
            finally:
                self._flush()

    async def _handle(self, action: Action) -> None:
        name = action.name
        aid = action.action_id
        self.stats.actions[name] += 1
        if not name:
            self._write_reply([replies.response("Error", aid, ("Message", "Missing action in request"))])
            return
        lname = name.lower()
        if not self.authenticated and lname not in ("login", "logoff", "challenge"):
            self._security("RequestNotAllowed", self._account(), [("RequestType", f"Action: {name}")])
            self._write_reply([replies.response("Error", aid, ("Message", "Permission denied"))])
            return
        if lname == "login":
            await self._login(action)
            return
        spec = self.hub.actions.get(lname)
        if spec is None:
            self._security("RequestBadFormat", self._account(), [("RequestType", f"Action: {name}")])
            message = f"Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
            self._write_reply([replies.response("Error", aid, ("Message", message))])
            return
        if not may_run(self.writeperm, spec):
            self._security("RequestNotAllowed", self._account(), [("RequestType", f"Action: {name}")])
            self._write_reply([replies.response("Error", aid, ("Message", "Permission denied"))])
            return
        handler = _HANDLERS.get(spec.name)
        if handler is None:
            message = f"Action {spec.name} is not implemented by the simulator"
            self._write_reply([replies.response("Error", aid, ("Message", message))])
            return
        frames = handler(self, action, aid)
        if isinstance(frames, bytes):  # a reply Asterisk writes irregularly, byte for byte
            self.write_raw(frames)
            self.stats.responses += 1
            return
        self._write_reply(frames)
        if spec.name == "Logoff":
            self.close("logoff")

    def _account(self) -> str:
        return self.user.name if self.user is not None else ""

    async def _login(self, action: Action) -> None:
        aid = action.action_id
        if self.authenticated:
            self._write_reply([replies.response("Success", aid, ("Message", "Already authenticated"))])
            return
        username = action.get("Username")
        user = self.hub.users.get(username)
        failure: tuple[str, str | None, Pairs, int] | None = None
        if user is None:
            failure = ("InvalidAccountID", username, [], 1)
        elif action.get("AuthType").lower() == "md5":
            expected = hashlib.md5((self.challenge + user.secret).encode()).hexdigest()
            key = action.get("Key")
            if not self.challenge or key != expected:
                extra = [("Challenge", self.challenge), ("Response", key), ("ExpectedResponse", expected)]
                failure = ("ChallengeResponseFailed", "", extra, 1)
        elif action.get("Secret") != user.secret:
            failure = ("InvalidPassword", username, [], 2)
        if failure is not None or user is None:
            assert failure is not None
            kind, account, extra, version = failure
            self._security(kind, account, extra, version=version)
            self._flush()
            self._holding = True
            await asyncio.sleep(self.hub.config.auth_failure_delay)
            self._write_reply([replies.response("Error", aid, ("Message", "Authentication failed"))])
            self.close("auth failed")
            return
        self.user = user
        self.stats.user = user.name
        self.readperm = get_perm(user.read) if user.read else 0
        self.writeperm = get_perm(user.write) if user.write else 0
        events = action.get("Events")
        if events:
            mask = strings_to_mask(events)
            if mask >= 0:
                self.send_events = mask
        self.login_tv = security_tv(time.time())
        frames = [replies.response("Success", aid, ("Message", "Authentication accepted"))]
        model = self.hub.model
        if self.hub.booted and self.readperm & _SYSTEM and self.send_events & _SYSTEM:
            uptime = int(model.now() - model.boot_time)
            reload_age = int(model.now() - model.reload_time)
            booted = ev.fully_booted(uptime, reload_age, at_login=True)
            frames.append([("Event", "FullyBooted"), ("Privilege", "system,all"), *booted.headers])
        self._write_reply(frames)
        self._security("SuccessfulAuth", user.name, [("UsingPassword", "0")], severity="Informational")


# A handler returns the frames of its reply, or the exact bytes of an irregular one.
Handler = Callable[[Session, Action, "str | None"], "list[Pairs] | bytes"]


def _ping(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    return [replies.response("Success", aid, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))]


def _events(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    mask = strings_to_mask(a.get("EventMask"))
    if mask >= 0:
        s.send_events = mask
    if mask > 0:
        return [replies.response("Success", aid, ("Events", "On"))]
    if mask == 0:
        return [replies.response("Success", aid, ("Events", "Off"))]
    return [replies.response("Error", aid, ("Message", "Invalid event mask"))]


def _challenge(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    if not s.hub.config.challenge:
        message = "Invalid/unknown command: Challenge. Use Action: ListCommands to show available commands."
        return [replies.response("Error", aid, ("Message", message))]
    if a.get("AuthType").lower() != "md5":
        return [replies.response("Error", aid, ("Message", "Must specify AuthType"))]
    if not s.challenge:
        s.challenge = str(s.hub.model.rng.randint(10**8, 10**9 - 1))
    return [replies.response("Success", aid, ("Challenge", s.challenge))]


def _logoff(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    return [replies.response("Goodbye", aid, ("Message", "Thanks for all the fish."))]


def _list_commands(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    pairs = [
        (spec.name, f"{spec.synopsis}  (Priv: {spec.priv})")
        for spec in s.hub.actions.values()
        if may_run(s.writeperm, spec)
    ]
    return [replies.response("Success", aid, *pairs)]


def _queue_status(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    return replies.queue_status(s.hub.model, aid, a.get("Queue") or None, a.get("Member") or None)


def _queue_summary(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    return replies.queue_summary(s.hub.model, aid, a.get("Queue") or None)


def _queue_reset(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    s.hub.model.reset_stats(a.get("Queue") or None)
    return [replies.response("Success", aid, ("Message", "Queue stats reset successfully"))]


def _queue_pause(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    iface = a.get("Interface")
    paused = a.get("Paused").lower() in ("yes", "true", "y", "t", "1", "on")
    if iface not in s.hub.model.agents:
        return [replies.response("Error", aid, ("Message", "Interface not found"))]
    changed = s.hub.model.pause_member(
        iface, paused, a.get("Reason") if paused else "", a.get("Queue") or None
    )
    if not changed:
        return [replies.response("Error", aid, ("Message", "Interface not found"))]
    text = "Interface paused successfully" if paused else "Interface unpaused successfully"
    return [replies.response("Success", aid, ("Message", text))]


def _user_event(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    body: Pairs = [("UserEvent", a.get("UserEvent"))]
    if aid is not None:
        body.append(("ActionID", aid))
    body += [(k, v) for k, v in a.headers if k.lower() not in ("action", "userevent", "actionid")]
    s.hub.model.emit(Event("UserEvent", CLASS_BITS["user"], body))
    return [replies.response("Success", aid, ("Message", "Event Sent"))]


def _reload(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    module = a.get("Module") or "All"
    s.hub.model.reload_time = s.hub.model.now()
    s.hub.model.emit(ev.reload(module))
    return [replies.response("Success", aid, ("Message", "Module Reloaded"))]


def _command(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    model = s.hub.model
    calls = len(model.bridges) + sum(len(q.callers) for q in model.queues.values())
    out = [
        ("Output", f"{len(model.channels)} active channels"),
        ("Output", f"{calls} of 2000 max active calls ( {calls / 20:.2f}% of capacity)"),
        ("Output", f"{model.processed_calls} calls processed"),
    ]
    return [replies.response("Success", aid, ("Message", "Command output follows"), *out)]


def _sip(s: Session) -> SipPlant:
    sip = s.hub.model.sip
    assert sip is not None  # the PJSIP actions exist only when res_pjsip is configured
    return sip


def _pjsip_show_contacts(s: Session, a: Action, aid: str | None) -> list[Pairs] | bytes:
    sip = _sip(s)
    if not sip.registered():
        # astman_send_error(s, m, "No Contacts found\n"): a bare LF before the frame's CRLFs.
        action_id = f"ActionID: {aid}\r\n" if aid is not None else ""
        return f"Response: Error\r\n{action_id}Message: No Contacts found\n\r\n\r\n".encode()
    return sip.contact_list(aid)


def _pjsip_show_endpoint(s: Session, a: Action, aid: str | None) -> list[Pairs]:
    name = a.get("Endpoint")
    if not name:
        return [replies.response("Error", aid, ("Message", "Endpoint parameter missing."))]
    frames = _sip(s).endpoint_detail(aid, name)
    if frames is None:
        return [replies.response("Error", aid, ("Message", f"Unable to retrieve endpoint {name}"))]
    return frames


_HANDLERS: dict[str, Handler] = {
    "Ping": _ping,
    "Events": _events,
    "Challenge": _challenge,
    "Logoff": _logoff,
    "ListCommands": _list_commands,
    "QueueStatus": _queue_status,
    "QueueSummary": _queue_summary,
    "QueueReset": _queue_reset,
    "QueuePause": _queue_pause,
    "UserEvent": _user_event,
    "Reload": _reload,
    "Command": _command,
    "CoreStatus": lambda s, a, aid: replies.core_status(s.hub.model, aid),
    "CoreSettings": lambda s, a, aid: replies.core_settings(s.hub.model, aid),
    "CoreShowChannels": lambda s, a, aid: replies.core_show_channels(s.hub.model, aid),
    "BridgeList": lambda s, a, aid: replies.bridge_list(s.hub.model, aid),
    "Status": lambda s, a, aid: replies.status(s.hub.model, aid),
    "DeviceStateList": lambda s, a, aid: replies.device_state_list(s.hub.model, aid),
    "ExtensionStateList": lambda s, a, aid: replies.empty_list(
        aid, "Extension Statuses will follow", "ExtensionStateListComplete"
    ),
    "Agents": lambda s, a, aid: replies.empty_list(aid, "Agents will follow", "AgentsComplete"),
    "PJSIPShowEndpoints": lambda s, a, aid: _sip(s).endpoint_list(aid),
    "PJSIPShowEndpoint": _pjsip_show_endpoint,
    "PJSIPShowContacts": _pjsip_show_contacts,
    "PJSIPShowRegistrationsOutbound": lambda s, a, aid: _sip(s).outbound_registrations(aid),
}
