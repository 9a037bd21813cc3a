"""Helpers for the packaging tests: tool lookup, the Docker build context, Markdown anchors, YAML."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def find_tool(name: str) -> str | None:
    """``name`` from the running interpreter's bin directory (the venv) first, then from PATH."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which(name, path=search)


def require_tool(name: str, *, env_flag: str | None = None, hint: str) -> str:
    """The tool's path. A missing tool fails the test, except a tool guarded by ``env_flag``, which
    is skipped unless that environment variable is 1 (as CI sets it)."""
    path = find_tool(name)
    if path is not None:
        return path
    if env_flag is not None and os.environ.get(env_flag) != "1":
        pytest.skip(f"{name} not found ({hint})")
    pytest.fail(f"{name} not found: {hint}")


def require_module(module: str, *, hint: str) -> None:
    """Fail (not skip) when a pip-installable tool of the test extra is missing."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        pytest.fail(f"Python module {module} not installed: {hint}")


# --------------------------------------------------------------------------- .dockerignore semantics


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's (moby/patternmatcher) glob syntax: ``**`` crosses directories, ``*``/``?`` do not."""
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i)
            out.append(pattern[i : end + 1].replace("[!", "[^"))
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + "$")


def dockerignore_rules(path: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(exclude?, regex) per pattern line, in order."""
    rules = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((exclude, _pattern_regex(pattern)))
    return rules


def is_excluded(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Last matching rule wins; a rule matching a parent directory matches everything below it."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for exclude, regex in rules:
        if any(regex.match(candidate) for candidate in candidates):
            excluded = exclude
    return excluded


def docker_context_files() -> list[str]:
    """The files of this working tree that ``docker build .`` would send."""
    ignore = REPO / ".dockerignore"
    rules = dockerignore_rules(ignore)
    negations = [
        os.path.normpath(line.strip()[1:].strip()).lstrip("/")
        for line in ignore.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("!")
    ]

    def may_reinclude(directory: str) -> bool:
        return any(n.startswith(("*", directory + "/")) or n == directory for n in negations)

    files: list[str] = []
    for root, dirs, names in os.walk(REPO):
        base = Path(root).relative_to(REPO).as_posix()
        prefix = "" if base == "." else base + "/"
        # Skip excluded trees (.git, .venv, caches) that no "!" rule lets anything back in from.
        dirs[:] = [d for d in dirs if not is_excluded(prefix + d, rules) or may_reinclude(prefix + d)]
        files.extend(prefix + name for name in names if not is_excluded(prefix + name, rules))
    return sorted(files)


# ------------------------------------------------------------------------------------------ Markdown


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (without de-duplication suffixes)."""
    text = re.sub(r"[`*_~]|\[|\]\([^)]*\)", "", heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def markdown_anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if match and not in_fence:
            anchors.add(github_slug(match.group(1)))
    return anchors


# ---------------------------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that rejects duplicate mapping keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.load(stream, Loader=_StrictLoader)  # a SafeLoader subclass
