"""``ami-exporter check [flags]``: the exporter's ``--ami.*`` flags, plus what only the check needs."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .. import logs
from ..config import ConfigError, Parser, add_ami_flags, ami_settings, parse_duration
from ..secret import SECRET_ENV
from .render import render_json, render_text
from .report import Report
from .runner import DEFAULT_WAIT, CheckOptions, run_check


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ami-exporter check",
        description="Diagnose the Asterisk AMI setup the exporter would use: connect, log in, "
        "privileges, events and a snapshot, each with OK / NOTE / WARN / FAIL and a fix. Takes the "
        f"exporter's --ami.* flags and secret sources (${SECRET_ENV} or --ami.secret-file). Exit status: "
        "0 everything the exporter needs works, 1 it would run degraded, 2 it cannot connect or log in.",
    )
    add_ami_flags(parser)
    add = parser.add_argument
    add(
        "--check.wait",
        dest="check_wait",
        default=f"{DEFAULT_WAIT:g}s",
        help="listen this long for events of each class the exporter folds (default %(default)s)",
    )
    add(
        "--web.config.file",
        dest="web_config_file",
        default=None,
        help="also validate this exporter-toolkit web configuration (like promtool check web-config)",
    )
    add("--output", choices=("text", "json"), default="text", help="report format (default %(default)s)")
    add("--log.level", dest="log_level", choices=tuple(logs.LEVELS), default="warn")
    add("--log.format", dest="log_format", choices=("logfmt", "json"), default="logfmt")
    return parser


def parse_options(argv: Sequence[str]) -> tuple[CheckOptions, argparse.Namespace]:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        options = CheckOptions(
            ami=ami_settings(args),
            wait=parse_duration(args.check_wait),
            web_config_file=Path(args.web_config_file) if args.web_config_file else None,
        )
    except ConfigError as error:
        parser.error(str(error))
    return options, args


async def run(argv: Sequence[str], out: TextIO) -> int:
    """Parse, check, print the report to ``out``; returns the exit status (bad flags: SystemExit 2)."""
    options, args = parse_options(argv)
    logs.configure(args.log_level, args.log_format)
    return _print(await run_check(options), args, out)


def main(argv: Sequence[str] | None = None) -> int:
    # Flags are parsed before any event loop starts: a bad flag is one line and exit status 2.
    options, args = parse_options(sys.argv[1:] if argv is None else argv)
    logs.configure(args.log_level, args.log_format)
    return _print(asyncio.run(run_check(options)), args, sys.stdout)


def _print(report: Report, args: argparse.Namespace, out: TextIO) -> int:
    out.write(render_json(report) if args.output == "json" else render_text(report))
    out.flush()
    return report.exit_code
