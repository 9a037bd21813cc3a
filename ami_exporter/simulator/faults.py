"""Fault injection for reliability tests: what a real Asterisk (or the network) can do to a client."""

from __future__ import annotations

import asyncio
import socket
import struct

from ami_exporter.simulator import events as ev
from ami_exporter.simulator.callcenter import CallCenter
from ami_exporter.simulator.session import Session

__all__ = ["FaultsMixin"]

GARBAGE = b"\x00\xff\xfe\x80 this is not a header\r\n\xc3\x28 neither: is \xa0 this?\r\n\r\n"


class FaultsMixin:
    """Mixed into :class:`~ami_exporter.simulator.server.Simulator`."""

    model: CallCenter
    sessions: dict[int, Session]
    _mode: str

    def _targets(self, session_id: int | None) -> list[Session]:
        return [
            s
            for s in list(self.sessions.values())
            if not s.closed and s.authenticated and (session_id is None or s.id == session_id)
        ]

    def drop_mid_frame(self, session_id: int | None = None, *, rst: bool = False) -> int:
        """Write the first half of a real event, then close the TCP connection (FIN, or RST with
        ``rst=True``). Returns the number of sessions dropped."""
        targets = self._targets(session_id)
        queue = next(iter(self.model.queues.values()), None)
        member = next(iter(queue.members.values()), None) if queue is not None else None
        if member is not None:
            frame = ev.member_event("QueueMemberStatus", member.blob()).wire()
        else:
            frame = ev.reload("app_queue.so").wire()
        for session in targets:
            session.write_raw(frame[: len(frame) // 2])
            if rst and session.transport is not None:
                # A plain close sends FIN; SO_LINGER with a zero timeout makes it a reset.
                sock = session.transport.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            session.close("dropped mid-frame", abort=rst)
        return len(targets)

    def inject_garbage(self, data: bytes = GARBAGE, session_id: int | None = None) -> int:
        """Write bytes that are not AMI (invalid UTF-8, colon-less lines) between two frames."""
        targets = self._targets(session_id)
        for session in targets:
            session.write_raw(data)
        return len(targets)

    def inject_oversized(
        self, size: int = 2 * 1024 * 1024, *, terminate: bool = True, session_id: int | None = None
    ) -> int:
        """Write one frame of ``size`` bytes with no empty line inside (then the empty line that
        ends it, unless ``terminate=False``)."""
        payload = b"Event: Oversized\r\nPrivilege: call,all\r\nData: " + b"x" * max(size - 48, 0)
        if terminate:
            payload += b"\r\n\r\n"
        targets = self._targets(session_id)
        for session in targets:
            session.write_raw(payload)
        return len(targets)

    def stop_answering(self) -> None:
        """Half-open: every session (and every new connection) stays open but nothing is read or
        written any more; Pings go unanswered and events are lost."""
        self._mode = "frozen"
        for session in list(self.sessions.values()):
            session.freeze()

    def resume_answering(self) -> None:
        self._mode = "accept"
        for session in list(self.sessions.values()):
            session.thaw()

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)
