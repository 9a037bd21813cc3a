"""``ami-exporter --demo``: a simulated call centre in-process, and the exporter pointed at it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .config import Config
from .secret import SecretSource
from .simulator import Simulator, SimulatorConfig

log = logging.getLogger(__name__)

# The simulator's reporting user: it may run CoreShowChannels and CoreSettings, so the demo
# shows channel reconcile and the version too.
DEMO_USER = "exporter_rep"


@asynccontextmanager
async def start_demo(config: Config) -> AsyncIterator[Config]:
    """Start the simulator on a free loopback port; yield ``config`` aimed at it."""
    simulator_config = SimulatorConfig.demo()
    simulator = Simulator(simulator_config)
    await simulator.start(host="127.0.0.1", port=0)
    secret = next(user.secret for user in simulator_config.users if user.name == DEMO_USER)
    log.info(
        "demo: simulated call centre on 127.0.0.1:%d (%d queues, %d agents)",
        simulator.port,
        len(simulator_config.queues),
        len({member.interface for queue in simulator_config.queues for member in queue.members}),
    )
    ami = dataclasses.replace(
        config.ami,
        host="127.0.0.1",
        port=simulator.port,
        username=DEMO_USER,
        secret=SecretSource(value=secret),
        ssl_context=None,
        server_hostname=None,
        reconcile_interval=min(config.ami.reconcile_interval, 10.0),
    )
    try:
        yield dataclasses.replace(config, ami=ami)
    finally:
        await simulator.stop()
