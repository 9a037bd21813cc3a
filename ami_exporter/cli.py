"""Entry point: ``ami-exporter`` and ``python -m ami_exporter``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import sys
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import __version__, logs
from .collectors import CollectorOptions, build_registry
from .config import Config, ListenAddress, fail, parse_args
from .pbx import PBX
from .service import AMIService
from .web.app import WebSettings, build_app

log = logging.getLogger("ami_exporter")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["check"]:  # the one subcommand; everything else is the exporter's flags
        from .check import main as check_main

        return check_main(args[1:])
    config = parse_args(args)
    logs.configure(config.log_level, config.log_format)
    middlewares: list[Middleware] = []
    ssl_context: ssl.SSLContext | None = None
    if config.web_config_file is not None:
        from .web.webconfig import WebConfigError, load_web_config

        try:
            web_config = load_web_config(config.web_config_file)
        except WebConfigError as error:
            fail(f"--web.config.file: {error}")
        middlewares = web_config.middlewares()
        ssl_context = web_config.ssl_context()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(config, middlewares, ssl_context))
    return 0


async def serve(
    config: Config,
    middlewares: Sequence[Middleware] = (),
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Run until SIGTERM or SIGINT; on the way out the AMI session logs off."""
    async with contextlib.AsyncExitStack() as stack:
        if config.demo:
            from .demo import start_demo

            config = await stack.enter_async_context(start_demo(config))
        pbx = PBX(caps=config.caps, cdr_labels=config.cdr_labels)
        service = AMIService(config.ami, pbx)
        registry = build_registry(
            pbx,
            service.status,
            CollectorOptions(queue_members=config.queue_members, endpoint_details=config.endpoint_details),
        )
        app = build_app(
            registry,
            service,
            settings=WebSettings(telemetry_path=config.telemetry_path, ami_target=config.ami.address),
            middlewares=middlewares,
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        scheme = "https" if ssl_context else "http"
        for address in config.listen:
            await _start_site(runner, address, ssl_context)
            log.info(
                "ami-exporter %s serving metrics on %s://%s%s",
                __version__,
                scheme,
                address,
                config.telemetry_path,
            )
        if config.demo:
            first = config.listen[0]
            host = first.host or "127.0.0.1"
            print(f"Demo running: open {scheme}://{host}:{first.port}{config.telemetry_path}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")


async def _start_site(
    runner: web.AppRunner, address: ListenAddress, ssl_context: ssl.SSLContext | None
) -> None:
    site = web.TCPSite(runner, address.host, address.port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as error:
        fail(f"cannot listen on {address}: {error.strerror or error}", code=1)


if __name__ == "__main__":
    raise SystemExit(main())
