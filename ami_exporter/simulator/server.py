"""The simulator: an asyncio AMI server in front of the call-center model."""

from __future__ import annotations

import asyncio
import contextlib
import ssl as ssl_module
import time

from ami_exporter.simulator import events as ev
from ami_exporter.simulator.callcenter import CallCenter
from ami_exporter.simulator.clock import VirtualClock
from ami_exporter.simulator.config import SimulatorConfig, UserConfig
from ami_exporter.simulator.faults import FaultsMixin
from ami_exporter.simulator.perms import actions_for
from ami_exporter.simulator.session import Session, SessionStats
from ami_exporter.simulator.shapes import Event
from ami_exporter.simulator.truth import SessionTruth, Truth

__all__ = ["Simulator"]


class Simulator(FaultsMixin):
    """A fake Asterisk 22.10.1 speaking AMI on a TCP port.

    Time: the model runs on a virtual clock that a ticker advances by ``time_scale`` simulated
    seconds per real second; ``advance()`` jumps it forward instantly (the only way time moves
    with ``time_scale=0``)."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig.demo()
        self.clock = VirtualClock(time.time())
        self.model = CallCenter(self.config, self.clock, self.broadcast)
        self.users: dict[str, UserConfig] = {u.name: u for u in self.config.users}
        self.actions = actions_for(pjsip=self.config.pjsip is not None)
        self.sessions: dict[int, Session] = {}
        self.session_stats: dict[int, SessionStats] = {}
        self.booted = True
        self.host = "127.0.0.1"
        self.port = 0
        self._mode = "accept"
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._next_id = 0
        self._traffic = False
        self._ssl: ssl_module.SSLContext | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        traffic: bool = True,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        """Listen (port 0 picks a free port, see ``self.port``) and, with ``traffic``, start the
        random arrivals, pauses and scanner of the configuration. With ``ssl`` (a server
        context) it speaks AMI over TLS, like Asterisk's ``tlsenable`` port 5039."""
        self.host = host
        self._ssl = ssl
        await self._listen(port)
        if self.config.time_scale > 0:
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        self._traffic = traffic
        if traffic:
            self.model.start_traffic()

    async def _listen(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_session, self.host, port, reuse_address=True, ssl=self._ssl
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _new_session(self) -> Session:
        self._next_id += 1
        session = Session(self, self._next_id)
        self.sessions[session.id] = session
        self.session_stats[session.id] = session.stats
        return session

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self.model.stop_traffic()
        self._close_listener()
        for session in list(self.sessions.values()):
            session.close("simulator stopped", abort=True)
        await asyncio.sleep(0)

    def _close_listener(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while True:
            await asyncio.sleep(self.config.tick)
            now = loop.time()
            self.clock.advance((now - last) * self.config.time_scale)
            last = now

    # --- hub interface used by sessions -------------------------------------------------------

    def broadcast(self, event: Event) -> None:
        for session in list(self.sessions.values()):
            if session.wants(event):
                session.deliver(event)

    def session_closed(self, session: Session) -> None:
        self.sessions.pop(session.id, None)

    def accepting(self) -> str:
        return self._mode

    # --- driving the model --------------------------------------------------------------------

    async def advance(self, seconds: float) -> None:
        """Jump simulated time forward, running every due timer, then yield to the loop."""
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    async def run_for(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass in real time (instantly with time_scale=0)."""
        if self.config.time_scale > 0:
            await asyncio.sleep(seconds / self.config.time_scale)
        else:
            await self.advance(seconds)

    async def place_call(self, queue: str, **kwargs: object) -> str:
        """See :meth:`CallCenter.place_call` (patience, answer, ring, talk, hangup_by, ...)."""
        uniqueid = self.model.place_call(queue, **kwargs)  # type: ignore[arg-type]
        await asyncio.sleep(0)
        return uniqueid

    def pause_member(
        self, interface: str, paused: bool = True, reason: str = "", queue: str | None = None
    ) -> int:
        return self.model.pause_member(interface, paused, reason, queue)

    def security_event(self, kind: str | None = None, service: str | None = None) -> Event:
        """One event from the scanner (InvalidAccountID, InvalidPassword, FailedACL,
        ChallengeResponseFailed; Service AMI or PJSIP)."""
        return self.model.scanner_event(kind, service)

    def reload(self, module: str = "All") -> None:
        self.model.reload_time = self.model.now()
        self.model.emit(ev.reload(module))

    # --- restart ------------------------------------------------------------------------------

    async def restart(
        self,
        *,
        shutdown_delay: float = 0.02,
        reset_for: float = 0.1,
        refuse_for: float = 0.2,
        boot_delay: float = 0.0,
    ) -> None:
        """``core restart now``: hang up every channel (cause 0), abandon every waiting caller
        (QueueCallerAbandon + QueueCallerLeave), send ``Shutdown: Cleanly`` / ``Restart: True``,
        close every session; then for ``reset_for`` seconds reset new connections before the
        banner, for ``refuse_for`` seconds refuse them (not listening), and finally accept again
        with new Uniqueids, zeroed queue statistics and Uptime 0. With ``boot_delay`` logins are
        accepted before the boot-time ``FullyBooted`` (Status first) is published."""
        self.model.hangup_everything()
        self.model.stop_traffic()
        self.model.emit(ev.shutdown(restart=True))
        await self._sleep(shutdown_delay)
        for session in list(self.sessions.values()):
            session.close("shutdown")
        self._mode = "reset"
        await self._sleep(reset_for)
        port = self.port
        self._close_listener()
        await self._sleep(refuse_for)
        self.model.reboot()
        self._mode = "accept"
        self.booted = boot_delay <= 0
        await self._listen(port)
        if self._traffic:
            self.model.start_traffic()
        if boot_delay > 0:
            asyncio.get_running_loop().call_later(boot_delay, self._boot_complete)

    def _boot_complete(self) -> None:
        self.booted = True
        uptime = int(self.model.now() - self.model.boot_time)
        self.model.emit(ev.fully_booted(uptime, uptime, at_login=False))

    # --- truth --------------------------------------------------------------------------------

    def truth(self) -> Truth:
        model = self.model
        sessions = {
            sid: SessionTruth(
                id=sid,
                user=st.user,
                remote=st.remote,
                open=st.open,
                events=dict(st.events),
                list_items=dict(st.list_items),
                responses=st.responses,
                close_reason=st.close_reason,
                actions=dict(st.actions),
                write_pauses=st.write_pauses,
                longest_stall=st.longest_stall,
            )
            for sid, st in self.session_stats.items()
        }
        return Truth(
            now=model.now(),
            generation=model.generation,
            queues=model.queue_truth(),
            members=model.member_truth(),
            channels={uid: ch.name for uid, ch in model.channels.items()},
            bridges={bid: tuple(b.channels) for bid, b in model.bridges.items()},
            cdr_dispositions=dict(model.cdr_dispositions),
            cdr_billable_seconds=model.cdr_billable,
            emitted=dict(model.emitted),
            security=dict(model.security),
            sessions=sessions,
            **(model.sip.truth() if model.sip is not None else {}),
        )
