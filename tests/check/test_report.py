"""Exit status and verdicts from findings: 2 when connect or login fails, 1 for any other failure,
0 otherwise (notes and warnings allowed)."""

from __future__ import annotations

import pytest

from ami_exporter.check.report import Report, Status


def report_with(failed: str | None, others: Status = Status.OK) -> Report:
    report = Report("127.0.0.1:5038", "exporter")
    for key in ("connect", "login", "privileges", "events", "snapshot", "web_config"):
        step = report.step(key, key.title())
        step.add(Status.FAIL if key == failed else others, f"{key} finding")
    return report


@pytest.mark.parametrize(
    ("failed", "code", "verdict"),
    [
        (None, 0, "ok"),
        ("connect", 2, "unusable"),
        ("login", 2, "unusable"),
        ("privileges", 1, "degraded"),
        ("events", 1, "degraded"),
        ("snapshot", 1, "degraded"),
        ("web_config", 1, "degraded"),
    ],
)
def test_exit_status(failed: str | None, code: int, verdict: str) -> None:
    report = report_with(failed)
    assert report.exit_code == code
    assert report.verdict == verdict


@pytest.mark.parametrize("status", [Status.NOTE, Status.WARN, Status.SKIP])
def test_notes_warnings_and_skips_keep_exit_status_0(status: Status) -> None:
    assert report_with(None, others=status).exit_code == 0


def test_a_step_is_as_bad_as_its_worst_finding() -> None:
    step = Report("h:1", "u").step("events", "Events")
    seen = [step.status]
    for status in (Status.OK, Status.SKIP, Status.NOTE, Status.WARN, Status.OK, Status.FAIL):
        step.add(status, status.value)
        seen.append(step.status)
    assert seen == [Status.SKIP, Status.OK, Status.OK, Status.NOTE, Status.WARN, Status.WARN, Status.FAIL]
