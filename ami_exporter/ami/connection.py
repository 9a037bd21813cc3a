"""Opening an AMI session's transport: plain TCP, or TCP handed to the reader process (:mod:`.relay`).

TLS, when asked for, runs in the exporter on top of either: the reader process relays the
encrypted bytes as they are.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable

from .backlog import BacklogStats
from .relay_handle import ReaderProcessError, Relay

log = logging.getLogger(__name__)


async def open_socket(host: str, port: int) -> socket.socket:
    """A connected, non-blocking TCP socket: each address of ``host`` in turn, as asyncio does."""
    loop = asyncio.get_running_loop()
    errors: list[OSError] = []
    for family, kind, proto, _, address in await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
        except OSError as error:
            sock.close()
            errors.append(error)
            continue
        except BaseException:
            sock.close()
            raise
        return sock
    if len(errors) == 1:
        raise errors[0]
    raise OSError(f"Multiple exceptions: {', '.join(map(str, errors))}")


async def open_transport(
    protocol_factory: Callable[[], asyncio.Protocol],
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None,
    server_hostname: str | None,
    reader_process: bool,
    limit: int,
    backlog_stats: BacklogStats,
    on_relay: Callable[[Relay], None],
) -> None:
    """Connect ``protocol_factory()`` to Asterisk.

    With ``reader_process``, the TCP connection is handed to a new reader process and the protocol
    reads the process's socket pair; ``on_relay`` gets the process before any byte arrives. If
    the process cannot be started, the protocol reads the TCP socket itself (logged): reading it
    here beats not connecting at all.
    """
    loop = asyncio.get_running_loop()
    if not reader_process:
        await loop.create_connection(
            protocol_factory,
            host,
            port,
            ssl=ssl_context,
            server_hostname=server_hostname if ssl_context else None,
        )
        return
    upstream = await open_socket(host, port)
    relay: Relay | None = None
    try:
        relay = await Relay.start(upstream, limit=limit, backlog_stats=backlog_stats)
    except ReaderProcessError as error:
        log.warning(
            "cannot start the AMI reader process (%s); this session reads the AMI socket in the exporter",
            error,
        )
        sock = upstream
    else:
        on_relay(relay)
        sock = relay.socket
    try:
        await loop.create_connection(
            protocol_factory,
            sock=sock,
            ssl=ssl_context,
            server_hostname=(server_hostname or host) if ssl_context else None,
        )
    except BaseException:
        # No transport took the socket (a TLS handshake failed, say): close it here, and end
        # the reader process, nobody else would.
        sock.close()
        if relay is not None:
            await asyncio.shield(relay.wait())
        raise
