"""The pure PBX model: queues, members, callers, channels, bridges and event counters."""

from .model import PBX
from .queues import QueueSnapshot

__all__ = ["PBX", "QueueSnapshot"]
