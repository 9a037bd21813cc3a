"""The report as text for people, or as one JSON document for scripts (``--output json``)."""

from __future__ import annotations

import json

from .. import __version__
from .report import EXIT_DEGRADED, EXIT_OK, Report

_RESULT = {
    EXIT_OK: "OK: everything the exporter needs works",
    EXIT_DEGRADED: "DEGRADED: the exporter would run, but without some of its metrics (or not start)",
}
_UNUSABLE = "FAIL: the exporter cannot connect or log in"
_STATUS_WIDTH = 6
_INDENT = " " * 3


def render_text(report: Report) -> str:
    lines = [f"ami-exporter check: AMI user {report.username!r} at {report.target}", ""]
    for number, step in enumerate(report.steps, 1):
        lines.append(f"{number}. {step.title:<12} {step.status.label}")
        for finding in step.findings:
            lines.append(f"{_INDENT}{finding.status.label:<{_STATUS_WIDTH}}{finding.message}")
            pad = _INDENT + " " * _STATUS_WIDTH
            lines.extend(f"{pad}{detail}" if detail else "" for detail in finding.details)
            if finding.fix:
                lines.append(f"{pad}fix: {finding.fix}")
        lines.append("")
    code = report.exit_code
    lines.append(f"Result: {_RESULT.get(code, _UNUSABLE)} (exit status {code})")
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    document = {
        "ami_exporter_version": __version__,
        "target": report.target,
        "username": report.username,
        "result": report.verdict,
        "exit_code": report.exit_code,
        "steps": [
            {
                "step": step.key,
                "title": step.title,
                "status": step.status.value,
                "findings": [
                    {
                        "status": finding.status.value,
                        "message": finding.message,
                        "fix": finding.fix,
                        "details": list(finding.details),
                    }
                    for finding in step.findings
                ],
                "facts": step.facts,
            }
            for step in report.steps
        ],
    }
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
