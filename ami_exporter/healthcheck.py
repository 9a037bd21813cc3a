"""The container image's health check: ``python -m ami_exporter.healthcheck``.

It GETs ``/-/healthy`` (200 while the process runs; exempt from basic auth) on the address the
exporter actually listens on, so any ``--web.listen-address`` works without more configuration. The
address comes from the exporter's own command line, read from ``/proc/1/cmdline`` (the exporter is
PID 1 in the image, or the child named on an init's command line with ``docker run --init``), parsed
by the exporter's own flag parser with the container's environment (``AMI_EXPORTER_WEB_LISTEN_ADDRESS``).
The first listen address is probed; a wildcard address is probed on loopback. With a
``--web.config.file`` that enables TLS the probe uses https without verifying the certificate (it
only talks to loopback). ``HEALTHCHECK_URL`` overrides all of this. Exit status 0 healthy, 1 not.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

PROC_CMDLINE = Path("/proc/1/cmdline")
HEALTH_PATH = "/-/healthy"
TIMEOUT = 4.0  # the Dockerfile's HEALTHCHECK --timeout is 5s


def exporter_args(cmdline: bytes) -> list[str] | None:
    """The exporter's flags in a NUL-separated command line, or None when it does not run the
    exporter (``ami-exporter ...``, ``python /venv/bin/ami-exporter ...``, ``python -m ami_exporter ...``)."""
    argv = [part.decode("utf-8", "surrogateescape") for part in cmdline.split(b"\0")]
    if argv and not argv[-1]:
        argv.pop()
    for index, arg in enumerate(argv):
        if Path(arg).name == "ami-exporter":
            return argv[index + 1 :]
        if arg == "-m" and argv[index + 1 : index + 2] == ["ami_exporter"]:
            return argv[index + 2 :]
    return None


def health_url(args: Sequence[str]) -> str:
    """The ``/-/healthy`` URL of an exporter started with ``args`` (in this environment)."""
    from .config import ConfigError, build_parser, listen_addresses

    try:
        namespace, _unknown = build_parser().parse_known_args(list(args))
        first = listen_addresses(namespace)[0]
    except (SystemExit, ConfigError):  # flags the exporter itself would refuse: probe the default
        namespace = argparse.Namespace(web_config_file=None)
        first = listen_addresses(argparse.Namespace(web_listen=None, demo=False))[0]
    host = first.host or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if _serves_tls(namespace.web_config_file) else "http"
    return f"{scheme}://{host}:{first.port}{HEALTH_PATH}"


def _serves_tls(path: str | None) -> bool:
    if not path:
        return False
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and data.get("tls_server_config") is not None


def probe(url: str, timeout: float = TIMEOUT) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False  # loopback probe of our own server: nothing to verify against
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def target_url(cmdline_file: Path = PROC_CMDLINE) -> str:
    override = os.environ.get("HEALTHCHECK_URL")
    if override:
        return override
    try:
        args = exporter_args(cmdline_file.read_bytes())
    except OSError:
        args = None
    return health_url(args or [])


def main(cmdline_file: Path = PROC_CMDLINE) -> int:
    url = target_url(cmdline_file)
    if probe(url):
        return 0
    print(f"unhealthy: no 200 from {url}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
