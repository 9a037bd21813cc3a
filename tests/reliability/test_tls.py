"""AMI over TLS: the ``--ami.tls*`` flags against the simulator listening with a trustme certificate."""

from __future__ import annotations

import dataclasses
import logging
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from ami_exporter.config import parse_args
from ami_exporter.service import AMISettings
from ami_exporter.simulator import Simulator, SimulatorConfig

from .harness import Exposition, audit, exporter_in_process, get, record_recovery, wait_until

SERVER_NAME = "pbx.example.test"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_sim(ca: trustme.CA) -> AsyncIterator[Simulator]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(SERVER_NAME).configure_cert(context)
    simulator = Simulator(SimulatorConfig.demo(time_scale=0, scanner_rate=0.0, pause_interval=0.0))
    await simulator.start(traffic=False, ssl=context)
    try:
        yield simulator
    finally:
        await simulator.stop()


def settings_from_flags(simulator: Simulator, tmp_path: Path, *flags: str) -> AMISettings:
    secret = tmp_path / "secret"
    secret.write_text("exportersecret\n", encoding="utf-8")
    config = parse_args(
        [
            f"--ami.address=127.0.0.1:{simulator.port}",
            "--ami.username=exporter_rep",
            f"--ami.secret-file={secret}",
            "--ami.tls",
            *flags,
        ]
    )
    return dataclasses.replace(
        config.ami, reconcile_interval=0.2, backoff_initial=0.05, backoff_max=0.2, connect_timeout=2.0
    )


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(("ca", f"--ami.tls.server-name={SERVER_NAME}"), id="ca-file+server-name"),
        pytest.param(("--ami.tls.insecure-skip-verify",), id="insecure-skip-verify"),
        pytest.param(("--no-ami.reader-process", "--ami.tls.insecure-skip-verify"), id="no-reader-process"),
    ],
)
async def test_tls_session_works(
    tls_sim: Simulator, ca: trustme.CA, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    argv = [f"--ami.tls.ca-file={ca_file}" if flag == "ca" else flag for flag in flags]
    settings = settings_from_flags(tls_sim, tmp_path, *argv)
    started = time.monotonic()
    async with exporter_in_process(settings) as exporter:
        status = exporter.service.status
        await wait_until(lambda: status.up and status.ready, timeout=10)
        record_recovery(f"TLS connect+login+first reconcile ({flags[-1]})", time.monotonic() - started)
        await tls_sim.place_call("sales", patience=1000, answer=False)
        await wait_until(lambda: exporter.service.pbx.queues.queues["sales"].count == 1)
        session = status.session
        assert session is not None and session._transport is not None
        assert session._transport.get_extra_info("ssl_object") is not None  # really TLS
        # Through the reader process (the default) the TLS bytes are relayed as they are.
        assert (session.relay is not None) is ("--no-ami.reader-process" not in flags)
        assert session.extra_info("peername") == ("127.0.0.1", tls_sim.port)
        code, text = await get(f"{exporter.url}/metrics")
        assert code == 200 and Exposition.parse(text).value("asterisk_up") == 1
    audit(f"tls {flags[-1]}", tls_sim, "exporter_rep", exporter.service.sent_actions)


@pytest.mark.parametrize(
    ("with_ca", "server_name"),
    [
        pytest.param(False, SERVER_NAME, id="no-ca-file"),
        pytest.param(True, "wrong.example.test", id="wrong-server-name"),
        pytest.param(True, None, id="address-as-server-name"),
    ],
)
async def test_tls_verification_failure_is_logged_and_up_is_0(
    tls_sim: Simulator,
    ca: trustme.CA,
    tmp_path: Path,
    with_ca: bool,
    server_name: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    flags = [f"--ami.tls.ca-file={ca_file}"] if with_ca else []
    if server_name is not None:
        flags.append(f"--ami.tls.server-name={server_name}")
    settings = settings_from_flags(tls_sim, tmp_path, *flags)
    caplog.set_level(logging.DEBUG, logger="ami_exporter")
    async with exporter_in_process(settings) as exporter:
        status = exporter.service.status
        await wait_until(lambda: status.logins["error"] >= 3, timeout=10)
        assert not status.up and status.logins["success"] == 0
        code, text = await get(f"{exporter.url}/metrics")
        assert code == 200 and Exposition.parse(text).value("asterisk_up") == 0
        assert (await get(f"{exporter.url}/-/ready"))[0] == 503
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings  # once per state change, not per attempt
    assert "certificate" in warnings[0].lower(), warnings[0]
    # Nothing reached the AMI layer: no session ever logged in.
    assert all(session.user is None for session in tls_sim.truth().sessions.values())
