"""Command-line flags (Prometheus style) and environment fallbacks, turned into a frozen config.

The AMI secret is never a flag value: it comes from ``AMI_EXPORTER_SECRET`` or from the file
named by ``--ami.secret-file``, so it never shows in ``ps`` or shell history.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from . import __version__
from .logs import LEVELS
from .pbx.system import CDR_LABEL_FIELDS
from .secret import SECRET_ENV, SecretSource
from .service import AMISettings

DEFAULT_PORT = 9815
ENV_PREFIX = "AMI_EXPORTER_"


class ConfigError(ValueError):
    """A flag or environment value is invalid; the message is one line for stderr."""


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str | None  # None: every interface
    port: int

    def __str__(self) -> str:
        host = self.host or "0.0.0.0"
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Config:
    ami: AMISettings
    listen: tuple[ListenAddress, ...] = (ListenAddress(None, DEFAULT_PORT),)
    telemetry_path: str = "/metrics"
    web_config_file: Path | None = None
    queue_members: bool = True
    endpoint_details: bool = False
    log_level: str = "info"
    log_format: str = "logfmt"
    demo: bool = False
    caps: Mapping[str, int] = field(default_factory=dict)
    cdr_labels: tuple[str, ...] = ()


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """``10s``, ``500ms``, ``1m``, ``2h`` or plain seconds; must be positive."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ConfigError(f"invalid duration {text!r} (use e.g. 10s, 500ms, 1m)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"duration must be positive: {text!r}")
    return seconds


def parse_host_port(text: str, *, default_host: str | None, what: str) -> tuple[str | None, int]:
    """``host:port``, ``[v6]:port`` or ``:port``."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
        if not sep:
            raise ConfigError(f"invalid {what} {text!r} (use [ipv6]:port)")
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            raise ConfigError(f"invalid {what} {text!r} (use host:port)")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"invalid port in {what} {text!r}")
    return (host or default_host), int(port)


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One clear line and exit code 2, instead of argparse's usage dump.
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_ami_flags(parser: argparse.ArgumentParser) -> None:
    """The ``--ami.*`` flags, shared by the exporter and ``ami-exporter check``."""
    add = parser.add_argument
    add(
        "--ami.address",
        dest="ami_address",
        default=_env("ADDRESS", "127.0.0.1:5038"),
        help="Asterisk AMI host:port (env AMI_EXPORTER_ADDRESS; default %(default)s)",
    )
    add(
        "--ami.username",
        dest="ami_username",
        default=_env("USERNAME", "exporter"),
        help="AMI user from manager.conf (env AMI_EXPORTER_USERNAME; default %(default)s)",
    )
    add(
        "--ami.secret-file",
        dest="ami_secret_file",
        default=_env("SECRET_FILE", "") or None,
        help="file holding the AMI secret, re-read at every login (env AMI_EXPORTER_SECRET_FILE); "
        f"otherwise ${SECRET_ENV}",
    )
    add(
        "--ami.auth",
        dest="ami_auth",
        choices=("md5", "plain"),
        default=_env("AUTH", "md5"),
        help="login method: md5 challenge (falls back to plain if the server refuses it) or plain",
    )
    add(
        "--ami.ping-interval",
        dest="ami_ping_interval",
        default="10s",
        help="send Ping this often; no reply within it means the connection is dead (default %(default)s)",
    )
    add(
        "--ami.reconcile-interval",
        dest="ami_reconcile_interval",
        default="30s",
        help="poll QueueStatus (and CoreShowChannels when permitted) this often (default %(default)s)",
    )
    add(
        "--ami.timeout",
        dest="ami_timeout",
        default="10s",
        help="connect and action timeout (default %(default)s)",
    )
    add("--ami.tls", dest="ami_tls", action="store_true", help="connect to the AMI over TLS (port 5039)")
    add(
        "--ami.tls.ca-file",
        dest="ami_tls_ca_file",
        default=None,
        help="CA bundle to verify Asterisk's certificate",
    )
    add(
        "--ami.tls.server-name",
        dest="ami_tls_server_name",
        default=None,
        help="name to verify in Asterisk's certificate (default: the --ami.address host)",
    )
    add(
        "--ami.tls.insecure-skip-verify",
        dest="ami_tls_insecure",
        action="store_true",
        help="do not verify Asterisk's certificate (testing only)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ami-exporter",
        description="Prometheus exporter for the Asterisk PBX, fed by a read-only AMI session. "
        f"The AMI secret is read from ${SECRET_ENV} or --ami.secret-file, never from a flag. "
        "'ami-exporter check [flags]' diagnoses the AMI setup instead (see 'ami-exporter check --help').",
    )
    add = parser.add_argument
    add("--version", action="version", version=f"ami-exporter {__version__}")
    add_ami_flags(parser)
    add(
        "--web.listen-address",
        dest="web_listen",
        action="append",
        default=None,
        help=f"address to serve metrics on; repeatable (env AMI_EXPORTER_WEB_LISTEN_ADDRESS; default "
        f":{DEFAULT_PORT}, with --demo 127.0.0.1:{DEFAULT_PORT}). The container image sets the env to "
        f":{DEFAULT_PORT}; its health check probes the first address given here",
    )
    add(
        "--web.telemetry-path",
        dest="web_telemetry_path",
        default="/metrics",
        help="path of the metrics endpoint",
    )
    add(
        "--web.config.file",
        dest="web_config_file",
        default=None,
        help="exporter-toolkit web configuration (TLS, basic auth), read at start-up",
    )
    add(
        "--collector.queue-members",
        dest="queue_members",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="export per-member series (queue, member labels)",
    )
    add(
        "--collector.endpoint-details",
        dest="endpoint_details",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="export per-endpoint reachability and round-trip time (capped)",
    )
    add(
        "--cdr.label",
        dest="cdr_labels",
        action="append",
        choices=tuple(CDR_LABEL_FIELDS),
        default=None,
        help="add this CDR field as a label of asterisk_cdr_total and asterisk_cdr_billable_seconds_total; "
        "repeatable; values are capped (100 per field), never caller or destination numbers",
    )
    add(
        "--limits.queues",
        dest="cap_queue",
        type=_positive_int,
        default=1000,
        help="most distinct queue label values; more fold into __overflow__ (default %(default)s)",
    )
    add(
        "--limits.members",
        dest="cap_member",
        type=_positive_int,
        default=20000,
        help="most distinct member label values (default %(default)s)",
    )
    add("--log.level", dest="log_level", choices=tuple(LEVELS), default=_env("LOG_LEVEL", "info"))
    add("--log.format", dest="log_format", choices=("logfmt", "json"), default=_env("LOG_FORMAT", "logfmt"))
    add(
        "--demo",
        action="store_true",
        help="start a simulated call center in-process and export it (no Asterisk needed)",
    )
    return parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer: {text!r}")
    return int(text)


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.ami_tls:
        if args.ami_tls_ca_file or args.ami_tls_insecure or args.ami_tls_server_name:
            raise ConfigError("--ami.tls.* flags need --ami.tls")
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if args.ami_tls_ca_file:
        try:
            context.load_verify_locations(cafile=args.ami_tls_ca_file)
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(f"cannot load --ami.tls.ca-file {args.ami_tls_ca_file}: {error}") from None
    if args.ami_tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _to_config(args)
    except ConfigError as error:
        parser.error(str(error))


def ami_settings(args: argparse.Namespace, *, need_secret: bool = True) -> AMISettings:
    """The AMI connection settings from the ``--ami.*`` flags (see :func:`add_ami_flags`)."""
    host, port = parse_host_port(args.ami_address, default_host="127.0.0.1", what="--ami.address")
    assert host is not None
    secret_file = Path(args.ami_secret_file) if args.ami_secret_file else None
    if need_secret:
        if secret_file is not None:
            if not os.access(secret_file, os.R_OK):
                raise ConfigError(f"--ami.secret-file {secret_file} is not readable")
        elif SECRET_ENV not in os.environ:
            raise ConfigError(f"no AMI secret: set {SECRET_ENV} or pass --ami.secret-file")
    ping = parse_duration(args.ami_ping_interval)
    return AMISettings(
        host=host,
        port=port,
        username=args.ami_username,
        secret=SecretSource(file=secret_file),
        auth=args.ami_auth,
        ping_interval=ping,
        reconcile_interval=parse_duration(args.ami_reconcile_interval),
        connect_timeout=parse_duration(args.ami_timeout),
        action_timeout=parse_duration(args.ami_timeout),
        ssl_context=_tls_context(args),
        server_hostname=args.ami_tls_server_name or (host if args.ami_tls else None),
    )


def listen_addresses(args: argparse.Namespace) -> tuple[ListenAddress, ...]:
    """``--web.listen-address`` (repeatable), else ``AMI_EXPORTER_WEB_LISTEN_ADDRESS``, else ``:9815``.

    The demo listens on loopback unless told otherwise: it is for looking at, not serving. In a
    container loopback is unreachable from the host, so the image sets the environment variable."""
    texts = args.web_listen or [_env("WEB_LISTEN_ADDRESS", "")]
    if texts == [""]:
        texts = [f"{'127.0.0.1' if args.demo else ''}:{DEFAULT_PORT}"]
    what = "--web.listen-address"
    return tuple(ListenAddress(*parse_host_port(text, default_host=None, what=what)) for text in texts)


def _to_config(args: argparse.Namespace) -> Config:
    ami = ami_settings(args, need_secret=not args.demo)
    listen = listen_addresses(args)
    path = args.web_telemetry_path
    if not path.startswith("/") or path in {"/", "/-/healthy", "/-/ready"}:
        raise ConfigError(f"invalid --web.telemetry-path {path!r}")
    web_config = Path(args.web_config_file) if args.web_config_file else None
    return Config(
        ami=ami,
        listen=listen,
        telemetry_path=path,
        web_config_file=web_config,
        queue_members=args.queue_members,
        endpoint_details=args.endpoint_details,
        log_level=args.log_level,
        log_format=args.log_format,
        demo=args.demo,
        caps={"queue": args.cap_queue, "member": args.cap_member},
        cdr_labels=tuple(dict.fromkeys(args.cdr_labels or ())),
    )


def fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"ami-exporter: error: {message}\n")
    raise SystemExit(code)
