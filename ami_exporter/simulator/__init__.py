"""A fake Asterisk 22.10.1 AMI server driven by a small call-center model (tests, benchmarks, demo).

>>> sim = Simulator(SimulatorConfig.demo(time_scale=10))
>>> await sim.start(port=0)          # then connect to sim.port
>>> sim.truth()                      # what really happened, per queue, member and session
"""

from ami_exporter.simulator.config import MemberConfig, QueueConfig, SimulatorConfig, UserConfig
from ami_exporter.simulator.server import Simulator
from ami_exporter.simulator.truth import CallerTruth, MemberTruth, QueueTruth, SessionTruth, Truth

__all__ = [
    "CallerTruth",
    "MemberConfig",
    "MemberTruth",
    "QueueConfig",
    "QueueTruth",
    "SessionTruth",
    "Simulator",
    "SimulatorConfig",
    "Truth",
    "UserConfig",
]
