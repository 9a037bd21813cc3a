"""``python -m ami_exporter.simulator --listen 127.0.0.1:5038 [...]``"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys
from collections.abc import Sequence

from ami_exporter.config import parse_host_port
from ami_exporter.simulator.config import SimulatorConfig, UserConfig
from ami_exporter.simulator.server import Simulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ami_exporter.simulator", description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:5038", help="host:port to listen on")
    parser.add_argument("--queues", type=int, help="generate N queues instead of the demo call center")
    parser.add_argument("--members-per-queue", type=int, default=4)
    parser.add_argument("--call-rate", type=float, help="calls per simulated second")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:SECRET[:WRITE[:READ]]",
        help="manager user (repeatable; replaces the default exporter/exporter_rep/admin users)",
    )
    return parser


def build_config(args: argparse.Namespace) -> SimulatorConfig:
    if args.queues is not None:
        config = SimulatorConfig.build(
            queues=args.queues,
            members_per_queue=args.members_per_queue,
            call_rate=1.0 if args.call_rate is None else args.call_rate,
        )
    else:
        config = SimulatorConfig.demo()
        if args.call_rate is not None:
            config = dataclasses.replace(config, call_rate=args.call_rate)
    changes: dict[str, object] = {"time_scale": args.time_scale, "seed": args.seed}
    if args.user:
        changes["users"] = tuple(UserConfig.parse(spec) for spec in args.user)
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


async def serve(config: SimulatorConfig, host: str, port: int) -> None:
    """Run until SIGTERM or SIGINT."""
    sim = Simulator(config)
    await sim.start(host, port)
    print(f"AMI simulator listening on {host}:{sim.port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        host, port = parse_host_port(args.listen, default_host="127.0.0.1", what="--listen")
        config = build_config(args)
    except ValueError as error:  # ConfigError, a bad --user or a bad number: one line, exit 2
        parser.error(str(error))
    assert host is not None
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, host, port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
