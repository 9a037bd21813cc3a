"""Wheel and sdist: they build, pass ``twine check``, install into a fresh venv and run.

Slow (about a minute: isolated builds and installs). They need the package index for the build backend
and the dependencies, as ``pip install`` does. ``build`` and ``twine`` come from the test extra.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import ami_exporter

from .support import REPO, docker_context_files, require_module

pytestmark = pytest.mark.slow

VERSION = ami_exporter.__version__


def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600, **kwargs)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{argv}\n{proc.stdout}\n{proc.stderr}"
    return proc  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_module("build", hint="pip install build (in the test extra)")
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(REPO)])
    return out


def the(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def test_sdist_and_wheel_are_named_with_the_version(dist: Path) -> None:
    assert the(dist, "*.whl").name == f"ami_exporter-{VERSION}-py3-none-any.whl"
    assert the(dist, "*.tar.gz").name == f"ami_exporter-{VERSION}.tar.gz"


def test_mypyc_asked_for_without_a_compiler_builds_pure_python(tmp_path: Path) -> None:
    """hatch_build.py: AMI_EXPORTER_MYPYC=1 where no C compiler exists is a pure wheel, not an error
    (the compiled build itself is proven by scripts/test-mypyc)."""
    require_module("build", hint="pip install build (in the test extra)")
    env = {**os.environ, "AMI_EXPORTER_MYPYC": "1", "CC": str(tmp_path / "no-such-cc")}
    proc = run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(REPO)], env=env)
    assert the(tmp_path, "*.whl").name == f"ami_exporter-{VERSION}-py3-none-any.whl"
    assert "no C compiler" in proc.stdout + proc.stderr


def test_twine_check(dist: Path) -> None:
    require_module("twine", hint="pip install twine (in the test extra)")
    proc = run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(dist.iterdir()))])
    assert "PASSED" in proc.stdout


def test_wheel_contents_and_metadata(dist: Path) -> None:
    with zipfile.ZipFile(the(dist, "*.whl")) as wheel:
        names = set(wheel.namelist())
        info = f"ami_exporter-{VERSION}.dist-info"
        metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert "ami_exporter/py.typed" in names
    assert "ami_exporter/__init__.py" in names and "ami_exporter/cli.py" in names
    assert not any(n.startswith(("tests/", "dashboards/", "bench/")) or "__pycache__" in n for n in names)
    assert any(n.startswith(f"{info}/licenses/LICENSE") for n in names)
    assert metadata["Name"] == "ami-exporter"
    assert metadata["Version"] == VERSION
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["Requires-Python"] == ">=3.11"
    assert "Typing :: Typed" in metadata.get_all("Classifier", [])
    urls = metadata.get_all("Project-URL", [])
    assert any(u.startswith("Changelog, ") for u in urls) and any(u.startswith("Issues, ") for u in urls)
    assert "web-config" in metadata.get_all("Provides-Extra", [])  # empty, kept for old install commands
    # --web.config.file works on a plain install: bcrypt and PyYAML are unconditional requirements.
    requires = {
        r.split(">")[0].split(";")[0].strip().lower(): r for r in metadata.get_all("Requires-Dist", [])
    }
    for name in ("bcrypt", "pyyaml", "aiohttp"):
        assert name in requires and "extra" not in requires[name], requires
    assert "ami-exporter = ami_exporter.cli:main" in entry_points


def test_sdist_contains_docs_examples_and_changelog(dist: Path) -> None:
    with tarfile.open(the(dist, "*.tar.gz")) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    for required in (
        "pyproject.toml",
        "README.md",
        "CHANGELOG.md",
        "LICENSE",
        "ami_exporter/py.typed",
        "docs/operations.md",
        "docs/troubleshooting.md",
        "examples/compose.yaml",
        "examples/manager.conf",
        "dashboards/rules/alerts.yaml",
    ):
        assert required in names, required
    assert not any("__pycache__" in n or n.startswith((".venv/", ".git/")) for n in names)


def _venv(path: Path) -> Path:
    run([sys.executable, "-m", "venv", str(path)])
    return path / "bin"


def test_wheel_installs_in_a_fresh_venv_and_runs(dist: Path, tmp_path: Path) -> None:
    bin_dir = _venv(tmp_path / "venv")
    run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(the(dist, "*.whl"))])
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMI_EXPORTER_")}
    help_text = run([str(bin_dir / "ami-exporter"), "--help"], env=env, cwd=tmp_path).stdout
    for flag in ("--ami.address", "--ami.secret-file", "--web.listen-address", "--web.config.file", "--demo"):
        assert flag in help_text
    version = run([str(bin_dir / "ami-exporter"), "--version"], env=env, cwd=tmp_path).stdout
    assert version.strip() == f"ami-exporter {VERSION}"
    module = run([str(bin_dir / "python"), "-m", "ami_exporter", "--version"], env=env, cwd=tmp_path).stdout
    assert module.strip() == f"ami-exporter {VERSION}"
    # --web.config.file works on a plain install (PyYAML and bcrypt come with it): `check` loads a file
    # with a bcrypt hash and says it is valid, even with no Asterisk to talk to.
    config = tmp_path / "web.yml"
    password_hash = "$2b$04$" + "a" * 53  # a well-formed bcrypt hash (cost 4)
    config.write_text(f"basic_auth_users:\n  alice: '{password_hash}'\n")
    proc = subprocess.run(
        [
            str(bin_dir / "ami-exporter"),
            "check",
            "--ami.address=127.0.0.1:9",
            f"--web.config.file={config}",
            "--output=json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**env, "AMI_EXPORTER_SECRET": "not-used"},
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr  # nothing listens on port 9
    steps = {step["step"]: step for step in json.loads(proc.stdout)["steps"]}
    assert steps["web_config"]["status"] == "ok", steps["web_config"]
    assert steps["web_config"]["facts"]["basic_auth_users"] == 1


def test_dockerfile_pip_steps_replayed_from_the_build_context(tmp_path: Path) -> None:
    """The Dockerfile's two RUN steps, outside a container: ``pip wheel`` in a copy of exactly the
    files .dockerignore lets through, then an offline install into a pip-less venv with the base's pip."""
    context = tmp_path / "context"
    for relative in docker_context_files():
        target = context / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, target)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    run([*pip, "wheel", "--quiet", "--no-cache-dir", "--wheel-dir", str(wheels), "."], cwd=context)
    assert (wheels / f"ami_exporter-{VERSION}-py3-none-any.whl").exists()
    run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")])
    python = tmp_path / "venv" / "bin" / "python"
    run(
        [
            *pip,
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-cache-dir",
            "--no-index",
            "--find-links",
            str(wheels),
            *map(str, sorted(wheels.glob("*.whl"))),
        ]
    )
    assert not (tmp_path / "venv" / "bin" / "pip").exists()
    version = run([str(tmp_path / "venv" / "bin" / "ami-exporter"), "--version"], cwd=tmp_path).stdout
    assert version.strip() == f"ami-exporter {VERSION}"
    # The image must be able to load a web config: PyYAML and bcrypt are dependencies.
    run([str(python), "-c", "import yaml, bcrypt, ami_exporter.web.webconfig"])
