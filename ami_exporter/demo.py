"""``ami-exporter --demo``: a simulated call centre in-process, and the exporter pointed at it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .config import Config
from .pbx.agents import WrapupTimes
from .secret import SecretSource
from .simulator import Simulator, SimulatorConfig, UserConfig
from .simulator.config import EXPORTER_READ

log = logging.getLogger(__name__)

# A demo-only user with write=system,reporting: besides CoreShowChannels and CoreSettings it may
# list PJSIP endpoints and contacts, so the demo shows every SIP metric from the first scrape.
# On a real PBX weigh that against what write=system allows (README, "Privileges").
DEMO_USER = UserConfig("exporter_demo", "demosecret", read=EXPORTER_READ, write="system,reporting")


@asynccontextmanager
async def start_demo(config: Config) -> AsyncIterator[Config]:
    """Start the simulator on a free loopback port; yield ``config`` aimed at it."""
    simulator_config = SimulatorConfig.demo()
    simulator_config = dataclasses.replace(simulator_config, users=(*simulator_config.users, DEMO_USER))
    simulator = Simulator(simulator_config)
    await simulator.start(host="127.0.0.1", port=0)
    sip = simulator.model.sip
    log.info(
        "demo: simulated call centre on 127.0.0.1:%d (%d queues, %d agents, %d SIP endpoints)",
        simulator.port,
        len(simulator_config.queues),
        len({member.interface for queue in simulator_config.queues for member in queue.members}),
        len(sip.endpoints) if sip is not None else 0,
    )
    ami = dataclasses.replace(
        config.ami,
        host="127.0.0.1",
        port=simulator.port,
        username=DEMO_USER.name,
        secret=SecretSource(value=DEMO_USER.secret),
        ssl_context=None,
        server_hostname=None,
        reconcile_interval=min(config.ami.reconcile_interval, 10.0),
    )
    # The simulated queues' wrap-up times, as an operator would pass them with --queue.wrapup-time
    # (flags given on the command line win).
    wrapup = config.wrapup
    if wrapup == WrapupTimes():
        wrapup = WrapupTimes(0.0, {queue.name: queue.wrapuptime for queue in simulator_config.queues})
    try:
        yield dataclasses.replace(config, ami=ami, wrapup=wrapup)
    finally:
        await simulator.stop()
