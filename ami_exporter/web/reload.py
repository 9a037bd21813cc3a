"""The ``--web.config.file`` in force, swapped for a new one on SIGHUP.

As with exporter-toolkit, rotating a certificate or changing basic-auth users needs no restart:
edit the file (or the files it names) and send SIGHUP. The new configuration applies to every
TLS handshake and every request that starts afterwards; connections already open keep what they
negotiated. A file that fails to load is logged at ERROR and the previous configuration stays.

How, without re-binding the listening sockets: the server keeps one *dispatch* SSL context for
its whole life. Its SNI callback (called for every handshake, with or without SNI) moves the new
connection onto the context built from the current file, which brings that file's certificate
chain and client CA. The settings OpenSSL copies into a connection before the callback runs
(client-certificate mode, protocol versions, options) are copied onto the dispatch context at
each reload. HTTP-level settings (basic-auth users, allowed client SANs, extra headers) sit
behind one middleware that runs the current configuration's middlewares for each request.
Turning TLS on or off needs a restart (the sockets would change), and is refused like an invalid
file.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .webconfig import WebConfig, WebConfigError, load_web_config

log = logging.getLogger(__name__)


class LiveWebConfig:
    """A loaded ``--web.config.file`` that :meth:`reload` can replace while the server runs."""

    def __init__(self, path: Path) -> None:
        """Load ``path``; a :class:`WebConfigError` here is a start-up error."""
        self.path = path
        # One bcrypt thread for the process, whatever the number of reloads.
        self._bcrypt = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bcrypt")
        self._lock = asyncio.Lock()
        config, middlewares, context = self._prepare()
        self.config = config
        self._middlewares = middlewares
        self._current = context
        self._dispatch = context
        if context is not None:
            context.sni_callback = self._choose_context

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The context to listen with (for the server's whole life), or None for plain HTTP."""
        return self._dispatch

    def _prepare(self) -> tuple[WebConfig, list[Middleware], ssl.SSLContext | None]:
        """Read the file and build everything from it (blocking: file reads, bcrypt)."""
        config = load_web_config(self.path)
        middlewares = config.middlewares(bcrypt_executor=self._bcrypt)
        return config, middlewares, config.ssl_context()

    def _choose_context(self, connection: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        current = self._current
        if current is not None and connection.context is not current:
            connection.context = current

    async def reload(self) -> bool:
        """Load the file again and use it for new connections and requests; False if it was refused."""
        async with self._lock:  # two quick SIGHUPs: one reload after the other
            try:
                config, middlewares, context = await asyncio.to_thread(self._prepare)
            except WebConfigError as error:
                log.error("reloading --web.config.file failed, the previous configuration stays: %s", error)
                return False
            if (context is None) != (self._dispatch is None):
                log.error(
                    "reloading --web.config.file %s failed, the previous configuration stays: "
                    "turning TLS on or off needs a restart",
                    self.path,
                )
                return False
            if context is not None and self._dispatch is not None:
                _copy_connection_settings(context, self._dispatch)
            self.config = config
            self._middlewares = middlewares
            self._current = context
        log.info(
            "reloaded --web.config.file %s (TLS %s, %d basic-auth users)",
            self.path,
            "on" if context is not None else "off",
            len(config.basic_auth_users),
        )
        return True

    def middleware(self) -> Middleware:
        """The one middleware to install: it runs the current configuration's middlewares."""

        @web.middleware
        async def current_web_config(request: web.Request, handler: Handler) -> web.StreamResponse:
            # One configuration for the whole request, even if a reload lands in the middle.
            for middleware in reversed(self._middlewares):
                handler = _bind(middleware, handler)
            return await handler(request)

        return current_web_config

    def close(self) -> None:
        self._bcrypt.shutdown(wait=False, cancel_futures=True)


def _bind(middleware: Middleware, handler: Handler) -> Handler:
    async def bound(request: web.Request) -> web.StreamResponse:
        return await middleware(request, handler)

    return bound


def _copy_connection_settings(source: ssl.SSLContext, dispatch: ssl.SSLContext) -> None:
    """What OpenSSL fixes for a connection before the SNI callback: take it from ``source``."""
    dispatch.minimum_version = source.minimum_version
    dispatch.maximum_version = source.maximum_version
    dispatch.options = source.options
    dispatch.verify_mode = source.verify_mode
