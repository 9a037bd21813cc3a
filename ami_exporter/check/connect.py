"""Step 1: connect the way the exporter does, and when that fails, say why in the operator's terms.

A server that sends no AMI banner gets a second look (:func:`probe`): a new connection, one ``Ping``
(an allowlisted action) and the first bytes of whatever answers, which tells an HTTP port, a TLS
port and a silent server apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from dataclasses import dataclass

from ..ami.actions import READ_ONLY_ACTIONS
from ..ami.client import ConnectionLostError, EventCallback, Session
from ..ami.protocol import encode_action
from ..service import AMISettings
from .report import Status, Step

AMI_BANNER_PREFIX = "Asterisk Call Manager/"
_PROBE_ACTION = "Ping"
_ENABLE_AMI = (
    "in manager.conf [general]: enabled = yes, port = {port}, bindaddr = an address this host reaches "
    "(not 127.0.0.1 for a remote exporter); then: asterisk -rx 'manager reload'"
)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    kind: str  # connect_timeout, refused, error, silent, closed, http, tls, ami_late, other
    first_line: str = ""


async def connect_step(step: Step, settings: AMISettings, on_event: EventCallback) -> Session | None:
    """Open the exporter's session; on failure, add the FAIL finding and return None."""
    address = settings.address
    tls = settings.ssl_context is not None
    try:
        session = await Session.connect(
            settings.host,
            settings.port,
            on_event,
            ssl_context=settings.ssl_context,
            server_hostname=settings.server_hostname,
            timeout=settings.connect_timeout,
            max_frame_bytes=settings.max_frame_bytes,
        )
    except socket.gaierror as error:
        step.add(
            Status.FAIL,
            f"cannot resolve {settings.host!r}: {error.strerror or error}",
            "check the host in --ami.address (it must resolve on this machine)",
        )
        return None
    except ConnectionRefusedError:
        step.add(
            Status.FAIL,
            f"connection refused by {address}: nothing listens on that port",
            _ENABLE_AMI.format(port=settings.port),
            ["see what Asterisk listens on: asterisk -rx 'manager show settings'"],
        )
        return None
    except ssl.SSLCertVerificationError as error:
        _tls_certificate_failure(step, settings, error)
        return None
    except ssl.SSLError as error:
        _tls_handshake_failure(step, settings, error)
        return None
    except TimeoutError:
        await _no_banner(step, settings)
        return None
    except ConnectionLostError:
        # Closed before we said anything: not a TLS port (those wait for our hello), rather an
        # Asterisk that is restarting or something in front of it that accepts and drops.
        step.add(
            Status.FAIL,
            f"{address} accepted the connection and closed it before any AMI banner",
            "Asterisk restarting or at a connection limit, or a firewall/proxy that accepts and drops: "
            "retry, and check Asterisk's log",
        )
        return None
    except OSError as error:
        step.add(
            Status.FAIL,
            f"cannot connect to {address}: {error.strerror or error}",
            "check --ami.address, routing and firewalls between this host and Asterisk",
        )
        return None
    _connected(step, settings, session, tls)
    if not session.banner.startswith(AMI_BANNER_PREFIX):
        step.add(
            Status.FAIL,
            f"not an AMI server: it greeted with {session.banner[:80]!r} instead of "
            f"'{AMI_BANNER_PREFIX}x.y.z'{_what_greets(session.banner)}",
            "point --ami.address at Asterisk's AMI port (manager.conf [general] port, 5038 by default)",
        )
        session.close()
        return None
    step.add(Status.OK, f"AMI banner {session.banner!r}: AMI version {session.ami_version}")
    step.facts["banner"] = session.banner
    step.facts["ami_version"] = session.ami_version
    return session


def _connected(step: Step, settings: AMISettings, session: Session, tls: bool) -> None:
    if not tls:
        step.add(Status.OK, f"connected to {settings.address} over TCP")
        step.facts["tls"] = False
        return
    ssl_object = session.extra_info("ssl_object")
    version = ssl_object.version() if isinstance(ssl_object, ssl.SSLObject) else "TLS"
    step.facts["tls"] = True
    step.facts["tls_version"] = version
    context = settings.ssl_context
    assert context is not None
    if context.verify_mode == ssl.CERT_NONE:
        step.add(
            Status.WARN,
            f"connected to {settings.address} over {version} WITHOUT verifying Asterisk's certificate "
            "(--ami.tls.insecure-skip-verify)",
            "pass --ami.tls.ca-file with the CA (or the certificate) in Asterisk's tlscertfile instead",
        )
        return
    step.add(
        Status.OK,
        f"connected to {settings.address} over {version}; "
        f"certificate verified for {settings.server_hostname!r}",
    )


def _tls_certificate_failure(step: Step, settings: AMISettings, error: ssl.SSLCertVerificationError) -> None:
    name = settings.server_hostname or settings.host
    reason = error.verify_message or error.reason or str(error)
    step.facts["tls_verify_error"] = reason
    if "hostname mismatch" in reason.lower() or "ip address mismatch" in reason.lower():
        fix = (
            f"pass --ami.tls.server-name with a name the certificate holds (its subjectAltName), "
            f"or reissue it for {name!r}"
        )
    else:
        fix = (
            "pass --ami.tls.ca-file with the CA that signed Asterisk's certificate (for a self-signed "
            "certificate: the certificate itself, manager.conf tlscertfile)"
        )
    step.add(
        Status.FAIL,
        f"TLS: Asterisk's certificate for {name!r} is not trusted: {reason}",
        fix,
    )


_PLAIN_PEER_REASONS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL", "HTTP_REQUEST")


def _tls_handshake_failure(step: Step, settings: AMISettings, error: ssl.SSLError) -> None:
    reason = error.reason or str(error)
    step.facts["tls_error"] = reason
    if any(marker in reason for marker in _PLAIN_PEER_REASONS):
        step.add(
            Status.FAIL,
            f"TLS handshake with {settings.address} failed ({reason}): the server does not speak TLS "
            "on this port",
            "drop --ami.tls for the plain AMI port, or use the TLS port (manager.conf tlsenable = yes, "
            "tlsbindaddr, usually 5039)",
        )
        return
    step.add(
        Status.FAIL,
        f"TLS handshake with {settings.address} failed: {reason}",
        "check manager.conf tlsenable/tlsbindaddr/tlscertfile and the TLS versions both sides allow",
    )


async def _no_banner(step: Step, settings: AMISettings) -> None:
    """Nothing arrived within the timeout: connect again and see what answers a Ping."""
    timeout = settings.connect_timeout
    result = await probe(settings, timeout)
    step.facts["probe"] = result.kind
    address = settings.address
    if result.kind == "connect_timeout":
        step.add(
            Status.FAIL,
            f"connection to {address} timed out after {timeout:g}s: no answer at all",
            "a firewall drops the packets, or the address is wrong or down: check --ami.address",
        )
    elif result.kind == "refused":
        step.add(Status.FAIL, f"connection refused by {address}", _ENABLE_AMI.format(port=settings.port))
    elif result.kind == "http":
        step.add(
            Status.FAIL,
            f"not an AMI server: {address} answered like a web server ({result.first_line!r})",
            "that is an HTTP port (Asterisk's own web server listens on 8088): point --ami.address at "
            "the AMI port (manager.conf [general] port, 5038 by default)",
        )
    elif result.kind == "tls" or (result.kind == "closed" and settings.ssl_context is None):
        step.add(
            Status.FAIL,
            f"no AMI banner from {address}: the server waits for the client to speak first and "
            "rejects plain text, like a TLS port",
            "add --ami.tls (and --ami.tls.ca-file) for Asterisk's TLS port (tlsbindaddr, usually 5039), "
            "or use the plain AMI port (5038)",
        )
    elif result.kind == "ami_late":
        step.add(
            Status.FAIL,
            f"the AMI banner from {address} came later than --ami.timeout ({timeout:g}s)",
            "Asterisk is overloaded or still starting; retry, or raise --ami.timeout",
        )
    elif result.kind == "other":
        step.add(
            Status.FAIL,
            f"not an AMI server: {address} answered {result.first_line[:80]!r}",
            "point --ami.address at Asterisk's AMI port (manager.conf [general] port, 5038 by default)",
        )
    else:  # silent, or an error on the second connection
        step.add(
            Status.FAIL,
            f"no AMI banner: {address} accepted the connection but sent nothing within {timeout:g}s",
            "not an AMI port (a TLS port needs --ami.tls; SSH or another service?), or a proxy/firewall "
            "that holds connections: point --ami.address at the AMI port (5038 by default)",
        )


async def probe(settings: AMISettings, timeout: float) -> ProbeResult:
    """Connect again, send one ``Ping`` and classify the first bytes that come back."""
    assert _PROBE_ACTION in READ_ONLY_ACTIONS
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                settings.host,
                settings.port,
                ssl=settings.ssl_context,
                server_hostname=settings.server_hostname if settings.ssl_context else None,
            )
    except TimeoutError:
        return ProbeResult("connect_timeout")
    except ConnectionRefusedError:
        return ProbeResult("refused")
    except (OSError, ssl.SSLError):
        return ProbeResult("error")
    try:
        writer.write(encode_action(_PROBE_ACTION, [("ActionID", "ami-exporter-check-probe")]))
        data = b""
        try:
            async with asyncio.timeout(timeout):
                data = await reader.read(512)
        except ConnectionResetError:
            return ProbeResult("closed")
        except (TimeoutError, ssl.SSLError, OSError):
            data = b""
        else:
            if not data:
                return ProbeResult("closed")
        return classify(data)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def classify(data: bytes) -> ProbeResult:
    """What kind of server sent these first bytes (after our ``Ping``)."""
    if not data:
        return ProbeResult("silent")
    first_line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    if data[:1] in (b"\x15", b"\x16") and data[1:2] == b"\x03":  # a TLS alert or handshake record
        return ProbeResult("tls")
    if data.startswith(b"HTTP/") or data.lstrip()[:14].lower() in (b"<!doctype html", b"<html>"):
        return ProbeResult("http", first_line)
    if first_line.startswith(AMI_BANNER_PREFIX):
        return ProbeResult("ami_late", first_line)
    return ProbeResult("other", first_line)


def _what_greets(banner: str) -> str:
    if banner.startswith("SSH-"):
        return " (an SSH server)"
    if banner.startswith("HTTP/"):
        return " (a web server)"
    return ""
