"""Scrape-time collectors: one per subsystem, reading the model, registered in a private registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.registry import Collector

from ..pbx import PBX
from ..service import ConnectionStatus
from .base import ScrapeResults, TimedCollector
from .channels import ChannelCollector
from .endpoints import EndpointCollector
from .exporter import ExporterCollector, ScrapeCollector
from .queues import QueueCollector
from .system import CdrCollector, SecurityCollector, SystemCollector


@dataclass(frozen=True, slots=True)
class CollectorOptions:
    queue_members: bool = True
    endpoint_details: bool = False
    process: bool = True  # process_* and python_* runtime metrics


def subsystem_collectors(
    pbx: PBX, status: ConnectionStatus, options: CollectorOptions
) -> dict[str, Collector]:
    """One collector per subsystem, by the name used in ``asterisk_scrape_collector_*``."""

    def live() -> bool:
        return status.live

    return {
        "exporter": ExporterCollector(pbx, status),
        "system": SystemCollector(pbx, live=live),
        "queues": QueueCollector(pbx, members=options.queue_members, live=live),
        "channels": ChannelCollector(pbx, live=live),
        "cdr": CdrCollector(pbx),
        "security": SecurityCollector(pbx),
        "endpoints": EndpointCollector(pbx, details=options.endpoint_details, live=live),
    }


def build_registry(
    pbx: PBX, status: ConnectionStatus, options: CollectorOptions | None = None
) -> CollectorRegistry:
    """A private registry: ``auto_describe`` makes ``?name[]=`` filtering work and catches
    duplicate metric names at registration."""
    options = options or CollectorOptions()
    registry = CollectorRegistry(auto_describe=True)
    results = ScrapeResults()
    subsystems = subsystem_collectors(pbx, status, options)
    for name, collector in subsystems.items():
        registry.register(TimedCollector(name, collector, results))
    registry.register(ScrapeCollector(results))
    if options.process:
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
    return registry


__all__ = ["CollectorOptions", "build_registry", "subsystem_collectors"]
