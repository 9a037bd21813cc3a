"""``ami-exporter check`` run in-process through its command line, against real sockets on 127.0.0.1:
the simulator, the replay server and small servers that are not Asterisk."""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ami_exporter.check import cli
from ami_exporter.simulator import Simulator
from ami_exporter.simulator.config import EXPORTER_READ, UserConfig

from ..simulator.conftest import quiet_config

# A secret no output may contain, whatever the verbosity.
SECRET = "Zq9-check-s3cret-must-never-show"
USERS = (
    UserConfig("exporter", SECRET, read=EXPORTER_READ, write=""),
    UserConfig("exporter_rep", SECRET, read=EXPORTER_READ, write="reporting"),
    UserConfig("admin", SECRET, read="all", write="all"),
    UserConfig("no_system", SECRET, read="call,agent,cdr,security", write=""),
)


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def line(self, fragment: str) -> str:
        """The one output line holding ``fragment`` (fails when none does)."""
        lines = [line.strip() for line in self.out.splitlines() if fragment in line]
        assert lines, f"no line with {fragment!r} in:\n{self.out}"
        return lines[0]

    def json(self) -> dict[str, Any]:
        document = json.loads(self.out)
        assert isinstance(document, dict)
        return document


RunCheck = Callable[..., Coroutine[Any, Any, Outcome]]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The check configures the root logger (``--log.level``) like the exporter; undo it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def run_check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCheck:
    """``await run_check(*flags, secret=...)``: ``ami-exporter check`` with the secret in
    ``AMI_EXPORTER_SECRET`` (None: neither env nor file), returning status, stdout and stderr."""
    for name in list(os.environ):
        if name.startswith("AMI_EXPORTER_"):
            monkeypatch.delenv(name)

    async def run(*flags: str, secret: str | None = SECRET) -> Outcome:
        if secret is not None:
            monkeypatch.setenv("AMI_EXPORTER_SECRET", secret)
        out = io.StringIO()
        code = await cli.run(list(flags), out)
        err = capsys.readouterr().err
        return Outcome(code, out.getvalue(), err)

    return run


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A quiet call centre (no traffic unless a test drives it) with the users of :data:`USERS`."""
    simulator = Simulator(quiet_config(users=USERS))
    await simulator.start(traffic=False)
    yield simulator
    await simulator.stop()


def self_signed_certificate(name: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for ``name`` (like Asterisk's ast_tls_cert script makes): cert, key."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "asterisk.pem"
    key_path = directory / "asterisk.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
