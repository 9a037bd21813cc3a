"""--web.config.file: real aiohttp server on 127.0.0.1, real TLS (trustme certificates), real client."""

from __future__ import annotations

import asyncio
import base64
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
import trustme
import yaml
from aiohttp import web

from ami_exporter.web.webconfig import (
    WebConfig,
    WebConfigError,
    basic_auth_middleware,
    load_web_config,
)

PASSWORD = "s3cret-pässword"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
OTHER_HASH = bcrypt.hashpw(b"other", bcrypt.gensalt(rounds=4)).decode()
CLIENT_SAN = "prometheus.example.org"


class Pki:
    """Server CA + server cert, a client CA + client cert, and an untrusted CA + client cert, on disk."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("localhost", "127.0.0.1")
        self.client_ca = trustme.CA()
        self.client = self.client_ca.issue_cert(CLIENT_SAN)
        self.rogue_ca = trustme.CA()
        self.rogue_client = self.rogue_ca.issue_cert(CLIENT_SAN)
        self.server.cert_chain_pems[0].write_to_path(str(directory / "server.crt"))
        self.server.private_key_pem.write_to_path(str(directory / "server.key"))
        self.client_ca.cert_pem.write_to_path(str(directory / "clients-ca.crt"))
        # A key that does not belong to server.crt.
        self.rogue_client.private_key_pem.write_to_path(str(directory / "other.key"))

    def client_context(
        self, *, cert: trustme.LeafCert | None = None, max_version: ssl.TLSVersion | None = None
    ) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        if cert is not None:
            cert.configure_cert(ctx)
        if max_version is not None:
            ctx.maximum_version = max_version
        return ctx


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


def write_config(directory: Path, config: Any, name: str = "web.yml") -> Path:
    path = directory / name
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config), encoding="utf-8")
    return path


def tls_section(**extra: Any) -> dict[str, Any]:
    # Relative names: resolved against the config file's directory.
    return {"cert_file": "server.crt", "key_file": "server.key", **extra}


async def metrics(_: web.Request) -> web.Response:
    return web.Response(text="ami_up 1\n")


async def healthy(_: web.Request) -> web.Response:
    return web.Response(text="OK\n")


@asynccontextmanager
async def serve(cfg: WebConfig) -> AsyncIterator[str]:
    """Serve /metrics and /-/healthy wired exactly like the application should; yield the base URL."""
    app = web.Application(middlewares=cfg.middlewares())
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", healthy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=cfg.ssl_context())
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if cfg.tls_enabled else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def fetch(
    url: str, *, ssl_ctx: ssl.SSLContext | bool = True, auth: tuple[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    timeout = aiohttp.ClientTimeout(total=10)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(url, ssl=ssl_ctx, headers=headers) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.text()


# ------------------------------------------------------------------------------------------------- TLS


async def test_https_with_trusted_ca(pki: Pki) -> None:
    cfg = load_web_config(write_config(pki.dir, {"tls_server_config": tls_section()}))
    async with serve(cfg) as base:
        status, _, body = await fetch(f"{base}/metrics", ssl_ctx=pki.client_context())
    assert status == 200
    assert body == "ami_up 1\n"


async def test_https_untrusted_server_cert_is_refused_by_client(pki: Pki) -> None:
    cfg = load_web_config(write_config(pki.dir, {"tls_server_config": tls_section()}))
    async with serve(cfg) as base:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await fetch(f"{base}/metrics", ssl_ctx=ssl.create_default_context())


async def test_plain_http_to_tls_port_fails(pki: Pki) -> None:
    cfg = load_web_config(write_config(pki.dir, {"tls_server_config": tls_section()}))
    async with serve(cfg) as base:
        with pytest.raises(aiohttp.ClientError):
            await fetch(base.replace("https://", "http://") + "/metrics")


async def test_min_version_tls13_refuses_tls12_client(pki: Pki) -> None:
    cfg = load_web_config(write_config(pki.dir, {"tls_server_config": tls_section(min_version="TLS13")}))
    async with serve(cfg) as base:
        with pytest.raises(aiohttp.ClientError):
            await fetch(f"{base}/metrics", ssl_ctx=pki.client_context(max_version=ssl.TLSVersion.TLSv1_2))
        status, _, _ = await fetch(f"{base}/metrics", ssl_ctx=pki.client_context())
    assert status == 200


async def test_max_version_tls12_is_applied(pki: Pki) -> None:
    cfg = load_web_config(write_config(pki.dir, {"tls_server_config": tls_section(max_version="TLS12")}))
    ctx = cfg.ssl_context()
    assert ctx is not None
    assert ctx.maximum_version == ssl.TLSVersion.TLSv1_2
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_no_config_means_plain_http(tmp_path: Path) -> None:
    cfg = load_web_config(write_config(tmp_path, ""))
    assert cfg == WebConfig()
    assert cfg.ssl_context() is None
    assert cfg.middlewares() == []


# ------------------------------------------------------------------------------------------------ mTLS


def mtls_config(pki: Pki, auth_type: str = "RequireAndVerifyClientCert", **extra: Any) -> WebConfig:
    section = tls_section(client_auth_type=auth_type, client_ca_file="clients-ca.crt", **extra)
    return load_web_config(write_config(pki.dir, {"tls_server_config": section}))


async def test_mtls_requires_a_client_certificate(pki: Pki) -> None:
    async with serve(mtls_config(pki)) as base:
        with pytest.raises(aiohttp.ClientError):
            await fetch(f"{base}/metrics", ssl_ctx=pki.client_context())


async def test_mtls_accepts_client_cert_from_trusted_ca(pki: Pki) -> None:
    async with serve(mtls_config(pki)) as base:
        status, _, body = await fetch(f"{base}/metrics", ssl_ctx=pki.client_context(cert=pki.client))
    assert (status, body) == (200, "ami_up 1\n")


async def test_mtls_rejects_client_cert_from_other_ca(pki: Pki) -> None:
    async with serve(mtls_config(pki)) as base:
        # TLS 1.3: the client finishes its side of the handshake first, then the server aborts.
        with pytest.raises(aiohttp.ClientError):
            await fetch(f"{base}/metrics", ssl_ctx=pki.client_context(cert=pki.rogue_client))
        # TLS 1.2: the handshake itself fails.
        ctx = pki.client_context(cert=pki.rogue_client, max_version=ssl.TLSVersion.TLSv1_2)
        with pytest.raises(aiohttp.ClientConnectorError):
            await fetch(f"{base}/metrics", ssl_ctx=ctx)
        status, _, _ = await fetch(f"{base}/metrics", ssl_ctx=pki.client_context(cert=pki.client))
        assert status == 200


async def test_verify_if_given_accepts_no_cert_but_rejects_untrusted_cert(pki: Pki) -> None:
    async with serve(mtls_config(pki, "VerifyClientCertIfGiven")) as base:
        status, _, _ = await fetch(f"{base}/metrics", ssl_ctx=pki.client_context())
        assert status == 200
        status, _, _ = await fetch(f"{base}/metrics", ssl_ctx=pki.client_context(cert=pki.client))
        assert status == 200
        with pytest.raises(aiohttp.ClientError):
            await fetch(f"{base}/metrics", ssl_ctx=pki.client_context(cert=pki.rogue_client))


@pytest.mark.parametrize(
    ("auth_type", "mode"),
    [
        ("NoClientCert", ssl.CERT_NONE),
        ("RequestClientCert", ssl.CERT_OPTIONAL),
        ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
        ("RequireAnyClientCert", ssl.CERT_REQUIRED),
        ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED),
    ],
)
def test_client_auth_type_mapping(pki: Pki, auth_type: str, mode: ssl.VerifyMode) -> None:
    section = tls_section(client_auth_type=auth_type)
    if auth_type != "NoClientCert":
        section["client_ca_file"] = "clients-ca.crt"
    ctx = load_web_config(write_config(pki.dir, {"tls_server_config": section})).ssl_context()
    assert ctx is not None
    assert ctx.verify_mode == mode


async def test_client_allowed_sans_match(pki: Pki) -> None:
    async with serve(mtls_config(pki, client_allowed_sans=["other.example", CLIENT_SAN])) as base:
        status, _, _ = await fetch(f"{base}/metrics", ssl_ctx=pki.client_context(cert=pki.client))
    assert status == 200


async def test_client_allowed_sans_mismatch_is_forbidden_on_every_path(pki: Pki) -> None:
    async with serve(mtls_config(pki, client_allowed_sans=["other.example"])) as base:
        for path in ("/metrics", "/-/healthy"):
            status, _, _ = await fetch(f"{base}{path}", ssl_ctx=pki.client_context(cert=pki.client))
            assert status == 403


# ------------------------------------------------------------------------------------------ basic auth


def auth_config(pki: Pki, tls: bool = True, **http: Any) -> WebConfig:
    config: dict[str, Any] = {"basic_auth_users": {"alice": HASH, "bob": OTHER_HASH}}
    if tls:
        config["tls_server_config"] = tls_section()
    if http:
        config["http_server_config"] = http
    return load_web_config(write_config(pki.dir, config))


async def test_basic_auth_over_tls(pki: Pki) -> None:
    ctx = pki.client_context()
    async with serve(auth_config(pki)) as base:
        url = f"{base}/metrics"
        status, headers, _ = await fetch(url, ssl_ctx=ctx)
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="ami-exporter"'
        status, headers, _ = await fetch(url, ssl_ctx=ctx, auth=("alice", "wrong"))
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="ami-exporter"'
        status, _, _ = await fetch(url, ssl_ctx=ctx, auth=("mallory", PASSWORD))
        assert status == 401
        status, _, _ = await fetch(url, ssl_ctx=ctx, auth=("bob", PASSWORD))  # alice's password
        assert status == 401
        status, _, body = await fetch(url, ssl_ctx=ctx, auth=("alice", PASSWORD))
        assert (status, body) == (200, "ami_up 1\n")
        status, _, body = await fetch(f"{base}/-/healthy", ssl_ctx=ctx)
        assert (status, body) == (200, "OK\n")


async def test_unknown_route_still_needs_auth(pki: Pki) -> None:
    async with serve(auth_config(pki, tls=False)) as base:
        status, _, _ = await fetch(f"{base}/nope")
        assert status == 401
        status, _, _ = await fetch(f"{base}/nope", auth=("alice", PASSWORD))
        assert status == 404


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "Basic",
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"alice-no-colon").decode(),
        "Basic " + base64.b64encode(b"alice:" + b"x" * 100).decode(),
    ],
)
async def test_malformed_authorization_is_401(pki: Pki, authorization: str) -> None:
    async with (
        serve(auth_config(pki, tls=False)) as base,
        aiohttp.ClientSession() as session,
        session.get(f"{base}/metrics", headers={"Authorization": authorization}) as resp,
    ):
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"] == 'Basic realm="ami-exporter"'


async def test_cache_never_accepts_wrong_password_after_right_one(pki: Pki) -> None:
    async with serve(auth_config(pki, tls=False)) as base:
        url = f"{base}/metrics"
        for _ in range(3):
            assert (await fetch(url, auth=("alice", PASSWORD)))[0] == 200
            assert (await fetch(url, auth=("alice", PASSWORD + "x")))[0] == 401
            assert (await fetch(url, auth=("alice", PASSWORD[:-1])))[0] == 401
            assert (await fetch(url, auth=("alice", "")))[0] == 401
            assert (await fetch(url, auth=("bob", PASSWORD)))[0] == 401
            assert (await fetch(url, auth=("alice", PASSWORD)))[0] == 200


async def test_cache_makes_repeated_checks_cheap_and_bcrypt_stays_off_the_loop() -> None:
    """A cost-13 hash takes a good fraction of a second: the loop must keep ticking, and the cached
    second request must be much faster than the first."""
    slow_hash = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=13))
    app = web.Application(middlewares=[basic_auth_middleware({"alice": slow_hash})])
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/metrics"
    max_gap = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal max_gap
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            max_gap = max(max_gap, now - last)
            last = now

    tick_task = asyncio.create_task(ticker())
    try:
        start = time.perf_counter()
        assert (await fetch(url, auth=("alice", "pw")))[0] == 200
        first = time.perf_counter() - start
        start = time.perf_counter()
        assert (await fetch(url, auth=("alice", "pw")))[0] == 200
        second = time.perf_counter() - start
    finally:
        stop.set()
        await tick_task
        await runner.cleanup()
    assert first > 0.2, "cost 13 should be slow; is the hash really checked?"
    assert second < first / 4
    assert max_gap < first / 2, f"event loop stalled for {max_gap:.3f}s (bcrypt took {first:.3f}s)"


async def test_exempt_paths_are_a_parameter(pki: Pki) -> None:
    cfg = auth_config(pki, tls=False)
    app = web.Application(middlewares=cfg.middlewares(exempt_paths={"/metrics"}, realm="test"))
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/-/healthy", healthy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        assert (await fetch(f"{base}/metrics"))[0] == 200
        status, headers, _ = await fetch(f"{base}/-/healthy")
        assert status == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="test"'
    finally:
        await runner.cleanup()


def test_repr_does_not_leak_hashes(pki: Pki) -> None:
    cfg = auth_config(pki)
    assert HASH not in repr(cfg)
    assert cfg.basic_auth_enabled
    assert dict(cfg.basic_auth_users) == {"alice": HASH.encode(), "bob": OTHER_HASH.encode()}


def test_2y_hashes_from_htpasswd_are_accepted(tmp_path: Path) -> None:
    y_hash = HASH.replace("$2b$", "$2y$", 1)
    cfg = load_web_config(write_config(tmp_path, {"basic_auth_users": {"alice": y_hash}}))
    assert bcrypt.checkpw(PASSWORD.encode(), cfg.basic_auth_users["alice"])


# --------------------------------------------------------------------------------------------- headers


async def test_extra_headers_are_set_on_every_response(pki: Pki) -> None:
    cfg = auth_config(
        pki,
        tls=False,
        headers={
            "X-Frame-Options": "deny",
            "X-Content-Type-Options": "nosniff",
            "Strict-Transport-Security": "max-age=31536000",
            "X-Custom": "",  # blank: not set
        },
    )
    async with serve(cfg) as base:
        responses = [
            await fetch(f"{base}/metrics", auth=("alice", PASSWORD)),
            await fetch(f"{base}/metrics"),  # 401
            await fetch(f"{base}/-/healthy"),
            await fetch(f"{base}/nope", auth=("alice", PASSWORD)),  # 404 raised by the router
        ]
    assert [status for status, _, _ in responses] == [200, 401, 200, 404]
    for _, headers, _ in responses:
        assert headers["X-Frame-Options"] == "deny"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "X-Custom" not in headers


# -------------------------------------------------------------------------------------- invalid files


def expect_error(directory: Path, config: Any, *fragments: str) -> str:
    path = write_config(directory, config)
    with pytest.raises(WebConfigError) as info:
        load_web_config(path)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(info.value, ValueError)
    return message


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match=r"nope\.yml: cannot read"):
        load_web_config(tmp_path / "nope.yml")


def test_bad_yaml(tmp_path: Path) -> None:
    expect_error(tmp_path, "tls_server_config: [unclosed\n", "invalid YAML", "line")


def test_bad_yaml_does_not_echo_the_line(tmp_path: Path) -> None:
    message = expect_error(tmp_path, f"basic_auth_users:\n  alice: {HASH}\n  - oops\n", "invalid YAML")
    assert HASH not in message


@pytest.mark.parametrize(
    ("config", "fragments"),
    [
        ("- a list\n", ("web config file must be a mapping",)),
        ({"tls_config": {}}, ("unknown key 'tls_config'",)),
        ({"tls_server_config": tls_section(cert_fil="x")}, ("tls_server_config", "unknown key 'cert_fil'")),
        ({"http_server_config": {"header": {}}}, ("http_server_config", "unknown key 'header'")),
        ({"tls_server_config": "server.crt"}, ("tls_server_config must be a mapping",)),
        ({"tls_server_config": tls_section(cipher_suites=["TLS_AES_128_GCM_SHA256"])}, ("cipher_suites",)),
        ({"tls_server_config": tls_section(curve_preferences=["X25519"])}, ("curve_preferences",)),
        ({"tls_server_config": tls_section(cert="-----BEGIN")}, ("tls_server_config.cert", "cert_file")),
        ({"http_server_config": {"http2": False}}, ("http2", "not supported")),
        ({"rate_limit": {"interval": "1s", "burst": 1}}, ("rate_limit", "not supported")),
        ({"tls_server_config": {"key_file": "server.key"}}, ("tls_server_config.cert_file", "required")),
        ({"tls_server_config": {"cert_file": "server.crt"}}, ("tls_server_config.key_file", "required")),
        ({"tls_server_config": tls_section(cert_file=["a"])}, ("tls_server_config.cert_file", "string")),
        ({"tls_server_config": tls_section(cert_file="missing.crt")}, ("cert_file", "missing.crt")),
        ({"tls_server_config": tls_section(key_file="missing.key")}, ("key_file", "missing.key")),
        ({"tls_server_config": tls_section(cert_file="server.key")}, ("cert_file", "PEM certificate")),
        ({"tls_server_config": tls_section(key_file="server.crt")}, ("key_file", "PEM private key")),
        (
            {"tls_server_config": tls_section(key_file="other.key")},
            ("key_file", "other.key", "does not match"),
        ),
        ({"tls_server_config": tls_section(min_version="TLS14")}, ("min_version", "TLS14")),
        ({"tls_server_config": tls_section(max_version=1.2)}, ("max_version",)),
        ({"tls_server_config": tls_section(min_version="TLS13", max_version="TLS12")}, ("max_version",)),
        ({"tls_server_config": tls_section(client_auth_type="Always")}, ("client_auth_type", "Always")),
        (
            {"tls_server_config": tls_section(client_auth_type="RequireAndVerifyClientCert")},
            ("client_auth_type", "needs client_ca_file"),
        ),
        (
            {"tls_server_config": tls_section(client_ca_file="clients-ca.crt")},
            ("client_ca_file", "NoClientCert"),
        ),
        (
            {
                "tls_server_config": tls_section(
                    client_auth_type="RequireAndVerifyClientCert", client_ca_file="nope-ca.crt"
                )
            },
            ("client_ca_file", "nope-ca.crt"),
        ),
        (
            {
                "tls_server_config": tls_section(
                    client_auth_type="VerifyClientCertIfGiven",
                    client_ca_file="clients-ca.crt",
                    client_allowed_sans=["a"],
                )
            },
            ("client_allowed_sans", "VerifyClientCertIfGiven"),
        ),
        ({"tls_server_config": tls_section(prefer_server_cipher_suites="yes")}, ("prefer_server",)),
        ({"basic_auth_users": {"alice": "plaintext"}}, ("basic_auth_users.alice", "not a bcrypt hash")),
        ({"basic_auth_users": {"alice": "$2b$04$short"}}, ("basic_auth_users.alice", "not a bcrypt hash")),
        ({"basic_auth_users": {"alice": 12345}}, ("basic_auth_users.alice", "not a bcrypt hash")),
        ({"basic_auth_users": {123: HASH}}, ("basic_auth_users", "123", "string")),
        ({"basic_auth_users": {"a:b": HASH}}, ("basic_auth_users", "':'")),
        ({"basic_auth_users": ["alice"]}, ("basic_auth_users must be a mapping",)),
        ({"http_server_config": {"headers": {"Content-Type": "text/html"}}}, ("Content-Type", "not allowed")),
        ({"http_server_config": {"headers": {"authorization": "x"}}}, ("authorization", "not allowed")),
        ({"http_server_config": {"headers": {"Bad Name": "x"}}}, ("invalid header name",)),
        ({"http_server_config": {"headers": {"X-Frame-Options": "allow"}}}, ("X-Frame-Options", "allow")),
        ({"http_server_config": {"headers": {"X-A": 1}}}, ("X-A", "string")),
        ({"http_server_config": {"headers": ["X-A"]}}, ("headers must be a mapping",)),
    ],
)
def test_invalid_config(pki: Pki, config: Any, fragments: tuple[str, ...]) -> None:
    message = expect_error(pki.dir, config, *fragments)
    assert HASH not in message
    assert "plaintext" not in message


def test_mismatched_key_names_both_files(pki: Pki) -> None:
    expect_error(pki.dir, {"tls_server_config": tls_section(key_file="other.key")}, "other.key", "server.crt")


def test_encrypted_key_is_rejected_without_prompting(pki: Pki) -> None:
    from cryptography.hazmat.primitives import serialization

    key: Any = serialization.load_pem_private_key(pki.server.private_key_pem.bytes(), password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    (pki.dir / "encrypted.key").write_bytes(encrypted)
    expect_error(pki.dir, {"tls_server_config": tls_section(key_file="encrypted.key")}, "passphrase")


def test_absolute_paths_are_used_as_is(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    section = tls_section(cert_file=str(pki.dir / "server.crt"), key_file=str(pki.dir / "server.key"))
    cfg = load_web_config(write_config(elsewhere, {"tls_server_config": section}))
    assert cfg.tls is not None
    assert cfg.tls.cert_file == pki.dir / "server.crt"


def test_directory_instead_of_file(pki: Pki) -> None:
    with pytest.raises(WebConfigError, match="cannot read"):
        load_web_config(pki.dir)


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    message = expect_error(
        tmp_path,
        f"basic_auth_users:\n  alice: {HASH}\n  alice: {OTHER_HASH}\n",
        "duplicate key 'alice'",
        "line 3",
    )
    assert HASH not in message
    assert OTHER_HASH not in message
