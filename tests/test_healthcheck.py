"""The container health check finds the exporter's listen address from its command line and
environment, and the demo is reachable from outside the container's loopback."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from ami_exporter import healthcheck
from ami_exporter.config import parse_args

from .packaging.test_dockerfile import stages
from .support.net import free_port


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AMI_EXPORTER_") or name == "HEALTHCHECK_URL":
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("cmdline", "args"),
    [
        # exec-form ENTRYPOINT: the venv's console script runs under its python
        (b"/opt/venv/bin/python\0/opt/venv/bin/ami-exporter\0--demo\0", ["--demo"]),
        (b"ami-exporter\0", []),
        # docker run --init: PID 1 is the init, the exporter is on its command line
        (
            b"/sbin/docker-init\0--\0ami-exporter\0--web.listen-address=:9100\0",
            ["--web.listen-address=:9100"],
        ),
        (b"python\0-m\0ami_exporter\0--log.level=debug\0", ["--log.level=debug"]),
        (b"/bin/sh\0-c\0sleep 1\0", None),
    ],
)
def test_exporter_args_from_a_command_line(cmdline: bytes, args: list[str] | None) -> None:
    assert healthcheck.exporter_args(cmdline) == args


@pytest.mark.parametrize(
    ("args", "url"),
    [
        ([], "http://127.0.0.1:9815/-/healthy"),
        (["--web.listen-address=:9100"], "http://127.0.0.1:9100/-/healthy"),
        (["--web.listen-address", "0.0.0.0:9101"], "http://127.0.0.1:9101/-/healthy"),
        (
            ["--web.listen-address=10.0.0.5:9102", "--web.listen-address=:9103"],
            "http://10.0.0.5:9102/-/healthy",
        ),
        (["--web.listen-address=[::]:9104"], "http://[::1]:9104/-/healthy"),
        (["--demo"], "http://127.0.0.1:9815/-/healthy"),
        (
            ["--ami.address=pbx:5038", "--no-collector.queue-members", "--unknown"],
            "http://127.0.0.1:9815/-/healthy",
        ),
        (["--web.listen-address=nonsense"], "http://127.0.0.1:9815/-/healthy"),
    ],
)
def test_health_url_from_the_exporter_flags(args: list[str], url: str) -> None:
    assert healthcheck.health_url(args) == url


def test_health_url_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMI_EXPORTER_WEB_LISTEN_ADDRESS", ":9400")
    assert healthcheck.health_url(["--demo"]) == "http://127.0.0.1:9400/-/healthy"
    assert healthcheck.health_url(["--web.listen-address=:9401"]) == "http://127.0.0.1:9401/-/healthy"


def test_health_url_uses_https_when_the_web_config_enables_tls(tmp_path: Path) -> None:
    config = tmp_path / "web.yml"
    config.write_text("tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n", encoding="utf-8")
    url = healthcheck.health_url([f"--web.config.file={config}", "--web.listen-address=:9443"])
    assert url == "https://127.0.0.1:9443/-/healthy"
    config.write_text("basic_auth_users: {}\n", encoding="utf-8")
    assert healthcheck.health_url([f"--web.config.file={config}"]).startswith("http://")


def test_health_check_url_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"ami-exporter\0--web.listen-address=:9100\0")
    assert healthcheck.target_url(cmdline) == "http://127.0.0.1:9100/-/healthy"
    monkeypatch.setenv("HEALTHCHECK_URL", "http://127.0.0.1:1/-/healthy")
    assert healthcheck.target_url(cmdline) == "http://127.0.0.1:1/-/healthy"
    assert healthcheck.target_url(tmp_path / "no-such-process") == "http://127.0.0.1:1/-/healthy"


@contextlib.contextmanager
def exporter(args: list[str], env: dict[str, str] | None = None) -> Iterator[None]:
    environment = {"AMI_EXPORTER_SECRET": "not-used", "PATH": str(Path(sys.executable).parent), **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "ami_exporter", "--ami.address=127.0.0.1:9", "--log.level=error", *args],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def wait_healthy(url: str, cmdline: Path, deadline: float) -> None:
    """Poll the probe itself until the exporter is up (start-up takes a moment, not asserted)."""
    while healthcheck.main(cmdline) != 0:
        assert time.monotonic() < deadline, f"never healthy: {url}"
        time.sleep(0.1)


def test_probe_of_a_running_exporter_on_a_custom_port(tmp_path: Path) -> None:
    port = free_port()
    flags = [f"--web.listen-address=127.0.0.1:{port}"]
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(
        b"\0".join([b"/opt/venv/bin/python", b"/opt/venv/bin/ami-exporter", *map(str.encode, flags)])
    )
    with exporter(flags):
        wait_healthy(f"http://127.0.0.1:{port}/-/healthy", cmdline, time.monotonic() + 30)
    assert healthcheck.main(cmdline) == 1  # stopped: unhealthy


def test_probe_of_an_exporter_serving_tls(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    config = tmp_path / "web.yml"
    config.write_text("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n", encoding="utf-8")
    port = free_port()
    flags = [f"--web.listen-address=127.0.0.1:{port}", f"--web.config.file={config}"]
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"\0".join([b"ami-exporter", *map(str.encode, flags)]) + b"\0")
    assert healthcheck.target_url(cmdline) == f"https://127.0.0.1:{port}/-/healthy"
    with exporter(flags):
        wait_healthy(f"https://127.0.0.1:{port}/-/healthy", cmdline, time.monotonic() + 30)


def _dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stages()[1]:
        if keyword == "ENV":
            for assignment in rest.split():
                name, _, value = assignment.partition("=")
                env[name] = value
    return env


def test_demo_in_the_image_listens_on_every_interface(monkeypatch: pytest.MonkeyPatch) -> None:
    """``docker run -p 9815:9815 ami-exporter --demo``: with the image's environment the demo binds
    every interface (the host reaches it through the container's eth0), not loopback only."""
    listen = _dockerfile_env()["AMI_EXPORTER_WEB_LISTEN_ADDRESS"]
    monkeypatch.setenv("AMI_EXPORTER_WEB_LISTEN_ADDRESS", listen)
    config = parse_args(["--demo"])
    assert config.listen[0].host is None and config.listen[0].port == 9815
    assert healthcheck.health_url(["--demo"]) == "http://127.0.0.1:9815/-/healthy"
    monkeypatch.delenv("AMI_EXPORTER_WEB_LISTEN_ADDRESS")
    assert parse_args(["--demo"]).listen[0].host == "127.0.0.1"  # outside the image: loopback


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="127.0.0.2 is a loopback address on Linux")
def test_the_demo_process_answers_beyond_its_own_address() -> None:
    """The running demo with the image's variable answers on another address of the host (127.0.0.2
    stands in for the container's eth0), which a loopback-only bind would refuse."""
    port = free_port()
    with exporter(["--demo"], env={"AMI_EXPORTER_WEB_LISTEN_ADDRESS": f":{port}"}):
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.2:{port}/-/healthy", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the demo never answered on 127.0.0.2"
                time.sleep(0.1)
