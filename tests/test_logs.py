"""Log lines: logfmt quoting and JSON."""

from __future__ import annotations

import json
import logging

from ami_exporter.logs import JSONFormatter, LogfmtFormatter


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("ami_exporter.service", logging.WARNING, __file__, 1, message, args, None)


def test_logfmt_quotes_values_with_spaces_and_quotes() -> None:
    line = LogfmtFormatter().format(record("AMI login as %r at %s failed", "exporter", "127.0.0.1:5038"))
    assert line.startswith("time=")
    assert " level=warn source=ami_exporter.service " in line
    assert line.endswith("msg=\"AMI login as 'exporter' at 127.0.0.1:5038 failed\"")


def test_json_lines_parse() -> None:
    fields = json.loads(JSONFormatter().format(record('quote " and newline \n here')))
    assert fields["level"] == "warn"
    assert fields["msg"] == 'quote " and newline \n here'
    assert fields["source"] == "ami_exporter.service"
    assert fields["time"].endswith("Z")
