"""A tiny AMI server on 127.0.0.1 whose replies a test writes by hand.

For exact stream orderings that neither the recordings nor the simulator produce on demand: a
list reply's ``...Complete`` and newer events in one ``write()``, a server that drops every
session right after the login, a connection closed while the test watches. Each action is
answered by ``handler(session, action)``, which returns the raw bytes to send in one write (or
``None`` to close the connection). Logins, ``ListCommands`` and ``Ping`` have defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field

from ami_exporter.ami.protocol import encode_message

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
# What a read-only user (empty write=) may run, as Asterisk 22's ListCommands says.
READ_ONLY_COMMANDS = ("Ping", "Challenge", "Login", "Logoff", "Events", "ListCommands", "QueueStatus")


@dataclass
class ScriptedSession:
    """One accepted connection; ``actions`` lists what the client sent, in order."""

    number: int
    writer: asyncio.StreamWriter
    actions: list[dict[str, str]] = field(default_factory=list)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def close(self) -> None:
        self.writer.close()


Handler = Callable[[ScriptedSession, dict[str, str]], bytes | None]


def reply(action: dict[str, str], *pairs: tuple[str, str], response: str = "Success") -> bytes:
    return encode_message([("Response", response), ("ActionID", action.get("ActionID", "")), *pairs])


def event(name: str, *pairs: tuple[str, str]) -> bytes:
    return encode_message([("Event", name), *pairs])


def list_reply(action: dict[str, str], complete: str, items: Iterable[bytes]) -> bytes:
    """Ack, items (each already carrying the ActionID) and the ``...Complete`` event."""
    action_id = action.get("ActionID", "")
    return (
        reply(action, ("EventList", "start"), ("Message", "will follow"))
        + b"".join(items)
        + event(complete, ("ActionID", action_id), ("EventList", "Complete"), ("ListItems", "0"))
    )


# A quiet PBX: no queues, channels or bridges.
EMPTY_LISTS = {
    "QueueStatus": "QueueStatusComplete",
    "CoreShowChannels": "CoreShowChannelsComplete",
    "BridgeList": "BridgeListComplete",
}


def default_handler(commands: Iterable[str]) -> Handler:
    listed = tuple(commands)

    def handle(session: ScriptedSession, action: dict[str, str]) -> bytes | None:
        name = action.get("Action", "")
        if name == "Login":
            return reply(action, ("Message", "Authentication accepted"))
        if name == "ListCommands":
            return reply(action, *((command, f"{command}.  (Priv: <none>)") for command in listed))
        if name == "Ping":
            return reply(action, ("Ping", "Pong"))
        if name == "Logoff":
            return reply(action, ("Message", "Thanks for all the fish."), response="Goodbye")
        if name in EMPTY_LISTS and name in listed:
            return list_reply(action, EMPTY_LISTS[name], [])
        return reply(action, ("Message", "Permission denied"), response="Error")

    return handle


class ScriptedServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sessions: list[ScriptedSession] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def logins(self) -> int:
        return sum(1 for s in self.sessions for a in s.actions if a.get("Action") == "Login")

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in self.sessions:
            session.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = ScriptedSession(len(self.sessions) + 1, writer)
        self.sessions.append(session)
        writer.write(BANNER)
        try:
            while True:
                frame = await reader.readuntil(b"\r\n\r\n")
                action = _parse(frame)
                session.actions.append(action)
                data = self.handler(session, action)
                if data is None:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def _parse(frame: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in frame.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


@contextlib.asynccontextmanager
async def scripted_server(handler: Handler) -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer(handler)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
