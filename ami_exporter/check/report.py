"""What ``ami-exporter check`` found: steps made of findings, and the exit status they imply."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class Status(enum.Enum):
    """A finding's verdict. ``SKIP``: not checked (an earlier step failed, or nothing to check)."""

    OK = "ok"
    NOTE = "note"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def label(self) -> str:
        return self.name


_RANK = {Status.SKIP: 0, Status.OK: 1, Status.NOTE: 2, Status.WARN: 3, Status.FAIL: 4}

# Steps whose failure means the exporter cannot work at all (exit status 2).
FATAL_STEPS = frozenset({"connect", "login"})

EXIT_OK = 0
EXIT_DEGRADED = 1
EXIT_UNUSABLE = 2


@dataclass(slots=True)
class Finding:
    status: Status
    message: str
    fix: str = ""  # one line: what to change
    details: tuple[str, ...] = ()  # further lines, e.g. a manager.conf block


@dataclass(slots=True)
class Step:
    key: str  # stable identifier for scripts: connect, login, privileges, events, snapshot, web_config
    title: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)  # machine-readable results (JSON output)

    def add(self, status: Status, message: str, fix: str = "", details: Iterable[str] = ()) -> Finding:
        finding = Finding(status, message, fix, tuple(details))
        self.findings.append(finding)
        return finding

    @property
    def status(self) -> Status:
        if not self.findings:
            return Status.SKIP
        return max((finding.status for finding in self.findings), key=lambda status: status.rank)


@dataclass(slots=True)
class Report:
    target: str  # host:port
    username: str
    steps: list[Step] = field(default_factory=list)

    def step(self, key: str, title: str) -> Step:
        step = Step(key, title)
        self.steps.append(step)
        return step

    def get(self, key: str) -> Step:
        return next(step for step in self.steps if step.key == key)

    @property
    def exit_code(self) -> int:
        """0: everything the exporter needs works (notes and warnings allowed); 1: it would run
        degraded (or not start: an invalid web config); 2: it cannot connect or log in."""
        failed = {step.key for step in self.steps if step.status is Status.FAIL}
        if failed & FATAL_STEPS:
            return EXIT_UNUSABLE
        return EXIT_DEGRADED if failed else EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_OK: "ok", EXIT_DEGRADED: "degraded", EXIT_UNUSABLE: "unusable"}[self.exit_code]
