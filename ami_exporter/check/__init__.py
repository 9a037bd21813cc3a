"""``ami-exporter check``: diagnose an Asterisk AMI setup in one command.

It takes the exporter's own ``--ami.*`` flags and secret sources, connects once with the exporter's
session code and reports each step (connect, login, privileges, events, snapshot, and the web config
file) with OK / NOTE / WARN / FAIL and a one-line fix. It sends only the allowlisted read-only
actions, like the exporter, and never prints the secret.

Modules: ``report`` (findings and the exit status), ``render`` (text and JSON), ``knowledge`` (which
privileges feed which metric families, as data), ``connect`` (the connection and what to say when it
fails), ``steps`` (login, privileges, events, snapshot, web config), ``runner`` (the order), ``cli``.
"""

from __future__ import annotations

from .cli import main
from .report import Report, Status
from .runner import CheckOptions, run_check

__all__ = ["CheckOptions", "Report", "Status", "main", "run_check"]
