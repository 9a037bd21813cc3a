"""Command-line flags (Prometheus style) and environment fallbacks, turned into a frozen config.

The AMI secret is never a flag value: it comes from ``AMI_EXPORTER_SECRET`` or from the file
named by ``--ami.secret-file``, so it never shows in ``ps`` or shell history.

Some flags fall back to an ``AMI_EXPORTER_*`` environment variable (:data:`ENV_OPTIONS`). A flag
wins over its variable; an empty variable counts as unset. Either way the value goes through the
same validation, and an error names where the value came from (the flag or the variable). Named
choices (``--ami.auth``, ``--log.level``, ``--log.format``) are case-insensitive.
"""

from __future__ import annotations

import argparse
import os
import re
import ssl
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from . import __version__
from .ami.client import AUTH_MODES
from .logs import LEVELS
from .pbx.agents import WrapupTimes
from .pbx.system import CDR_LABEL_FIELDS
from .secret import SECRET_ENV, SecretError, SecretSource
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
    wrapup: WrapupTimes = field(default_factory=WrapupTimes)


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


def parse_wrapup_times(values: Sequence[str]) -> WrapupTimes:
    """``--queue.wrapup-time``: ``DURATION`` (every queue) or ``QUEUE=DURATION``, repeatable; 0
    means no wrap-up. Queue names may contain ``=``: the duration is after the last one."""
    default: float | None = None
    queues: dict[str, float] = {}
    for value in values:
        queue, sep, duration = value.rpartition("=")
        match = _DURATION.match(duration.strip())
        if not match:
            raise ConfigError(f"invalid --queue.wrapup-time {value!r} (use e.g. 5s or sales=10s)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if not sep:
            if default is not None:
                raise ConfigError(f"--queue.wrapup-time: more than one default ({value!r})")
            default = seconds
        elif not queue:
            raise ConfigError(f"invalid --queue.wrapup-time {value!r}: no queue name before '='")
        elif queue in queues:
            raise ConfigError(f"--queue.wrapup-time: queue {queue!r} given twice")
        else:
            queues[queue] = seconds
    return WrapupTimes(default or 0.0, queues)


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


@dataclass(frozen=True, slots=True)
class EnvOption:
    """A flag that falls back to ``AMI_EXPORTER_<name>``."""

    name: str  # without the prefix
    flag: str
    dest: str
    default: str | None

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name


def _env(name: str, flag: str, dest: str, default: str | None) -> EnvOption:
    return EnvOption(name, flag, dest, default)


ENV_OPTIONS = (
    _env("ADDRESS", "--ami.address", "ami_address", "127.0.0.1:5038"),
    _env("USERNAME", "--ami.username", "ami_username", "exporter"),
    _env("SECRET_FILE", "--ami.secret-file", "ami_secret_file", None),
    _env("AUTH", "--ami.auth", "ami_auth", "auto"),
    _env("LOG_LEVEL", "--log.level", "log_level", "info"),
    _env("LOG_FORMAT", "--log.format", "log_format", "logfmt"),
)
# Repeatable, so resolved on its own (listen_addresses); one address from the variable.
LISTEN_ENV = _env("WEB_LISTEN_ADDRESS", "--web.listen-address", "web_listen", None)
_ENV = {option.dest: option for option in ENV_OPTIONS}
LOG_FORMATS = ("logfmt", "json")


def _from_env(option: EnvOption) -> str:
    """Help text: which variable, and the default."""
    default = f"; default {option.default}" if option.default is not None else ""
    return f"env {option.env_var}{default}"


def _metavar(choices: Iterable[str]) -> str:
    return "{" + ",".join(choices) + "}"


def parse_choice(text: str, where: str, choices: Sequence[str]) -> str:
    """``text`` as one of ``choices``, ignoring case; ``where`` names the flag or variable."""
    value = text.strip().lower()
    if value not in choices:
        raise ConfigError(f"{where}: invalid choice {text!r} (choose from {', '.join(choices)})")
    return value


def parse_username(text: str, where: str) -> str:
    if not text or "\r" in text or "\n" in text or ":" in text:
        raise ConfigError(f"{where}: invalid AMI user name {text!r} (not empty, no line break or ':')")
    return text


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
        help=f"Asterisk AMI host:port ({_from_env(_ENV['ami_address'])})",
    )
    add(
        "--ami.username",
        dest="ami_username",
        help=f"AMI user from manager.conf ({_from_env(_ENV['ami_username'])})",
    )
    add(
        "--ami.secret-file",
        dest="ami_secret_file",
        help="file holding the AMI secret, re-read at every login "
        f"({_from_env(_ENV['ami_secret_file'])}); otherwise ${SECRET_ENV}",
    )
    add(
        "--ami.auth",
        dest="ami_auth",
        metavar=_metavar(AUTH_MODES),
        help="login method: md5 (MD5 challenge only; the secret never crosses the wire), auto (md5, "
        "then plain if the server refuses the challenge, logged once) or plain "
        f"({_from_env(_ENV['ami_auth'])})",
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
        help="exporter-toolkit web configuration (TLS, basic auth), read at start-up and on SIGHUP",
    )
    add(
        "--ami.reader-process",
        dest="ami_reader_process",
        action=argparse.BooleanOptionalAction,
        default=os.name == "posix",
        help="read the AMI socket in a small separate process, so that no scrape can delay reading "
        "past Asterisk's writetimeout (which drops the session); on by default on POSIX systems",
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
        "--queue.wrapup-time",
        dest="wrapup_times",
        action="append",
        default=None,
        metavar="[QUEUE=]DURATION",
        help="wrap-up time of the queues (wrapuptime in queues.conf, not visible over AMI), for the "
        "agent state wrapup: DURATION for every queue, QUEUE=DURATION for one; repeatable; a member's "
        "own Wrapuptime wins (default 0: no wrap-up)",
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
    add(
        "--limits.pause-reasons",
        dest="cap_pause_reason",
        type=_positive_int,
        default=50,
        help="most distinct pause reason label values (default %(default)s)",
    )
    add(
        "--log.level",
        dest="log_level",
        metavar=_metavar(LEVELS),
        help=f"least severe level logged ({_from_env(_ENV['log_level'])})",
    )
    add(
        "--log.format",
        dest="log_format",
        metavar=_metavar(LOG_FORMATS),
        help=f"log line format on stderr ({_from_env(_ENV['log_format'])})",
    )
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


def resolved(args: argparse.Namespace, dest: str) -> tuple[str | None, str]:
    """(value, where it came from) of an :data:`ENV_OPTIONS` flag: the flag, else its variable
    (unless empty), else the default; ``where`` names the flag or the variable for messages."""
    option = _ENV[dest]
    flag_value = getattr(args, dest)
    if flag_value is not None:
        return flag_value, option.flag
    env_value = os.environ.get(option.env_var, "")
    if env_value:
        return env_value, option.env_var
    return option.default, option.flag


def _required(args: argparse.Namespace, dest: str) -> tuple[str, str]:
    value, where = resolved(args, dest)
    assert value is not None, dest
    return value, where


def _secret_source(secret_file: Path | None, where: str) -> SecretSource:
    """Fail at start-up on a secret that can never work (unreadable, a line break inside)."""
    if secret_file is not None and not os.access(secret_file, os.R_OK):
        raise ConfigError(f"{where} {secret_file} is not readable")
    if secret_file is None and SECRET_ENV not in os.environ:
        raise ConfigError(f"no AMI secret: set {SECRET_ENV} or pass --ami.secret-file")
    source = SecretSource(file=secret_file)
    try:
        source.read()
    except SecretError as error:
        raise ConfigError(str(error)) from None
    return source


def ami_settings(args: argparse.Namespace, *, need_secret: bool = True) -> AMISettings:
    """The AMI connection settings from the ``--ami.*`` flags (see :func:`add_ami_flags`) and their
    environment variables."""
    address, where = _required(args, "ami_address")
    host, port = parse_host_port(address, default_host="127.0.0.1", what=where)
    assert host is not None
    username = parse_username(*_required(args, "ami_username"))
    auth = parse_choice(*_required(args, "ami_auth"), AUTH_MODES)
    secret_path, secret_where = resolved(args, "ami_secret_file")
    secret_file = Path(secret_path) if secret_path else None
    secret = _secret_source(secret_file, secret_where) if need_secret else SecretSource(file=secret_file)
    ping = parse_duration(args.ami_ping_interval)
    return AMISettings(
        host=host,
        port=port,
        username=username,
        secret=secret,
        auth=auth,
        ping_interval=ping,
        reconcile_interval=parse_duration(args.ami_reconcile_interval),
        connect_timeout=parse_duration(args.ami_timeout),
        action_timeout=parse_duration(args.ami_timeout),
        # Only the exporter has the flag: `check` reads a few seconds and renders nothing.
        reader_process=getattr(args, "ami_reader_process", False),
        ssl_context=_tls_context(args),
        server_hostname=args.ami_tls_server_name or (host if args.ami_tls else None),
    )


def listen_addresses(args: argparse.Namespace) -> tuple[ListenAddress, ...]:
    """``--web.listen-address`` (repeatable), else ``AMI_EXPORTER_WEB_LISTEN_ADDRESS``, else ``:9815``.

    The demo listens on loopback unless told otherwise: it is for looking at, not serving. In a
    container loopback is unreachable from the host, so the image sets the environment variable."""
    option = LISTEN_ENV
    env_value = os.environ.get(option.env_var, "")
    if args.web_listen:
        texts, what = args.web_listen, option.flag
    elif env_value:
        texts, what = [env_value], option.env_var
    else:
        texts, what = [f"{'127.0.0.1' if args.demo else ''}:{DEFAULT_PORT}"], option.flag
    return tuple(ListenAddress(*parse_host_port(text, default_host=None, what=what)) for text in texts)


def _to_config(args: argparse.Namespace) -> Config:
    ami = ami_settings(args, need_secret=not args.demo)
    log_level = parse_choice(*_required(args, "log_level"), tuple(LEVELS))
    log_format = parse_choice(*_required(args, "log_format"), LOG_FORMATS)
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
        log_level=log_level,
        log_format=log_format,
        demo=args.demo,
        caps={"queue": args.cap_queue, "member": args.cap_member, "pause_reason": args.cap_pause_reason},
        cdr_labels=tuple(dict.fromkeys(args.cdr_labels or ())),
        wrapup=parse_wrapup_times(args.wrapup_times or ()),
    )


def fail(message: str, code: int = 2) -> NoReturn:
    sys.stderr.write(f"ami-exporter: error: {message}\n")
    raise SystemExit(code)
