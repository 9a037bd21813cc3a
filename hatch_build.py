"""Optional mypyc build of the wheel: ``AMI_EXPORTER_MYPYC=1 pip wheel .`` (or ``python -m build``).

Compiles the codec (``ami_exporter/ami/protocol.py`` and ``message.py``) and the model's books
(``ami_exporter/pbx/`` but ``model.py``) to C extensions with mypyc; the rest of the package stays
Python. The ``.py`` sources stay in the wheel too (an extension module is imported in preference to
a source file of the same name), so tracebacks and ``inspect`` keep working.

Without the variable, or without a C compiler or the Python headers, nothing happens: the wheel
is pure Python, as for ``pip install -e .`` and the sdist. A compiler that is present but fails is
an error: a build asked to be compiled must not turn pure without saying so.

A custom hook rather than the ``hatch-mypyc`` plugin: that plugin compiles whenever it is
configured (so a plain ``pip install .`` would need mypy and a compiler) and fails without a
compiler, while here compiling is opt-in and degrades to pure Python. mypyc's own command line does
the work (it type-checks, generates C and builds with setuptools in a scratch copy of the
sources), so this file only chooses, copies and includes.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ENABLE = "AMI_EXPORTER_MYPYC"
# What is compiled: the per-event hot path. Everything else (asyncio client, web, collectors) is
# I/O-bound or runs per scrape and stays interpreted.
COMPILED = ("ami_exporter/ami/protocol.py", "ami_exporter/ami/message.py", "ami_exporter/pbx")
# ``PBX`` stays interpreted: tests (and anyone embedding the model) subclass it, and Python classes
# cannot inherit from compiled ones without a runtime dependency on mypy_extensions. It only
# dispatches; the books it dispatches to are compiled.
INTERPRETED = ("ami_exporter/pbx/model.py",)


def _requested() -> bool:
    return os.environ.get(ENABLE, "").strip().lower() in {"1", "true", "yes", "on"}


def _cannot_compile() -> str | None:
    """Why this machine cannot build a C extension for this Python, or None if it can."""
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(command)
    if not words or shutil.which(words[0]) is None:
        return f"no C compiler ({command})"
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():
        return f"no Python headers ({headers})"
    return None


class MypycBuildHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def _active(self) -> bool:
        return self.target_name == "wheel" and _requested() and _cannot_compile() is None

    def dependencies(self) -> list[str]:
        # Only a compiled build needs mypy (which ships mypyc) and setuptools (which mypyc builds with).
        return ["mypy>=1.10", "setuptools>=69"] if self._active() else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or not _requested():
            return
        reason = _cannot_compile()
        if reason is not None:
            self.app.display_warning(f"{ENABLE} is set but {reason}: building pure Python")
            return
        if version == "editable":
            return  # an editable install imports the sources in place
        root = Path(self.root)
        scratch = Path(tempfile.mkdtemp(prefix="ami-exporter-mypyc-"))
        shutil.copytree(root / "ami_exporter", scratch / "ami_exporter", ignore=_no_binaries)
        targets = [
            str(path.relative_to(root))
            for entry in COMPILED
            for path in sorted((root / entry).rglob("*.py") if (root / entry).is_dir() else [root / entry])
            if str(path.relative_to(root)) not in INTERPRETED
        ]
        self.app.display_info(f"mypyc: compiling {len(targets)} modules")
        subprocess.run([sys.executable, "-m", "mypyc", *targets], cwd=scratch, check=True)
        built = sorted(scratch.rglob("*.so")) + sorted(scratch.rglob("*.pyd"))
        if not built:
            raise RuntimeError("mypyc ran but produced no extension module")
        # The extensions are built in place next to their sources in the scratch copy (the shared
        # runtime library, ``<hash>__mypyc.*.so``, at its top); the wheel takes them from there and
        # finalize() removes the copy.
        self._scratch = scratch
        for path in built:
            relative = path.relative_to(scratch)
            if relative.parts[0] != "build":  # not setuptools' intermediate copies
                build_data["force_include"][str(path)] = str(relative)
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _no_binaries(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name.endswith((".so", ".pyd", ".pyc")) or name == "__pycache__"}
