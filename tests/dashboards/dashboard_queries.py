"""Every PromQL expression shipped in dashboards/ (Grafana targets, annotations, alert and recording rules).

This module is shared:

* the dashboard and rule lint tests in this directory use it;
* **the end-to-end test** (a real Prometheus scraping the exporter) should evaluate every query from
  :func:`dashboards_queries` and check that each one parses and, where the scenario produces the data,
  returns series. It has no project imports, so it can be loaded from anywhere by path::

      path = ROOT / "tests" / "dashboards" / "dashboard_queries.py"
      spec = importlib.util.spec_from_file_location("dashboard_queries", path)

  (then ``module_from_spec`` / ``spec.loader.exec_module``), or imported as
  ``dashboards.dashboard_queries`` when ``tests/`` is on ``sys.path`` (pytest puts it there).

It also holds :data:`KNOWN_METRICS`, the metric names the dashboards and rules may use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "dashboards"
GRAFANA_DIR = DASHBOARDS_DIR / "grafana"
RULES_DIR = DASHBOARDS_DIR / "rules"
PROMTOOL_TESTS_DIR = DASHBOARDS_DIR / "tests"


def _histogram(name: str) -> set[str]:
    return {f"{name}_bucket", f"{name}_count", f"{name}_sum"}


# The metric names dashboards and rules may use: the metric catalogue (docs/metrics.md) plus
# the scrape-collector metrics. Kept in this one place ON PURPOSE: a later test checks this list
# against the real exposition of the exporter (every name here must be exposed, and every exposed
# asterisk_* name should be here), so the dashboards cannot silently drift from the code: see
# tests/e2e/test_prometheus_e2e.py::test_known_metrics_match_the_exposition.
KNOWN_METRICS: frozenset[str] = frozenset(
    {
        # connection and exporter
        "asterisk_up",
        "asterisk_exporter_build_info",
        "asterisk_info",
        "asterisk_core_start_time_seconds",
        "asterisk_core_reload_time_seconds",
        "asterisk_core_active_channels",
        "asterisk_exporter_ami_logins_total",
        "asterisk_exporter_ami_disconnects_total",
        "asterisk_exporter_events_total",
        "asterisk_exporter_last_event_timestamp_seconds",
        "asterisk_exporter_last_reconcile_timestamp_seconds",
        "asterisk_exporter_reconcile_corrections_total",
        "asterisk_exporter_malformed_messages_total",
        "asterisk_exporter_label_overflow_total",
        "asterisk_exporter_ami_backlog_bytes",
        "asterisk_exporter_ami_reader_process",
        "asterisk_exporter_ami_backlog_peak_bytes",
        "asterisk_exporter_ami_backlog_full_total",
        "asterisk_scrape_collector_success",
        "asterisk_scrape_collector_duration_seconds",
        # queues
        "asterisk_queue_callers",
        "asterisk_queue_longest_wait_seconds",
        "asterisk_queue_members",
        "asterisk_queue_members_paused",
        "asterisk_queue_members_available",
        "asterisk_queue_members_in_call",
        "asterisk_queue_caller_joins_total",
        "asterisk_queue_caller_abandons_total",
        "asterisk_queue_calls_answered_total",
        "asterisk_queue_calls_completed_total",
        "asterisk_queue_ring_noanswer_total",
        "asterisk_queue_agent_dumps_total",
        *_histogram("asterisk_queue_wait_seconds"),
        *_histogram("asterisk_queue_talk_seconds"),
        "asterisk_queue_service_level_seconds",
        "asterisk_queue_max_callers",
        "asterisk_queue_stats_completed",
        "asterisk_queue_stats_abandoned",
        "asterisk_queue_stats_service_level_ratio",
        "asterisk_queue_stats_holdtime_seconds",
        "asterisk_queue_stats_talktime_seconds",
        # queue members
        "asterisk_queue_member_status",
        "asterisk_queue_member_paused",
        "asterisk_queue_member_in_call",
        "asterisk_queue_member_calls_taken",
        "asterisk_queue_member_last_call_time_seconds",
        "asterisk_queue_member_last_pause_time_seconds",
        "asterisk_queue_member_login_time_seconds",
        # agents
        "asterisk_queue_agents",
        "asterisk_queue_members_paused_by_reason",
        "asterisk_queue_member_state",
        "asterisk_queue_member_state_since_seconds",
        "asterisk_queue_member_pause_reason",
        "asterisk_queue_member_calls_answered_total",
        "asterisk_queue_member_ring_noanswer_total",
        "asterisk_queue_member_talk_seconds_total",
        "asterisk_queue_member_paused_seconds_total",
        # channels
        "asterisk_channels",
        "asterisk_channels_created_total",
        "asterisk_channel_hangups_total",
        *_histogram("asterisk_channel_duration_seconds"),
        "asterisk_bridges",
        # CDR, security, system
        "asterisk_cdr_total",
        "asterisk_cdr_billable_seconds_total",
        "asterisk_security_events_total",
        "asterisk_reloads_total",
        "asterisk_shutdowns_total",
        "asterisk_endpoints",
        "asterisk_devices",
        # SIP
        "asterisk_contacts",
        "asterisk_registrations",
        "asterisk_registration_up",
    }
)

# Series that are not the exporter's but may appear in expressions.
NON_EXPORTER_METRICS: frozenset[str] = frozenset({"up"})

# Recorded series users provide themselves to override per-queue alert thresholds (README).
USER_OVERRIDE_SERIES: frozenset[str] = frozenset(
    {
        "queue:asterisk_queue_callers:threshold_override",
        "queue:asterisk_queue_longest_wait_seconds:threshold_override",
        "queue:asterisk_queue_caller_abandons:ratio_threshold_override",
        "queue:asterisk_queue_members_unavailable:ratio_threshold_override",
        "queue:asterisk_queue_wait_seconds:service_level_ratio_threshold_override",
    }
)

# What Grafana variables become when a query is evaluated outside Grafana.
DEFAULT_SUBSTITUTIONS: dict[str, str] = {
    "job": ".+",
    "instance": ".+",
    "queue": ".+",
    "member": ".+",
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
}


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from."""

    source: str  # "dashboard" or "rule"
    file: str  # file name, e.g. "asterisk-queues.json" or "alerts.yaml"
    where: str  # panel title / refId, annotation name, or rule name
    expr: str


# --------------------------------------------------------------------------------------------------
# Raw expressions (Grafana variables left in)
# --------------------------------------------------------------------------------------------------


def load_dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(GRAFANA_DIR.glob("*.json"))}


def load_rule_files() -> dict[str, dict[str, Any]]:
    return {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(RULES_DIR.glob("*.yaml"))}


def iter_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """All panels, including those nested in collapsed rows."""
    for p in dashboard.get("panels", []):
        yield p
        yield from p.get("panels", [])


def raw_dashboard_queries() -> Iterator[Query]:
    for name, dash in load_dashboards().items():
        for p in iter_panels(dash):
            for t in p.get("targets", []):
                yield Query("dashboard", name, f"{p.get('title')} / {t.get('refId')}", t["expr"])
        for a in dash.get("annotations", {}).get("list", []):
            if "expr" in a:
                yield Query("dashboard", name, f"annotation {a.get('name')}", a["expr"])


def raw_rule_queries() -> Iterator[Query]:
    for name, doc in load_rule_files().items():
        for group in doc["groups"]:
            for rule in group["rules"]:
                yield Query("rule", name, rule.get("alert") or rule["record"], rule["expr"])


# --------------------------------------------------------------------------------------------------
# THE function for the end-to-end test
# --------------------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace Grafana variables ($name and ${name}) that are in `values`; leave others ($1) alone."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))

    return _VARIABLE.sub(repl, expr)


def dashboards_queries(
    job: str = ".+",
    instance: str = ".+",
    *,
    queue: str = ".+",
    rate_interval: str = "1m",
    range_: str = "5m",
    include_rules: bool = True,
) -> Iterator[Query]:
    """Yield every dashboard target/annotation expression and every rule expression, ready to evaluate.

    Grafana variables are substituted: ``$job``/``$instance``/``$queue`` by the given regexes (they sit
    in ``=~`` matchers), ``$__rate_interval`` by ``rate_interval``, ``$__range`` by ``range_``,
    ``$__interval`` by 30s. Rule expressions have no variables and are yielded unchanged.
    """
    values = dict(DEFAULT_SUBSTITUTIONS)
    values.update({"job": job, "instance": instance, "queue": queue, "__rate_interval": rate_interval})
    values["__range"] = range_
    for q in raw_dashboard_queries():
        yield Query(q.source, q.file, q.where, substitute(q.expr, values))
    if include_rules:
        yield from raw_rule_queries()


# --------------------------------------------------------------------------------------------------
# A small PromQL scanner: enough to find selectors, their matchers, ranges and enclosing calls
# --------------------------------------------------------------------------------------------------

AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    }
)
CLAUSES_WITH_LABELS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"})
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_MATCHER = re.compile(
    r"""\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)\s*,?"""
)


@dataclass(frozen=True)
class Selector:
    metric: str  # "" for a selector without a name ({__name__=...})
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value) with quotes removed
    range: str | None  # the text inside [...] right after the selector
    calls: tuple[str, ...]  # enclosing function/aggregation names, innermost last


@dataclass(frozen=True)
class Scan:
    selectors: tuple[Selector, ...]
    ranges: tuple[str, ...]  # every [...] in the expression (range selectors and subqueries)


def _skip_string(s: str, i: int) -> int:
    quote = s[i]
    i += 1
    while i < len(s) and s[i] != quote:
        i += 2 if s[i] == "\\" and quote != "`" else 1
    return i + 1


def _matching(s: str, i: int, open_: str, close: str) -> int:
    """Index just after the bracket closing the one at s[i]; strings inside are skipped."""
    depth = 0
    while i < len(s):
        c = s[i]
        if c in "\"'`":
            i = _skip_string(s, i)
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {open_!r} in {s!r}")


def _next_nonspace(s: str, i: int) -> int:
    while i < len(s) and s[i].isspace():
        i += 1
    return i


def parse_matchers(text: str) -> tuple[tuple[str, str, str], ...]:
    out = []
    pos = 0
    while pos < len(text) and text[pos:].strip():
        m = _MATCHER.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse matchers {text!r}")
        out.append((m.group(1), m.group(2), m.group(3)[1:-1]))
        pos = m.end()
    return tuple(out)


def scan(expr: str) -> Scan:
    selectors: list[Selector] = []
    ranges: list[str] = []
    stack: list[str] = []  # one entry per open "(": the function name, or "" for grouping
    pending = ""  # aggregation name waiting for its "(" after a by/without clause
    i = 0
    n = len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < n and expr[i] != "\n":
                i += 1
        elif c in "\"'`":
            i = _skip_string(expr, i)
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            while i < n and (expr[i].isalnum() or expr[i] in "._"):
                i += 1
        elif c == "(":
            stack.append(pending)
            pending = ""
            i += 1
        elif c == ")":
            if stack:
                stack.pop()
            i += 1
        elif c == "[":
            end = _matching(expr, i, "[", "]")
            ranges.append(expr[i + 1 : end - 1].strip())
            i = end
        elif c == "{":
            end = _matching(expr, i, "{", "}")
            selectors.append(
                Selector("", parse_matchers(expr[i + 1 : end - 1]), None, tuple(s for s in stack if s))
            )
            i = end
        elif _IDENT.match(expr, i):
            m = _IDENT.match(expr, i)
            assert m is not None
            word = m.group(0)
            i = m.end()
            j = _next_nonspace(expr, i)
            lower = word.lower()
            if lower in CLAUSES_WITH_LABELS:
                if j < n and expr[j] == "(":
                    i = _matching(expr, j, "(", ")")
            elif lower in KEYWORDS:
                pass
            elif lower in AGGREGATIONS:
                pending = lower
            elif j < n and expr[j] == "(":
                pending = word
            else:
                matchers: tuple[tuple[str, str, str], ...] = ()
                rng = None
                if j < n and expr[j] == "{":
                    end = _matching(expr, j, "{", "}")
                    matchers = parse_matchers(expr[j + 1 : end - 1])
                    i = end
                    j = _next_nonspace(expr, i)
                if j < n and expr[j] == "[":
                    end = _matching(expr, j, "[", "]")
                    rng = expr[j + 1 : end - 1].strip()
                    ranges.append(rng)
                    i = end
                selectors.append(Selector(word, matchers, rng, tuple(s for s in stack if s)))
        else:
            i += 1
    return Scan(tuple(selectors), tuple(ranges))
