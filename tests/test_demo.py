"""``ami-exporter --demo``: the in-process simulator and the exporter aimed at it show every
family, the SIP ones included, from the first reconcile."""

from __future__ import annotations

import asyncio
import contextlib

from ami_exporter.config import Config
from ami_exporter.demo import start_demo
from ami_exporter.pbx import PBX
from ami_exporter.service import AMIService, AMISettings

from .conftest import wait_for


async def test_demo_shows_phones_contacts_and_the_trunk_registration() -> None:
    async with start_demo(Config(ami=AMISettings())) as config:
        pbx = PBX()
        service = AMIService(config.ami, pbx)
        task = asyncio.create_task(service.run())
        try:
            await wait_for(lambda: service.status.reconciles >= 1, timeout=10)
            endpoints = pbx.endpoints.count_by_state()
            # 5 member phones, the reception phone, 2 softphones (not registered yet), the trunk.
            assert endpoints == {"reachable": 6, "unreachable": 3, "unknown": 0}
            # Static contacts from PJSIPShowEndpoint at login: the demo user may list them.
            assert pbx.endpoints.contacts.by_state()["reachable"] == 6
            assert pbx.registrations.named() == {"trunk-provider": "registered"}
            assert not {"PJSIPQualify", "PJSIPRegister", "PJSIPUnregister"} & set(service.sent_actions)
        finally:
            await service.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
