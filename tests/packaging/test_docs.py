"""docs/operations.md and docs/troubleshooting.md stay true to the code.

* Every warning or error the exporter can print has a stable fragment of its text in
  troubleshooting.md (found from the code's AST, so a new message without documentation fails here).
* The series counts in the sizing section are the ones the collectors produce.
* Relative links and anchors in these documents, the examples and the README resolve.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.pbx.histogram import CHANNEL_DURATION_BUCKETS
from ami_exporter.service import ConnectionStatus

from .support import REPO, github_slug, markdown_anchors

PACKAGE = REPO / "ami_exporter"
OPERATIONS = REPO / "docs" / "operations.md"
TROUBLESHOOTING = REPO / "docs" / "troubleshooting.md"

# ------------------------------------------------------------------------------ log and error messages

_LOG_METHODS = {"warning", "error", "exception", "critical"}
_LOUD_LEVELS = {"WARNING", "ERROR", "CRITICAL"}
# Exceptions whose message reaches the user: printed by fail()/argparse at start-up, or logged.
_USER_FACING_ERRORS = {"ConfigError", "WebConfigError", "SecretError", "ArgumentTypeError", "fail"}
_PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrfi]")
# Characters Markdown would mangle or that the doc must be free to render differently.
_SPLIT = re.compile(r"[`|*\\]")
_MIN_FRAGMENT = 8


def _pieces(node: ast.expr) -> list[str] | None:
    """The literal text of a message, split at run-time parts; None when not a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _PLACEHOLDER.split(node.value)
    if isinstance(node, ast.JoinedStr):
        pieces = [""]
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                pieces[-1] += value.value
            else:
                pieces.append("")
        return pieces
    return None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _message_arg(call: ast.Call) -> ast.expr | None:
    name = _name(call.func)
    if isinstance(call.func, ast.Attribute) and name in _LOG_METHODS:
        return call.args[0] if call.args else None
    if name in {"log", "_set_state"} and len(call.args) >= 3 - (name == "log"):
        level, message = (call.args[0], call.args[1]) if name == "log" else (call.args[1], call.args[2])
        if isinstance(level, ast.Attribute) and level.attr in _LOUD_LEVELS:
            return message
        return None
    if name in _USER_FACING_ERRORS:
        return call.args[0] if call.args else None
    return None


def user_visible_messages() -> Iterator[tuple[str, str]]:
    """(where, fragment) for every literal run of every warn/error message in the package.

    A message is split at its run-time parts (``%s``, f-string fields) and at characters Markdown may
    render differently; each remaining run of at least ``_MIN_FRAGMENT`` characters, trimmed of
    surrounding punctuation, must appear verbatim (whitespace-normalised) in troubleshooting.md.
    """
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            arg = _message_arg(node)
            pieces = _pieces(arg) if arg is not None else None
            if not pieces:
                continue
            for piece in pieces:
                for fragment in _SPLIT.split(piece):
                    fragment = fragment.strip(" .,:;()")
                    if len(fragment) >= _MIN_FRAGMENT:
                        yield f"{path.relative_to(REPO)}:{node.lineno}", fragment


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_scan_finds_the_known_messages() -> None:
    fragments = {fragment for _, fragment in user_visible_messages()}
    assert "cannot connect to Asterisk AMI at" in fragments
    assert "no reply to Ping from" in fragments
    assert "unexpected error in the AMI session; reconnecting" in fragments
    assert "flags need --ami.tls" in fragments
    assert "is not readable" in fragments
    assert len(fragments) > 40


@pytest.mark.parametrize(("where", "fragment"), sorted(set(user_visible_messages())))
def test_every_warning_and_error_is_in_troubleshooting(where: str, fragment: str) -> None:
    doc = _normalised(TROUBLESHOOTING.read_text(encoding="utf-8"))
    assert _normalised(fragment) in doc, f"{where}: document {fragment!r} in docs/troubleshooting.md"


# ------------------------------------------------------------------------------------------- sizing


def _one_queue_two_members() -> str:
    member = {
        "Queue": "q1",
        "Location": "",
        "StateInterface": "",
        "Membership": "static",
        "Penalty": "0",
        "CallsTaken": "0",
        "LastCall": "0",
        "LastPause": "0",
        "LoginTime": "0",
        "InCall": "0",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
        "Wrapuptime": "0",
    }
    items = [
        (
            "QueueParams",
            {
                "Queue": "q1",
                "Max": "0",
                "Strategy": "ringall",
                "Calls": "0",
                "Holdtime": "0",
                "TalkTime": "0",
                "Completed": "0",
                "Abandoned": "0",
                "ServiceLevel": "30",
                "ServicelevelPerf": "0.0",
                "Weight": "0",
            },
        ),
        (
            "QueueMember",
            {**member, "Name": "Alice", "Location": "PJSIP/alice", "StateInterface": "PJSIP/alice"},
        ),
        ("QueueMember", {**member, "Name": "Bob", "Location": "PJSIP/bob", "StateInterface": "PJSIP/bob"}),
    ]
    pbx = PBX(now=lambda: 1_800_000_000.0)
    pbx.reconcile_queues(QueueSnapshot.from_items(items))
    registry = build_registry(pbx, ConnectionStatus(up=True, ready=True), CollectorOptions(process=False))
    return generate_latest(registry).decode()


def _documented(label: str) -> int:
    match = re.search(rf"\*\*(\d+) series per {label}\*\*", OPERATIONS.read_text(encoding="utf-8"))
    assert match, f"docs/operations.md: '**N series per {label}**' not found"
    return int(match.group(1))


def test_sizing_series_per_queue_and_member_match_the_collectors() -> None:
    samples = [line for line in _one_queue_two_members().splitlines() if line and not line.startswith("#")]
    per_queue = [s for s in samples if 'queue="q1"' in s and "member=" not in s]
    per_member = [s for s in samples if 'member="Alice"' in s]
    assert _documented("queue") == len(per_queue)
    assert _documented("queue member") == len(per_member)
    text = OPERATIONS.read_text(encoding="utf-8")
    assert (
        f"{_documented('queue')} × queues" in text
        and f"{_documented('queue member')} × (queue, member)" in text
    )


def test_sizing_series_per_channel_technology() -> None:
    # asterisk_channels_created_total + the duration histogram (buckets, +Inf, _sum, _count)
    assert _documented("channel technology") == 1 + len(CHANNEL_DURATION_BUCKETS) + 3


def test_benchmark_placeholders_are_marked() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    for placeholder in re.findall(r"<!--\s*bench:[^>]*-->", text):
        assert placeholder.endswith("-->")
    assert "performance.md" in text


# -------------------------------------------------------------------------------------------- links

_LINK = re.compile(r"\]\(([^)\s]+)\)")
# Documents written by others that may not exist yet when these tests run.
_PENDING = {"docs/performance.md"}


def _link_sources() -> list[Path]:
    return [OPERATIONS, TROUBLESHOOTING, REPO / "CHANGELOG.md", REPO / "README.md"]


def _links(path: Path) -> Iterator[str]:
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif not in_fence:
            yield from _LINK.findall(line)


@pytest.mark.parametrize("source", _link_sources(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_and_anchors_resolve(source: Path) -> None:
    for link in _links(source):
        if re.match(r"^[a-z]+:", link):
            continue  # http(s), mailto
        target_text, _, anchor = link.partition("#")
        target = (source.parent / target_text).resolve() if target_text else source
        relative = target.relative_to(REPO).as_posix() if target.is_relative_to(REPO) else str(target)
        if not target.exists():
            if relative in _PENDING:
                continue
            raise AssertionError(f"{source.name}: link to missing {link}")
        if anchor and target.suffix == ".md":
            assert anchor in markdown_anchors(target), f"{source.name}: no anchor #{anchor} in {relative}"


def test_readme_anchor_into_operations_exists() -> None:
    assert "tls-and-basic-auth" in markdown_anchors(OPERATIONS)
    assert github_slug("TLS and basic auth") == "tls-and-basic-auth"
