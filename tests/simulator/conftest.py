"""A raw asyncio AMI client for the simulator tests (no mocks: real TCP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable

import pytest

from ami_exporter.ami.protocol import Decoder, Kind, Message, encode_action
from ami_exporter.simulator import Simulator, SimulatorConfig


class RawClient:
    """Reads everything into ``messages``; ``wait_for`` finds messages by predicate."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = Decoder(max_frame_bytes=4 * 1024 * 1024)
        self.messages: list[Message] = []
        self.raw = bytearray()
        self.eof = False
        self.timeout = 5.0
        self.error: BaseException | None = None
        self._seq = 0
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=8 * 1024 * 1024)
        return cls(reader, writer)

    async def _read(self) -> None:
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.raw += data
                self.messages.extend(self.decoder.feed(data))
                self._changed.set()
        except (ConnectionError, OSError) as exc:
            self.error = exc
        finally:
            self.eof = True
            self._changed.set()

    async def wait_for(
        self, pred: Callable[[Message], bool], timeout: float = 5.0, start: int = 0
    ) -> Message:
        async with asyncio.timeout(timeout):
            while True:
                for message in self.messages[start:]:
                    if pred(message):
                        return message
                if self.eof:
                    raise EOFError("connection closed")
                self._changed.clear()
                await self._changed.wait()

    async def wait_eof(self, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not self.eof:
                self._changed.clear()
                await self._changed.wait()

    def send(self, action: str, **fields: str) -> str:
        self._seq += 1
        action_id = f"t-{self._seq}"
        self.writer.write(encode_action(action, [("ActionID", action_id), *fields.items()]))
        return action_id

    async def request(self, action: str, **fields: str) -> Message:
        action_id = self.send(action, **fields)
        return await self.wait_for(
            lambda m: m.kind is Kind.RESPONSE and m.fields.get("ActionID") == action_id, self.timeout
        )

    async def request_list(self, action: str, **fields: str) -> list[Message]:
        """The ack, every item and the ...Complete event, as received."""
        start = len(self.messages)
        action_id = self.send(action, **fields)
        await self.wait_for(
            lambda m: (
                m.kind is Kind.EVENT and m.name.endswith("Complete") and m.fields.get("ActionID") == action_id
            ),
            self.timeout,
            start,
        )
        return [m for m in self.messages[start:] if m.fields.get("ActionID") == action_id]

    async def login(self, user: str, secret: str, **fields: str) -> Message:
        return await self.request("Login", Username=user, Secret=secret, **fields)

    def events(self, name: str | None = None) -> list[Message]:
        return [
            m
            for m in self.messages
            if m.kind is Kind.EVENT
            and (name is None or m.name == name)
            and not (m.fields.get("ActionID", "").startswith("t-") and "Privilege" not in m.fields)
        ]

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def quiet_config(**overrides: object) -> SimulatorConfig:
    """The demo call center without random traffic and with a fast failed-login delay; without
    res_pjsip unless ``pjsip=`` says otherwise, like the instance of ``a-login-actions``."""
    values: dict[str, object] = {
        "call_rate": 0.0,
        "pause_interval": 0.0,
        "scanner_rate": 0.0,
        "time_scale": 0.0,
        "auth_failure_delay": 0.05,
        "pjsip": None,
    }
    values.update(overrides)
    return dataclasses.replace(SimulatorConfig.demo(), **values)  # type: ignore[arg-type]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(quiet_config())
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def admin(sim: Simulator) -> AsyncIterator[RawClient]:
    client = await RawClient.connect(sim.port)
    reply = await client.login("admin", "adminsecret")
    assert reply.fields["Message"] == "Authentication accepted"
    yield client
    await client.close()
