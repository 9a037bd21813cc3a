"""The version lives in one place (ami_exporter/__init__.py) and CHANGELOG.md agrees with it."""

from __future__ import annotations

import re
import tomllib

import ami_exporter

from .support import REPO

CHANGELOG = REPO / "CHANGELOG.md"


def released_versions() -> list[tuple[str, str]]:
    """(version, date) of every ``## [x.y.z] - YYYY-MM-DD`` heading, newest first."""
    return re.findall(r"^## \[(\d+\.\d+\.\d+[^\]]*)\] - (\d{4}-\d{2}-\d{2})$", CHANGELOG.read_text(), re.M)


def test_newest_changelog_version_is_the_package_version() -> None:
    versions = released_versions()
    assert versions, "no released version in CHANGELOG.md"
    assert versions[0][0] == ami_exporter.__version__


def test_changelog_follows_keep_a_changelog() -> None:
    text = CHANGELOG.read_text()
    assert text.startswith("# Changelog\n")
    assert "https://keepachangelog.com/" in text
    headings = re.findall(r"^## (.*)$", text, re.M)
    assert headings[0] == "[Unreleased]"
    assert all(re.fullmatch(r"\[\d+\.\d+\.\d+[^\]]*\] - \d{4}-\d{2}-\d{2}", h) for h in headings[1:])
    dates = [date for _, date in released_versions()]
    assert dates == sorted(dates, reverse=True), "newest first"
    for section in re.findall(r"^### (.*)$", text, re.M):
        assert section in {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}, section
    for version, _ in released_versions():
        assert re.search(rf"^\[{re.escape(version)}\]: https://", text, re.M), f"link for {version}"
    assert re.search(r"^\[Unreleased\]: https://", text, re.M)


def test_the_version_is_defined_only_in_the_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "ami_exporter/__init__.py"
    init = (REPO / "ami_exporter" / "__init__.py").read_text()
    assert re.search(r'^__version__ = "\d+\.\d+\.\d+[^"]*"$', init, re.M)
    # Nothing else that ships hard-codes it (the CHANGELOG is checked above).
    version = ami_exporter.__version__
    the_one = REPO / "ami_exporter" / "__init__.py"
    for path in [
        REPO / "Dockerfile",
        *(REPO / "examples").rglob("*"),
        *(REPO / "ami_exporter").rglob("*.py"),
    ]:
        if path.is_file() and path != the_one:
            assert f'"{version}"' not in path.read_text(errors="replace"), path
            assert f"={version}" not in path.read_text(errors="replace"), path
