"""``--web.config.file``: TLS, client certificates, basic auth and extra headers for the HTTP endpoint.

The file uses (a subset of) the Prometheus exporter-toolkit web configuration format, so a file written
for node_exporter & co. works here unchanged as long as it only uses the supported keys::

    tls_server_config:
      cert_file: server.crt            # relative paths are resolved against the config file's directory
      key_file: server.key             # must not be passphrase-protected
      client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
      client_ca_file: clients-ca.crt
      client_allowed_sans: [prometheus.example.org]  # optional, exact match on DNS/IP/email/URI SANs
      min_version: TLS12               # TLS10 | TLS11 | TLS12 | TLS13, default TLS12
      max_version: TLS13               # optional
      prefer_server_cipher_suites: true
    http_server_config:
      headers:
        Strict-Transport-Security: max-age=31536000
        X-Content-Type-Options: nosniff
    basic_auth_users:
      prometheus: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG

Differences from exporter-toolkit, on purpose and loud rather than silent:

* The file is read at start-up and again on SIGHUP (the toolkit re-reads it on every request), by
  :class:`ami_exporter.web.reload.LiveWebConfig`: a new certificate chain, client CA, TLS settings or
  set of users applies to new connections and requests; an invalid file is logged and the previous
  configuration stays. :func:`load_web_config` also loads the certificate, key and client CA to
  validate them; :meth:`WebConfig.ssl_context` builds the context from those files.
* Any unknown or unsupported key is an error (:class:`WebConfigError`), never ignored. Unsupported:
  ``cert``/``key``/``client_ca`` (inline PEM; use the ``*_file`` keys), ``cipher_suites`` and
  ``curve_preferences`` (Go names with no faithful OpenSSL mapping), ``http_server_config.http2``
  (aiohttp speaks HTTP/1.1 only) and ``rate_limit``.
* ``client_auth_type``: Python's :mod:`ssl` verifies every client certificate it receives and cannot
  request/require one without verifying it, so the two non-verifying Go modes are mapped to their
  verifying counterparts (stricter, fail-closed) and need ``client_ca_file`` like them:

  ==========================  ==========================================  ===================
  client_auth_type            behaviour here                              ``ssl.verify_mode``
  ==========================  ==========================================  ===================
  NoClientCert (default)      no certificate requested                    ``CERT_NONE``
  RequestClientCert           = VerifyClientCertIfGiven                   ``CERT_OPTIONAL``
  VerifyClientCertIfGiven     optional; if sent, must chain to the CA     ``CERT_OPTIONAL``
  RequireAnyClientCert        = RequireAndVerifyClientCert                ``CERT_REQUIRED``
  RequireAndVerifyClientCert  required and must chain to the CA           ``CERT_REQUIRED``
  ==========================  ==========================================  ===================

* ``min_version: TLS10``/``TLS11`` are accepted, but OpenSSL 3's default security level may still
  refuse such clients.
* ``client_allowed_sans`` is checked per request (403 when no SAN matches) instead of aborting the TLS
  handshake; it needs a client-certificate-requiring ``client_auth_type``, so no request can slip past it.
* ``http_server_config.headers`` accepts any header name except the reserved ones in
  :data:`RESERVED_HEADERS` (framing, content and authentication headers the server itself controls). As in
  the toolkit, ``X-Frame-Options`` must be ``deny`` or ``sameorigin``, ``X-Content-Type-Options`` must be
  ``nosniff``, and a blank value means "do not set".

Basic auth protects every path except the ones in ``exempt_paths`` (default: ``/-/healthy``, which the
Docker HEALTHCHECK calls without credentials). Passwords are checked with bcrypt off the event loop, one
check at a time, with a dummy check for unknown users so timing does not reveal which users exist, and
successful checks are cached for a short time (see :func:`basic_auth_middleware`).

Neither passwords nor hashes are ever logged or put into error messages or reprs.

PyYAML and bcrypt are regular dependencies, imported only when a web config file is actually loaded or
basic auth is used (the exporter without ``--web.config.file`` does not pay for them at start-up).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import functools
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
import ssl
import time
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

__all__ = [
    "CLIENT_AUTH_TYPES",
    "DEFAULT_AUTH_CACHE_TTL",
    "DEFAULT_EXEMPT_PATHS",
    "DEFAULT_REALM",
    "RESERVED_HEADERS",
    "ClientAuthType",
    "Handler",
    "Middleware",
    "TLSServerConfig",
    "WebConfig",
    "WebConfigError",
    "basic_auth_middleware",
    "client_san_middleware",
    "headers_middleware",
    "load_web_config",
]

ClientAuthType: TypeAlias = Literal[
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
CLIENT_AUTH_TYPES: Final[tuple[ClientAuthType, ...]] = (
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
)
_CLIENT_AUTH_BY_NAME: Final[Mapping[str, ClientAuthType]] = {name: name for name in CLIENT_AUTH_TYPES}
_VERIFY_MODES: Final[Mapping[str, ssl.VerifyMode]] = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_TLS_VERSIONS: Final[Mapping[str, ssl.TLSVersion]] = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

DEFAULT_EXEMPT_PATHS: Final[frozenset[str]] = frozenset({"/-/healthy"})
DEFAULT_REALM: Final = "ami-exporter"
#: Seconds a successful (user, password) check is remembered. Longer than usual scrape intervals so a
#: scraper pays for bcrypt about once every few minutes, short enough to bound the plaintext-derived
#: digest's lifetime in memory.
DEFAULT_AUTH_CACHE_TTL: Final = 300.0

#: Response headers ``http_server_config.headers`` may not set (compared case-insensitively): they belong to
#: HTTP framing, content negotiation or authentication, which the server itself controls.
RESERVED_HEADERS: Final[frozenset[str]] = frozenset(
    {
        "authorization",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "date",
        "keep-alive",
        "proxy-authenticate",
        "server",
        "set-cookie",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "www-authenticate",
    }
)
_HEADER_VALUE_CHOICES: Final[Mapping[str, frozenset[str]]] = {
    "x-frame-options": frozenset({"deny", "sameorigin"}),
    "x-content-type-options": frozenset({"nosniff"}),
}
_TOKEN_RE: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BCRYPT_RE: Final = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
# bcrypt only looks at the first 72 bytes; the bcrypt package refuses longer passwords outright.
_BCRYPT_MAX_PASSWORD: Final = 72

_TOP_KEYS: Final = frozenset({"tls_server_config", "http_server_config", "basic_auth_users"})
_TLS_KEYS: Final = frozenset(
    {
        "cert_file",
        "key_file",
        "client_auth_type",
        "client_ca_file",
        "client_allowed_sans",
        "min_version",
        "max_version",
        "prefer_server_cipher_suites",
    }
)
_HTTP_KEYS: Final = frozenset({"headers"})
_UNSUPPORTED: Final[Mapping[str, str]] = {
    "rate_limit": "rate limiting is not supported",
    "tls_server_config.cert": "inline PEM is not supported, use cert_file",
    "tls_server_config.key": "inline PEM is not supported, use key_file",
    "tls_server_config.client_ca": "inline PEM is not supported, use client_ca_file",
    "tls_server_config.cipher_suites": "Go cipher suite names are not supported (OpenSSL defaults are used)",
    "tls_server_config.curve_preferences": "curve preferences are not supported (OpenSSL defaults are used)",
    "http_server_config.http2": "HTTP/2 is not supported (aiohttp serves HTTP/1.1 only); remove the key",
}


class WebConfigError(ValueError):
    """The web configuration file is invalid or refers to unusable files. The message is one line."""


@dataclass(frozen=True)
class TLSServerConfig:
    """``tls_server_config``; paths are absolute (resolved against the config file's directory)."""

    cert_file: Path
    key_file: Path
    client_auth_type: ClientAuthType = "NoClientCert"
    client_ca_file: Path | None = None
    client_allowed_sans: tuple[str, ...] = ()
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion | None = None
    prefer_server_cipher_suites: bool = True

    def ssl_context(self) -> ssl.SSLContext:
        """A fresh server-side :class:`ssl.SSLContext`; file problems raise :class:`WebConfigError`."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = self.min_version
        if self.max_version is not None:
            ctx.maximum_version = self.max_version
        if self.prefer_server_cipher_suites:
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        ctx.set_alpn_protocols(["http/1.1"])
        _load_cert_chain(ctx, self.cert_file, self.key_file)
        if self.client_ca_file is not None:
            try:
                ctx.load_verify_locations(cafile=self.client_ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise WebConfigError(
                    f"tls_server_config.client_ca_file: cannot load CA certificates from "
                    f"{self.client_ca_file}: {_ssl_reason(exc)}"
                ) from None
        ctx.verify_mode = _VERIFY_MODES[self.client_auth_type]
        return ctx


@dataclass(frozen=True)
class WebConfig:
    """A parsed ``--web.config.file``. The default instance means plain HTTP without authentication."""

    tls: TLSServerConfig | None = None
    #: Extra response headers, in file order, blank values already dropped.
    headers: tuple[tuple[str, str], ...] = ()
    #: username -> bcrypt hash. Kept out of repr/hash so hashes never end up in logs.
    basic_auth_users: Mapping[str, bytes] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, hash=False
    )

    @property
    def tls_enabled(self) -> bool:
        return self.tls is not None

    @property
    def basic_auth_enabled(self) -> bool:
        return bool(self.basic_auth_users)

    def ssl_context(self) -> ssl.SSLContext | None:
        """Server SSL context for ``web.TCPSite(..., ssl_context=...)``, or None for plain HTTP."""
        return None if self.tls is None else self.tls.ssl_context()

    def middlewares(
        self,
        *,
        exempt_paths: Collection[str] = DEFAULT_EXEMPT_PATHS,
        realm: str = DEFAULT_REALM,
        cache_ttl: float = DEFAULT_AUTH_CACHE_TTL,
        bcrypt_executor: concurrent.futures.Executor | None = None,
    ) -> list[Middleware]:
        """aiohttp middlewares implementing this config, outermost first (possibly empty).

        Order: extra headers (so they are on 401/403/404 too), then the client-certificate SAN check
        (every path: it is a connection property), then basic auth (all paths but ``exempt_paths``).
        ``bcrypt_executor``: see :func:`basic_auth_middleware`.
        """
        result: list[Middleware] = []
        if self.headers:
            result.append(headers_middleware(self.headers))
        if self.tls is not None and self.tls.client_allowed_sans:
            result.append(client_san_middleware(self.tls.client_allowed_sans))
        if self.basic_auth_users:
            result.append(
                basic_auth_middleware(
                    self.basic_auth_users,
                    exempt_paths=exempt_paths,
                    realm=realm,
                    cache_ttl=cache_ttl,
                    executor=bcrypt_executor,
                )
            )
        return result


# --------------------------------------------------------------------------------------------- loading


def load_web_config(path: str | os.PathLike[str]) -> WebConfig:
    """Read and validate a web configuration file (once; the result does not follow later edits).

    Relative file names inside are resolved against the config file's directory, like exporter-toolkit.
    TLS files are loaded here already, so a bad certificate, key or CA fails at start-up.
    Raises :class:`WebConfigError` (a :class:`ValueError`) with a one-line message on any problem.
    """
    import yaml

    config_path = Path(path)
    try:
        text = config_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WebConfigError(f"web config file {config_path}: cannot read: {_os_reason(exc)}") from None
    try:
        data = yaml.load(text, Loader=_strict_loader())  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as exc:
        # Deliberately not str(exc): PyYAML quotes the offending line, which may hold a password hash.
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise WebConfigError(f"web config file {config_path}: invalid YAML{where}: {problem}") from None

    base = config_path.parent
    if data is None:
        return WebConfig()
    top = _mapping(data, "web config file", _TOP_KEYS)
    tls = _parse_tls(top.get("tls_server_config"), base)
    headers = _parse_http(top.get("http_server_config"))
    users = _parse_users(top.get("basic_auth_users"))
    config = WebConfig(tls=tls, headers=headers, basic_auth_users=users)
    if tls is not None:
        tls.ssl_context()  # fail now, not on the first connection
    return config


@functools.cache
def _strict_loader() -> type[Any]:
    """``yaml.SafeLoader`` that rejects duplicate mapping keys instead of keeping the last one."""
    import yaml

    class StrictSafeLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
            seen: set[object] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictSafeLoader


def _parse_tls(data: object, base: Path) -> TLSServerConfig | None:
    if data is None:
        return None
    section = "tls_server_config"
    tls = _mapping(data, section, _TLS_KEYS)
    cert_file = _optional_path(tls, "cert_file", section, base)
    key_file = _optional_path(tls, "key_file", section, base)
    if cert_file is None or key_file is None:
        missing = "cert_file" if cert_file is None else "key_file"
        raise WebConfigError(f"{section}.{missing} is required when tls_server_config is present")
    _check_pem(cert_file, f"{section}.cert_file", "CERTIFICATE-----")
    _check_pem(key_file, f"{section}.key_file", "PRIVATE KEY-----")

    auth_name = _string(tls.get("client_auth_type", "NoClientCert"), f"{section}.client_auth_type")
    client_auth_type = _CLIENT_AUTH_BY_NAME.get(auth_name)
    if client_auth_type is None:
        raise WebConfigError(
            f"{section}.client_auth_type: unknown value {auth_name!r} "
            f"(expected one of {', '.join(CLIENT_AUTH_TYPES)})"
        )
    client_ca_file = _optional_path(tls, "client_ca_file", section, base)
    if client_ca_file is not None:
        _check_readable(client_ca_file, f"{section}.client_ca_file")
    if client_auth_type == "NoClientCert":
        if client_ca_file is not None:
            raise WebConfigError(
                f"{section}.client_ca_file is set but client_auth_type is NoClientCert "
                "(set client_auth_type: RequireAndVerifyClientCert to authenticate clients)"
            )
    elif client_ca_file is None:
        raise WebConfigError(
            f"{section}.client_auth_type {client_auth_type} needs client_ca_file "
            "(client certificates are always verified against it)"
        )

    sans_raw = tls.get("client_allowed_sans")
    sans: tuple[str, ...] = ()
    if sans_raw is not None:
        if not isinstance(sans_raw, list) or not all(isinstance(s, str) and s for s in sans_raw):
            raise WebConfigError(f"{section}.client_allowed_sans must be a list of non-empty strings")
        sans = tuple(sans_raw)
    if sans and _VERIFY_MODES[client_auth_type] != ssl.CERT_REQUIRED:
        raise WebConfigError(
            f"{section}.client_allowed_sans needs client_auth_type RequireAndVerifyClientCert "
            f"(or RequireAnyClientCert), not {client_auth_type}"
        )

    min_version = _tls_version(tls.get("min_version", "TLS12"), f"{section}.min_version")
    max_raw = tls.get("max_version")
    max_version = None if max_raw is None else _tls_version(max_raw, f"{section}.max_version")
    if max_version is not None and max_version < min_version:
        raise WebConfigError(f"{section}: max_version {max_raw} is lower than min_version")

    prefer = tls.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise WebConfigError(f"{section}.prefer_server_cipher_suites must be true or false")

    return TLSServerConfig(
        cert_file=cert_file,
        key_file=key_file,
        client_auth_type=client_auth_type,
        client_ca_file=client_ca_file,
        client_allowed_sans=sans,
        min_version=min_version,
        max_version=max_version,
        prefer_server_cipher_suites=prefer,
    )


def _parse_http(data: object) -> tuple[tuple[str, str], ...]:
    if data is None:
        return ()
    http = _mapping(data, "http_server_config", _HTTP_KEYS)
    raw = http.get("headers")
    if raw is None:
        return ()
    section = "http_server_config.headers"
    if not isinstance(raw, dict):
        raise WebConfigError(f"{section} must be a mapping of header name to value")
    headers: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in raw.items():
        if not isinstance(name, str) or not _TOKEN_RE.match(name):
            raise WebConfigError(f"{section}: invalid header name {name!r}")
        lower = name.lower()
        if lower in RESERVED_HEADERS:
            raise WebConfigError(f"{section}: setting the {name} header is not allowed")
        if lower in seen:
            raise WebConfigError(f"{section}: header {name} is given twice")
        seen.add(lower)
        if value is None:
            continue
        if not isinstance(value, str):
            raise WebConfigError(f"{section}.{name} must be a string")
        value = value.strip()
        if any(c in value for c in "\r\n\0"):
            raise WebConfigError(f"{section}.{name}: value must be a single line")
        if not value:
            continue  # blank means "unset", as in the toolkit
        allowed = _HEADER_VALUE_CHOICES.get(lower)
        if allowed is not None and value.lower() not in allowed:
            raise WebConfigError(
                f"{section}.{name}: invalid value {value!r} (allowed: {', '.join(sorted(allowed))})"
            )
        headers.append((name, value))
    return tuple(headers)


def _parse_users(data: object) -> Mapping[str, bytes]:
    if data is None:
        return MappingProxyType({})
    section = "basic_auth_users"
    if not isinstance(data, dict):
        raise WebConfigError(f"{section} must be a mapping of username to bcrypt hash")
    users: dict[str, bytes] = {}
    for name, hashed in data.items():
        if not isinstance(name, str) or not name:
            raise WebConfigError(f"{section}: username {name!r} must be a non-empty string (quote it)")
        if ":" in name:
            raise WebConfigError(f"{section}: username {name!r} must not contain ':'")
        # Never echo the value: it is a password hash (or, by mistake, a plaintext password).
        if not isinstance(hashed, str) or not _BCRYPT_RE.match(hashed):
            raise WebConfigError(
                f"{section}.{name}: not a bcrypt hash (expected $2a$/$2b$/$2y$, cost 04-31, 60 characters; "
                "generate one with: htpasswd -nBC 10 '' | tr -d ':\\n')"
            )
        users[name] = hashed.encode("ascii")
    return MappingProxyType(users)


def _mapping(data: object, where: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WebConfigError(f"{where} must be a mapping, not {_type_name(data)}")
    prefix = "" if where == "web config file" else f"{where}."
    for key in data:
        if not isinstance(key, str):
            raise WebConfigError(f"{where}: key {key!r} must be a string")
        if key not in allowed:
            reason = _UNSUPPORTED.get(prefix + key)
            if reason is not None:
                raise WebConfigError(f"{prefix}{key}: not supported: {reason}")
            raise WebConfigError(
                f"{where}: unknown key {key!r} (expected one of: {', '.join(sorted(allowed))})"
            )
    return data


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise WebConfigError(f"{where} must be a string, not {_type_name(value)}")
    return value


def _optional_path(data: Mapping[str, Any], key: str, section: str, base: Path) -> Path | None:
    value = data.get(key)
    if value is None:
        return None
    text = _string(value, f"{section}.{key}")
    if not text:
        raise WebConfigError(f"{section}.{key} must not be empty")
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path


def _tls_version(value: object, where: str) -> ssl.TLSVersion:
    version = _TLS_VERSIONS.get(value) if isinstance(value, str) else None
    if version is None:
        raise WebConfigError(
            f"{where}: unknown TLS version {value!r} (expected one of {', '.join(_TLS_VERSIONS)})"
        )
    return version


def _check_readable(path: Path, where: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise WebConfigError(f"{where}: cannot read {path}: {_os_reason(exc)}") from None


def _check_pem(path: Path, where: str, marker: str) -> None:
    content = _check_readable(path, where)
    if b"-----BEGIN " not in content or marker.encode() not in content:
        kind = "certificate" if marker.startswith("CERT") else "private key"
        raise WebConfigError(f"{where}: {path} does not contain a PEM {kind}")


class _EncryptedKeyError(Exception):
    pass


def _no_passphrase() -> bytes:
    raise _EncryptedKeyError  # never let OpenSSL prompt on the terminal


def _load_cert_chain(ctx: ssl.SSLContext, cert_file: Path, key_file: Path) -> None:
    where = "tls_server_config"
    try:
        ctx.load_cert_chain(cert_file, key_file, password=_no_passphrase)
    except _EncryptedKeyError:
        raise WebConfigError(
            f"{where}.key_file: {key_file} is passphrase-protected; use an unencrypted key"
        ) from None
    except OSError as exc:
        if isinstance(exc, ssl.SSLError) and exc.reason == "KEY_VALUES_MISMATCH":
            raise WebConfigError(
                f"{where}.key_file: {key_file} does not match the certificate in cert_file {cert_file}"
            ) from None
        raise WebConfigError(
            f"{where}: cannot load cert_file {cert_file} with key_file {key_file}: {_ssl_reason(exc)}"
        ) from None


def _ssl_reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc).replace("\n", " ")
    return _os_reason(exc)


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).replace("\n", " ")


def _type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "empty"}.get(
        type(value), type(value).__name__
    )


# ------------------------------------------------------------------------------------------ middlewares


def headers_middleware(headers: Iterable[tuple[str, str]]) -> Middleware:
    """Add fixed headers to every response, including 401/403 and aiohttp's own 404/405 exceptions."""
    fixed = tuple(headers)

    @web.middleware
    async def add_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            for name, value in fixed:
                exc.headers.setdefault(name, value)
            raise
        if not response.prepared:  # a streamed response already sent its headers
            for name, value in fixed:
                response.headers.setdefault(name, value)
        return response

    return add_headers


def client_san_middleware(allowed_sans: Iterable[str]) -> Middleware:
    """403 unless the verified client certificate has a SAN exactly equal to one of ``allowed_sans``.

    DNS names, e-mail addresses, URIs and IP addresses are compared (IPs by value, so ``::1`` matches
    however OpenSSL spells it). Applies to every path. Use only with a context whose verify mode is
    ``CERT_REQUIRED``: ``peercert`` is empty for unverified certificates.
    """
    allowed = frozenset(allowed_sans)
    allowed_ips = frozenset(ip for ip in (_as_ip(s) for s in allowed) if ip is not None)

    def matches(kind: str, value: str) -> bool:
        if kind == "IP Address":
            ip = _as_ip(value)
            return ip is not None and ip in allowed_ips
        return kind in ("DNS", "email", "URI") and value in allowed

    @web.middleware
    async def check_san(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        peercert = transport.get_extra_info("peercert") if transport is not None else None
        sans = peercert.get("subjectAltName", ()) if isinstance(peercert, dict) else ()
        if not any(matches(kind, value) for kind, value in sans):
            return web.Response(status=403, text="client certificate not allowed\n")
        return await handler(request)

    return check_san


def _as_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class _BasicAuthChecker:
    """bcrypt verification with a success cache, a dummy check for unknown users and one worker thread."""

    def __init__(
        self, users: Mapping[str, bytes], cache_ttl: float, executor: concurrent.futures.Executor | None
    ) -> None:
        import bcrypt

        self._checkpw = bcrypt.checkpw
        self._users = {name.encode("utf-8"): hashed for name, hashed in users.items()}
        # Same cost as the most expensive real hash, so an unknown user takes as long as a known one.
        cost = max((int(h[4:6]) for h in self._users.values()), default=4)
        self._dummy_hash = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))
        self._ttl = cache_ttl
        # Cache of successes only: username -> (HMAC-SHA256 of the password under a per-process random
        # key, monotonic expiry). A lookup hit needs the digest to match, so a wrong password can never be
        # accepted from the cache; it always goes to bcrypt. Bounded by the number of configured users.
        self._cache_key = secrets.token_bytes(32)
        self._cache: dict[bytes, tuple[bytes, float]] = {}
        # One bcrypt at a time in a private thread (bcrypt releases the GIL): a burst of bad credentials
        # costs at most one core and never queues behind or starves the default executor (DNS etc.).
        self._executor = executor or concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="bcrypt"
        )

    def _digest(self, username: bytes, password: bytes) -> bytes:
        return hmac.new(self._cache_key, username + b"\0" + password, hashlib.sha256).digest()

    def _verify_blocking(self, hashed: bytes, password: bytes) -> bool:
        try:
            return self._checkpw(password, hashed)
        except ValueError:
            return False

    async def check(self, username: bytes, password: bytes) -> bool:
        if len(password) > _BCRYPT_MAX_PASSWORD:
            return False  # bcrypt would raise; same answer for every user, so nothing leaks
        hashed = self._users.get(username)
        digest = self._digest(username, password)
        if hashed is not None:
            cached = self._cache.get(username)
            if cached is not None:
                cached_digest, expires = cached
                if time.monotonic() < expires and hmac.compare_digest(cached_digest, digest):
                    return True
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(
            self._executor, self._verify_blocking, self._dummy_hash if hashed is None else hashed, password
        )
        if hashed is None:
            return False
        if ok:
            self._cache[username] = (digest, time.monotonic() + self._ttl)
        return ok


def _parse_basic_authorization(header: str | None) -> tuple[bytes, bytes] | None:
    if not header:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    username, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return username, password


def basic_auth_middleware(
    users: Mapping[str, bytes],
    *,
    exempt_paths: Collection[str] = DEFAULT_EXEMPT_PATHS,
    realm: str = DEFAULT_REALM,
    cache_ttl: float = DEFAULT_AUTH_CACHE_TTL,
    executor: concurrent.futures.Executor | None = None,
) -> Middleware:
    """HTTP basic auth against bcrypt hashes, for every path except ``exempt_paths`` (exact match).

    Missing, malformed or wrong credentials get 401 with ``WWW-Authenticate: Basic realm="<realm>"``.
    Credentials are the raw bytes of the header (usernames are compared as UTF-8). bcrypt runs in a
    dedicated single worker thread, never on the event loop; unknown usernames are checked against a dummy
    hash of the same cost; successful checks are cached for ``cache_ttl`` seconds (0 disables the cache).
    Building the middleware computes that dummy hash once (one bcrypt run at the highest configured cost),
    so call it at start-up. Needs the ``bcrypt`` package. Passwords and hashes are never logged.
    ``executor`` runs the checks (default: a private single thread); a reload passes the one it keeps,
    so that a new set of users neither adds a thread nor runs two checks at a time.
    """
    checker = _BasicAuthChecker(users, cache_ttl, executor)
    exempt = frozenset(exempt_paths)
    challenge = {"WWW-Authenticate": f'Basic realm="{realm}"'}

    @web.middleware
    async def basic_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in exempt:
            return await handler(request)
        credentials = _parse_basic_authorization(request.headers.get("Authorization"))
        if credentials is None or not await checker.check(*credentials):
            return web.Response(status=401, text="Unauthorized\n", headers=challenge)
        return await handler(request)

    return basic_auth
