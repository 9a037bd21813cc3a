"""Prints the measured recovery time of every fault at the end of the run."""

from __future__ import annotations

import pytest

from .harness import RECOVERY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RECOVERY:
        terminalreporter.section("fault recovery times")
        for fault, seconds in RECOVERY.items():
            terminalreporter.write_line(f"{fault:<48} {seconds:8.3f}s")
