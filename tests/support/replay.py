"""A replay server on 127.0.0.1 that plays recorded Asterisk connections to a real client.

Each accepted connection follows the next step of a plan:

* ``Play(rx, tx)`` sends the recorded banner, then the recorded stream in order. A recorded
  reply is held until the client sends an action of the same name, then sent with the client's
  ActionID; recorded replies to actions the client never sends (``skip``) are dropped. Pings,
  ListCommands and (optionally) other actions outside the recording are answered at once from
  fixed replies. At the end of the recording the connection is closed (``close_at_end``) or kept
  open, answering further requests with the last recorded reply of that action.
* ``Reset()`` accepts and resets the connection before any banner (a restarting Asterisk).
* ``Refuse(seconds)`` stops listening for a while (connection refused).

Every action received is recorded in ``actions`` for audits.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

from ami_exporter.ami.protocol import Message, encode_message

from .captures import ReplyGroup, ScriptItem, decode_file, encode, parse_actions, script


@dataclass
class Play:
    rx: str
    tx: str
    skip: frozenset[str] = frozenset({"QueueSummary", "Logoff"})
    close_at_end: bool = False
    delay_before: Mapping[str, float] = field(default_factory=dict)  # e.g. {"Login": 1.0}
    chunk_events: int = 50  # drain every N messages so the client reads while we write
    # A prebuilt (banner, items) to play instead of rx/tx: recordings spliced together.
    spliced: tuple[str, list[ScriptItem]] | None = None


@dataclass
class Reset:
    pass


@dataclass
class Refuse:
    seconds: float


Step = Play | Reset | Refuse


def recorded_list_commands(user: str = "exporter") -> Message:
    """The ListCommands reply the given capture user received in a-login-actions."""
    connection = "admin-actions" if user == "admin" else user  # admin's queries used their own connection
    actions = parse_actions(f"a-login-actions/{connection}.tx.raw")
    wanted = next(action["ActionID"] for action in actions if action.get("Action") == "ListCommands")
    for message in decode_file(f"a-login-actions/{connection}.rx.raw"):
        if message.fields.get("ActionID") == wanted:
            return message
    raise LookupError("ListCommands reply not found")


def _reply(action_id: str, pairs: list[tuple[str, str]]) -> bytes:
    return encode_message([("Response", "Success"), ("ActionID", action_id), *pairs])


def _parse_action(frame: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


class ReplayServer:
    def __init__(
        self,
        plan: Sequence[Step],
        *,
        list_commands_user: str = "exporter",
        list_commands: Message | None = None,
    ) -> None:
        self.plan = list(plan)
        self.list_commands = list_commands or recorded_list_commands(list_commands_user)
        self.actions: list[dict[str, str]] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.finished = asyncio.Event()  # the last Play step reached the end of its recording
        self._step = 0

    async def start(self) -> None:
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            step = self.plan[min(self._step, len(self.plan) - 1)]
            self._step += 1
            self.connections += 1
            if isinstance(step, Reset):
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return
            if isinstance(step, Refuse):
                writer.transport.abort()
                assert self._server is not None
                self._server.close()
                await asyncio.sleep(step.seconds)
                await self._listen()
                return
            await self._play(step, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # server stopping; asyncio's accept callback would log a cancelled task
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _play(self, step: Play, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        banner, items = step.spliced or script(step.rx, step.tx)
        writer.write(banner.encode() + b"\r\n")
        pending: dict[str, asyncio.Queue[str]] = defaultdict(asyncio.Queue)
        last_group: dict[str, ReplyGroup] = {}
        known = {item.action for item in items if isinstance(item, ReplyGroup)}
        reader_task = asyncio.create_task(
            self._read_actions(reader, writer, pending, known, last_group, step)
        )
        try:
            sent = 0
            for item in items:
                if isinstance(item, ReplyGroup):
                    if item.action in step.skip:
                        continue
                    last_group[item.action] = item
                    action_id = await pending[item.action].get()
                    if delay := step.delay_before.get(item.action):
                        await asyncio.sleep(delay)
                    for message in item.messages:
                        writer.write(encode(message, action_id))
                else:
                    writer.write(encode(message=item))
                sent += 1
                if sent % step.chunk_events == 0:
                    await writer.drain()
            await writer.drain()
            if not any(isinstance(later, Play) for later in self.plan[self._step :]):
                self.finished.set()
            if step.close_at_end:
                return
            # Keep the session open like a live Asterisk; answer late requests with the last
            # recorded reply of that action.
            while True:
                for action, queue in pending.items():
                    while not queue.empty():
                        action_id = queue.get_nowait()
                        group = last_group.get(action)
                        if group is not None:
                            for message in group.messages:
                                writer.write(encode(message, action_id))
                await writer.drain()
                await asyncio.sleep(0.01)
                if reader_task.done():
                    return
        finally:
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task

    async def _read_actions(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pending: dict[str, asyncio.Queue[str]],
        known: set[str],
        last_group: dict[str, ReplyGroup],
        step: Play,
    ) -> None:
        while True:
            frame = await reader.readuntil(b"\r\n\r\n")
            action = _parse_action(frame)
            self.actions.append(action)
            name = action.get("Action", "")
            action_id = action.get("ActionID", "")
            if name == "Ping":
                writer.write(_reply(action_id, [("Ping", "Pong"), ("Timestamp", "1795841633.000000")]))
            elif name == "ListCommands":
                pairs = [(k, v) for k, v in self.list_commands.headers if k not in {"Response", "ActionID"}]
                writer.write(_reply(action_id, pairs))
            elif name == "Logoff":
                writer.write(
                    encode_message(
                        [
                            ("Response", "Goodbye"),
                            ("ActionID", action_id),
                            ("Message", "Thanks for all the fish."),
                        ]
                    )
                )
                await writer.drain()
                writer.close()
                return
            elif name == "BridgeList" and name not in known:
                writer.write(
                    _reply(action_id, [("EventList", "start"), ("Message", "Bridge listing will follow")])
                    + encode_message(
                        [
                            ("Event", "BridgeListComplete"),
                            ("ActionID", action_id),
                            ("EventList", "Complete"),
                            ("ListItems", "0"),
                        ]
                    )
                )
            else:
                pending[name].put_nowait(action_id)


@contextlib.asynccontextmanager
async def replay_server(
    plan: Sequence[Step], *, list_commands_user: str = "exporter", list_commands: Message | None = None
) -> AsyncIterator[ReplayServer]:
    server = ReplayServer(plan, list_commands_user=list_commands_user, list_commands=list_commands)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
