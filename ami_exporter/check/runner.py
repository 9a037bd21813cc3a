"""The order of ``ami-exporter check``: connect, log in, privileges, snapshot while events arrive,
then the events seen, the web config file, and a Logoff."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from ..ami.client import ConnectionLostError, Session
from ..service import AMISettings
from .connect import connect_step
from .report import Report, Status, Step
from .steps import (
    EventObserver,
    events_step,
    login_step,
    privileges_step,
    skip_all,
    snapshot_step,
    web_config_step,
)

DEFAULT_WAIT = 10.0


@dataclass(frozen=True, slots=True)
class CheckOptions:
    ami: AMISettings
    wait: float = DEFAULT_WAIT  # how long to listen for events (--check.wait)
    web_config_file: Path | None = None


async def run_check(options: CheckOptions) -> Report:
    settings = options.ami
    report = Report(settings.address, settings.username)
    connect = report.step("connect", "Connect")
    login = report.step("login", "Login")
    privileges = report.step("privileges", "Privileges")
    events = report.step("events", "Events")
    snapshot = report.step("snapshot", "Snapshot")
    web = report.step("web_config", "Web config")
    observer = EventObserver(settings.events)
    session = await connect_step(connect, settings, observer.on_event)
    if session is None:
        skip_all([login, privileges, events, snapshot], "skipped: not connected")
    else:
        try:
            if await login_step(login, session, settings):
                await _logged_in(session, options, observer, privileges, events, snapshot)
            else:
                skip_all([privileges, events, snapshot], "skipped: not logged in")
        finally:
            await session.logoff(timeout=1.0)
            session.close()
    web_config_step(web, options.web_config_file)
    return report


async def _logged_in(
    session: Session,
    options: CheckOptions,
    observer: EventObserver,
    privileges: Step,
    events: Step,
    snapshot: Step,
) -> None:
    settings = options.ami
    loop = asyncio.get_running_loop()
    started = loop.time()
    sockname = session.extra_info("sockname")
    local_address = str(sockname[0]) if isinstance(sockname, tuple) and sockname else None
    remaining = [privileges, snapshot, events]
    try:
        await privileges_step(privileges, session, settings, local_address)
        remaining.remove(privileges)
        await snapshot_step(snapshot, session, settings)
        remaining.remove(snapshot)
        closed: asyncio.Future[object] = asyncio.ensure_future(asyncio.shield(session.closed))
        await observer.wait(options.wait - (loop.time() - started), closed)
        closed.cancel()
    except ConnectionLostError as error:
        remaining[0].add(Status.FAIL, f"the connection was lost: {error}", "check Asterisk's log")
        skip_all(remaining[1:-1], "skipped: connection lost")
    events_step(events, observer, options.wait)
