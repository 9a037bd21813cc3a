"""Pointers in code, comments and docs lead somewhere a reader of this repository can follow.

A docstring that sends the reader to a document that does not exist, or to numbered sections of a
reference that is not in the repository, is a dead end.
Documents are named by their path in the repository; Asterisk behaviour by its source file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import REPO

ROOTS = ("ami_exporter", "tests", "docs", "dashboards", "examples", "bench", "scripts")
TOP_FILES = ("README.md", "CHANGELOG.md", "Dockerfile", "pyproject.toml")
SUFFIXES = {".py", ".md", ".yml", ".yaml", ".toml", ".json", ".env", ".service", ".sh", ".txt", ""}
SKIP = {REPO / "tests" / "fixtures"}  # recordings: bytes from Asterisk, quoted as they are

DOC_PATH = re.compile(r"(?<![\w/.-])docs/[\w.-]+\.md\b")  # not the tail of a URL or another path
# Built from pieces so that this file does not match itself.
DEAD_ENDS = {
    "a numbered section of a document that is not in the repository": re.compile(
        "\u00a7" + r"\s?\d|AMI reference, section"
    ),
    "the AMI reference file (not in the repository)": re.compile(r"ami-protocol" + r"\.md"),
}  # development-machine paths: tests/test_fixtures.py


def tracked_text_files() -> Iterator[Path]:
    for name in TOP_FILES:
        yield REPO / name
    for root in ROOTS:
        for path in sorted((REPO / root).rglob("*")):
            if not path.is_file() or path.suffix not in SUFFIXES or "__pycache__" in path.parts:
                continue
            if any(path.is_relative_to(skip) for skip in SKIP) or path == Path(__file__).resolve():
                continue
            yield path


FILES = list(tracked_text_files())


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REPO)) for p in FILES])
def test_no_dead_end_references(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    for doc in DOC_PATH.finditer(text):
        assert (REPO / doc.group()).is_file(), f"{doc.group()} does not exist"
    for what, pattern in DEAD_ENDS.items():
        found = pattern.search(text)
        assert found is None, f"refers to {what}: {found.group() if found else ''!r}"
