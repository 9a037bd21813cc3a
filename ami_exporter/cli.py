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

from . import __version__, logs
from .collectors import CollectorOptions, build_registry
from .config import Config, ListenAddress, fail, parse_args
from .pbx import PBX
from .service import AMIService
from .web.app import WebSettings, build_app
from .web.reload import LiveWebConfig

log = logging.getLogger("ami_exporter")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["check"]:  # the one subcommand; everything else is the exporter's flags
        from .check import main as check_main

        return check_main(args[1:])
    config = parse_args(args)
    logs.configure(config.log_level, config.log_format)
    web_config = None
    if config.web_config_file is not None:
        from .web.webconfig import WebConfigError

        try:
            web_config = LiveWebConfig(config.web_config_file)
        except WebConfigError as error:
            fail(f"--web.config.file: {error}")
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(config, web_config))
    finally:
        if web_config is not None:
            web_config.close()
    return 0


async def serve(config: Config, web_config: LiveWebConfig | None = None) -> None:
    """Run until SIGTERM or SIGINT; on the way out the AMI session logs off. SIGHUP reloads
    ``--web.config.file``."""
    async with contextlib.AsyncExitStack() as stack:
        if config.demo:
            from .demo import start_demo

            config = await stack.enter_async_context(start_demo(config))
        pbx = PBX(caps=config.caps, cdr_labels=config.cdr_labels, wrapup=config.wrapup)
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
            middlewares=[web_config.middleware()] if web_config is not None else [],
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        ssl_context = web_config.ssl_context if web_config is not None else None
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
        reloads: set[asyncio.Task[bool]] = set()

        def reload() -> None:
            if web_config is None:
                log.info("SIGHUP: there is no --web.config.file to reload")
                return
            task = asyncio.create_task(web_config.reload(), name="web-config-reload")
            reloads.add(task)  # keep a reference until it is done
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, reload)
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
