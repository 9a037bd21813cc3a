"""The copied captures in tests/fixtures are byte-identical to the shared originals."""

from __future__ import annotations

import re
import subprocess

import pytest

from .support.captures import CAPTURES, FIXTURES, SHARED

# The chunk timelines are large and only one is needed: g-agents', whose recorded timing the agent
# replay uses for pause durations (tests/test_replay_g_agents.py).
COPIED_TIMELINES = {FIXTURES / "asterisk-22.10.1" / "g-agents" / "timeline.jsonl"}


def _copied(original_relative: str) -> bool:
    copy = FIXTURES / original_relative
    return copy.name != "timeline.jsonl" or copy in COPIED_TIMELINES


def test_fixture_copy_is_identical_to_shared_captures() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/ami-captures is not present on this machine")
    originals = sorted(p for p in SHARED.rglob("*") if p.is_file() and _copied(str(p.relative_to(SHARED))))
    assert originals
    assert {FIXTURES / p.relative_to(SHARED) for p in originals} >= COPIED_TIMELINES
    for original in originals:
        copy = FIXTURES / original.relative_to(SHARED)
        if original.name == "README.md" and original.parent == SHARED:
            assert copy.read_bytes().startswith(original.read_bytes())
        else:
            assert copy.read_bytes() == original.read_bytes(), copy


def test_fixture_captures_exist() -> None:
    assert len(list(CAPTURES.rglob("*.rx.raw"))) == 23
    assert set(FIXTURES.rglob("timeline.jsonl")) == COPIED_TIMELINES


def test_no_tracked_file_names_an_absolute_path_on_the_build_machine() -> None:
    """Tests and docs read captures from tests/fixtures, never from where they were recorded: a
    clone anywhere must pass (the recordings' own text is exempt, it is byte-exact)."""
    repo = FIXTURES.parents[2]
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=repo, capture_output=True, check=False, text=True)
    if listing.returncode != 0:
        pytest.skip("not a git checkout")
    files = [name for name in listing.stdout.split("\0") if name and not name.startswith("tests/fixtures/")]
    assert len(files) > 100
    machine_root = re.compile(r"(?<![\w.~])/" + "work/")  # split so this file does not match itself
    offenders = []
    for name in files:
        path = repo / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        lines = enumerate(text.splitlines(), 1)
        offenders += [f"{name}:{number}" for number, line in lines if machine_root.search(line)]
    assert not offenders, offenders
