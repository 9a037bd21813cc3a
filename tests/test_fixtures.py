"""The copied captures in tests/fixtures are byte-identical to the shared originals."""

from __future__ import annotations

import pytest

from .support.captures import CAPTURES, FIXTURES, SHARED


def test_fixture_copy_is_identical_to_shared_captures() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/ami-captures is not present on this machine")
    originals = sorted(p for p in SHARED.rglob("*") if p.is_file() and p.name != "timeline.jsonl")
    assert originals
    for original in originals:
        copy = FIXTURES / original.relative_to(SHARED)
        if original.name == "README.md" and original.parent == SHARED:
            assert copy.read_bytes().startswith(original.read_bytes())
        else:
            assert copy.read_bytes() == original.read_bytes(), copy


def test_fixture_captures_exist() -> None:
    assert len(list(CAPTURES.rglob("*.rx.raw"))) == 23
