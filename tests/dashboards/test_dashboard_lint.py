"""Lint the Grafana dashboards and Prometheus rules in dashboards/.

Re-implements the grafana/dashboard-linter rules we adopted (the linter is Go-only) plus mixin
conventions for rules; dashboards/README.md lists what is adopted and what is skipped, and why.
The checks are plain functions returning problems, so the "_catches_" tests below can show each one
failing on a bad input.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from .dashboard_queries import (
    DASHBOARDS_DIR,
    GRAFANA_DIR,
    KNOWN_METRICS,
    NON_EXPORTER_METRICS,
    USER_OVERRIDE_SERIES,
    dashboards_queries,
    iter_panels,
    load_dashboards,
    load_rule_files,
    raw_dashboard_queries,
    raw_rule_queries,
    scan,
    substitute,
)

DS = {"type": "prometheus", "uid": "${datasource}"}
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
RATE_FUNCTIONS = ("rate", "increase", "irate")
DASHBOARD_RANGE_VARIABLES = ("$__rate_interval", "$__range", "$__interval")
RUNBOOK_BASE = "https://github.com/ami-exporter/ami-exporter/blob/main/dashboards/README.md#"
README = DASHBOARDS_DIR / "README.md"

DASHBOARDS = load_dashboards()
DASHBOARD_NAMES = sorted(DASHBOARDS)
RULE_FILES = load_rule_files()
ALERTS = [r for doc in RULE_FILES.values() for g in doc["groups"] for r in g["rules"] if "alert" in r]
RECORDS = [r for doc in RULE_FILES.values() for g in doc["groups"] for r in g["rules"] if "record" in r]


# --------------------------------------------------------------------------------------------------
# Checks (return a list of problems; empty = fine)
# --------------------------------------------------------------------------------------------------


def check_expr_selectors(expr: str) -> list[str]:
    """Every selector of an exporter metric or recorded series filters on $job and $instance."""
    problems = []
    for sel in scan(expr).selectors:
        if not sel.metric:
            problems.append(f"selector without a metric name in {expr!r}")
            continue
        matchers = set(sel.matchers)
        for label in ("job", "instance"):
            if (label, "=~", f"${label}") not in matchers:
                problems.append(f'{sel.metric}: missing {label}=~"${label}"')
    return problems


def check_expr_ranges(expr: str, allowed: tuple[str, ...] = DASHBOARD_RANGE_VARIABLES) -> list[str]:
    return [
        f"range [{r}] does not use {' / '.join(allowed)}"
        for r in scan(expr).ranges
        if not r.startswith(allowed)
    ]


def check_expr_counters(expr: str) -> list[str]:
    """Counters (and histogram series) only directly inside rate/increase/irate."""
    return [
        f"{sel.metric} used outside rate()/increase()/irate()"
        for sel in scan(expr).selectors
        if sel.metric.endswith(COUNTER_SUFFIXES) and (not sel.calls or sel.calls[-1] not in RATE_FUNCTIONS)
    ]


def check_expr_metric_names(expr: str, recorded: set[str]) -> list[str]:
    problems = []
    for sel in scan(expr).selectors:
        name = sel.metric
        if ":" in name:
            if name not in recorded and name not in USER_OVERRIDE_SERIES:
                problems.append(f"{name}: not recorded by any rule in dashboards/rules")
        elif name not in KNOWN_METRICS and name not in NON_EXPORTER_METRICS:
            problems.append(f"{name}: not a known exporter metric (KNOWN_METRICS)")
    return problems


def check_panel(p: dict[str, Any]) -> list[str]:
    if p.get("type") == "row":
        return [] if p.get("title") else ["row without a title"]
    title = p.get("title") or "<untitled>"
    problems = []
    if not p.get("title"):
        problems.append("panel without a title")
    if not p.get("description"):
        problems.append(f"{title}: no description")
    if not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
        problems.append(f"{title}: no unit in fieldConfig.defaults.unit")
    if p.get("datasource") != DS:
        problems.append(f"{title}: panel datasource is {p.get('datasource')!r}, not ${{datasource}}")
    if not p.get("targets"):
        problems.append(f"{title}: no targets")
    for t in p.get("targets", []):
        if t.get("datasource") != DS:
            problems.append(f"{title} / {t.get('refId')}: target datasource is not ${{datasource}}")
    return problems


def check_dashboard_top(d: dict[str, Any], raw_text: str) -> list[str]:
    problems = []
    if "__inputs" in d or "__requires" in d:
        problems.append("has __inputs/__requires (export-for-sharing form; breaks provisioning)")
    if re.search(r"\$\{?DS_", raw_text):
        problems.append("uses a ${DS_...} input datasource")
    if d.get("id") is not None:
        problems.append("id must be null")
    uid = d.get("uid")
    if not isinstance(uid, str) or not uid or len(uid) > 40:
        problems.append(f"uid {uid!r} must be a fixed string of at most 40 characters")
    if d.get("editable") is not False:
        problems.append("editable must be false")
    if d.get("schemaVersion") != 39:
        problems.append("schemaVersion must be 39")
    if "asterisk" not in d.get("tags", []):
        problems.append("tags must include asterisk")
    refresh = d.get("refresh")
    if not isinstance(refresh, str) or not re.fullmatch(r"\d+[smh]", refresh):
        problems.append(f"refresh {refresh!r} is not a duration")
    elif refresh.endswith("s") and int(refresh[:-1]) < 10:
        problems.append(f"refresh {refresh} is too fast for a 15-60 s scrape interval")
    if not d.get("title") or not d.get("description"):
        problems.append("dashboard needs a title and a description")
    return problems


def check_variables(d: dict[str, Any], *, need_queue: bool) -> list[str]:
    problems = []
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no datasource variable of type datasource, query prometheus")
    expected = {
        "job": "label_values(asterisk_up, job)",
        "instance": 'label_values(asterisk_up{job=~"$job"}, instance)',
    }
    if need_queue:
        expected["queue"] = 'label_values(asterisk_queue_callers{job=~"$job", instance=~"$instance"}, queue)'
    for name, query in expected.items():
        v = variables.get(name)
        if v is None:
            problems.append(f"no {name} variable")
            continue
        q = v.get("query")
        q_text = q.get("query") if isinstance(q, dict) else q
        if q_text != query:
            problems.append(f"{name} variable query is {q_text!r}, expected {query!r}")
        if not (v.get("multi") and v.get("includeAll") and v.get("allValue") == ".+"):
            problems.append(f"{name} variable must be multi, includeAll with allValue '.+'")
        if v.get("datasource") != DS:
            problems.append(f"{name} variable does not use ${{datasource}}")
        if v.get("refresh") != 2:
            problems.append(f"{name} variable must refresh on time-range change (refresh: 2)")
    return problems


# --------------------------------------------------------------------------------------------------
# Dashboards
# --------------------------------------------------------------------------------------------------


def test_dashboards_exist() -> None:
    assert {
        "asterisk-queues.json",
        "asterisk-calls.json",
        "asterisk-health.json",
        "asterisk-agents.json",
    } <= set(DASHBOARD_NAMES)


def test_generated_json_is_up_to_date() -> None:
    """The JSON is generated by dashboards/generate.py; a hand edit or a stale file fails here."""
    result = subprocess.run(
        [sys.executable, str(DASHBOARDS_DIR / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_dashboard_top_level(name: str) -> None:
    raw = (GRAFANA_DIR / name).read_text(encoding="utf-8")
    assert check_dashboard_top(DASHBOARDS[name], raw) == []


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_dashboard_variables(name: str) -> None:
    assert check_variables(DASHBOARDS[name], need_queue=name == "asterisk-queues.json") == []


@pytest.mark.parametrize("name", DASHBOARD_NAMES)
def test_every_panel_has_title_description_unit_and_datasource(name: str) -> None:
    problems = [msg for p in iter_panels(DASHBOARDS[name]) for msg in check_panel(p)]
    for a in DASHBOARDS[name].get("annotations", {}).get("list", []):
        if a.get("datasource") != DS:
            problems.append(f"annotation {a.get('name')}: datasource is not ${{datasource}}")
    assert problems == []


def test_panel_ids_and_uids_unique() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids)), uids
    for name, d in DASHBOARDS.items():
        ids = [p["id"] for p in iter_panels(d)]
        assert len(ids) == len(set(ids)), name


DASHBOARD_QUERIES = list(raw_dashboard_queries())
RECORDED = {r["record"] for r in RECORDS}


@pytest.mark.parametrize("query", DASHBOARD_QUERIES, ids=[f"{q.file}:{q.where}" for q in DASHBOARD_QUERIES])
def test_dashboard_query(query: Any) -> None:
    expr = query.expr
    problems = (
        check_expr_selectors(expr)
        + check_expr_ranges(expr)
        + check_expr_counters(expr)
        + check_expr_metric_names(expr, RECORDED)
    )
    assert problems == [], expr


def test_dashboards_do_not_depend_on_recording_rules() -> None:
    """Dashboards compute from raw metrics, so they work before the rules are loaded."""
    used = {s.metric for q in DASHBOARD_QUERIES for s in scan(q.expr).selectors}
    assert not {m for m in used if ":" in m}


def test_wallboard_covers_the_brief() -> None:
    exprs = " ".join(q.expr for q in DASHBOARD_QUERIES if q.file == "asterisk-queues.json")
    for needle in (
        "asterisk_queue_callers",
        "asterisk_queue_longest_wait_seconds",
        "asterisk_queue_members_available",
        "asterisk_queue_members_paused",
        "increase(asterisk_queue_calls_answered_total",
        "increase(asterisk_queue_caller_abandons_total",
        'count_values by (job, instance, queue) ("le", asterisk_queue_service_level_seconds',
        "histogram_quantile(0.9, sum by (queue, le) (rate(asterisk_queue_wait_seconds_bucket",
        "histogram_quantile(0.9, sum by (queue, le) (rate(asterisk_queue_talk_seconds_bucket",
        "asterisk_queue_member_status",
        "asterisk_queue_member_paused",
        'asterisk_queue_agents{state="wrapup"',
        "asterisk_queue_members_paused_by_reason",
    ):
        assert needle in exprs, needle
    members = next(p for p in iter_panels(DASHBOARDS["asterisk-queues.json"]) if p["title"] == "Members")
    status = next(o for o in members["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Status")
    mapping = next(prop["value"] for prop in status["properties"] if prop["id"] == "mappings")
    assert sorted(int(k) for k in mapping[0]["options"]) == list(range(9))


def test_agents_dashboard_covers_the_brief() -> None:
    """A table of agents (state, pause reason, time in state, answered, missed, talk and pause time,
    occupancy), a state timeline with the six states named, pause time by reason, missed calls by
    agent."""
    agents = DASHBOARDS["asterisk-agents.json"]
    panels = {p["title"]: p for p in iter_panels(agents)}
    table = panels["Agents"]
    renamed = table["transformations"][1]["options"]["renameByName"]
    assert set(renamed.values()) >= {
        "State",
        "Paused",
        "Time in state",
        "Answered",
        "Missed",
        "Talk time",
        "Pause time",
        "Occupancy",
    }
    timeline = panels["Agent state timeline"]
    assert timeline["type"] == "state-timeline"
    mapping = timeline["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert [mapping[str(code)]["text"] for code in range(6)] == [
        "Available",
        "Ringing",
        "On call",
        "Wrap-up",
        "Paused",
        "Unavailable",
    ]
    exprs = " ".join(q.expr for q in DASHBOARD_QUERIES if q.file == "asterisk-agents.json")
    for needle in (
        "sum by (reason) (increase(asterisk_queue_member_paused_seconds_total",
        "(increase(asterisk_queue_member_ring_noanswer_total",
        "asterisk_queue_member_state_since_seconds",
        "asterisk_queue_member_pause_reason",
    ):
        assert needle in exprs, needle


def test_substitution_for_end_to_end() -> None:
    qs = list(dashboards_queries(job="asterisk", instance="pbx:9200"))
    dash = [q for q in qs if q.source == "dashboard"]
    assert len(dash) == len(DASHBOARD_QUERIES)
    assert len([q for q in qs if q.source == "rule"]) == len(ALERTS) + len(RECORDS)
    for q in dash:
        assert not re.search(r"\$(?!1\b)", q.expr), q.expr  # only label_replace's $1 is left
        assert 'job=~"asterisk"' in q.expr or "asterisk_" not in q.expr
    assert substitute(
        'rate(x{job=~"$job"}[$__rate_interval]) "$1" ${instance}', {"job": "j", "instance": "i"}
    ) == ('rate(x{job=~"j"}[$__rate_interval]) "$1" i')


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------

RULE_QUERIES = list(raw_rule_queries())


@pytest.mark.parametrize("query", RULE_QUERIES, ids=[q.where for q in RULE_QUERIES])
def test_rule_query(query: Any) -> None:
    expr = query.expr
    problems = check_expr_counters(expr) + check_expr_metric_names(expr, RECORDED)
    problems += check_expr_ranges(expr, allowed=tuple("0123456789"))  # rules: literal durations
    assert problems == [], expr


@pytest.mark.parametrize("rule", RECORDS, ids=[r["record"] for r in RECORDS])
def test_recording_rule_names(rule: dict[str, Any]) -> None:
    assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", rule["record"]), "level:metric:operations"
    assert rule["record"].startswith(("queue:", "queue_member:"))
    assert "queue" in rule["expr"]


@pytest.mark.parametrize("rule", ALERTS, ids=[r["alert"] for r in ALERTS])
def test_alert_style(rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert re.fullmatch(r"Asterisk(?:[A-Z][a-z0-9]*|AMI)+", name), "CamelCase, prefixed Asterisk"
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    ann = rule["annotations"]
    assert set(ann) == {"summary", "description", "runbook_url"}
    assert ann["summary"].endswith(".")
    assert "{{" not in ann["summary"]
    if not rule["expr"].startswith("absent("):  # absent() has no labels or value worth printing
        assert "$labels" in ann["description"] or "$value" in ann["description"]
    assert ann["runbook_url"] == RUNBOOK_BASE + name.lower()


def test_every_alert_has_a_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", m.group(1).strip().lower()).replace(" ", "-")
        for m in re.finditer(r"^#{2,4} (.+)$", README.read_text(encoding="utf-8"), re.M)
    }
    assert {r["alert"].lower() for r in ALERTS} <= anchors


def test_required_alerts_exist() -> None:
    required = {
        "AsteriskExporterDown",
        "AsteriskAMIDown",
        "AsteriskQueueCallersHigh",
        "AsteriskQueueLongestWaitHigh",
        "AsteriskQueueNoAgentsAvailable",
        "AsteriskQueueAbandonRateHigh",
        "AsteriskQueueServiceLevelLow",
        "AsteriskRestarted",
        "AsteriskSecurityAuthFailuresHigh",
        "AsteriskExporterReconcileDrift",
    }
    assert required <= {r["alert"] for r in ALERTS}


def test_known_metrics_are_well_formed() -> None:
    for name in KNOWN_METRICS:
        assert re.fullmatch(r"asterisk_[a-z0-9_]+", name), name


# --------------------------------------------------------------------------------------------------
# The checks catch what they should (so the tests above can fail)
# --------------------------------------------------------------------------------------------------


def test_selector_check_catches_missing_matchers() -> None:
    assert check_expr_selectors('sum(asterisk_queue_callers{job=~"$job", instance=~"$instance"})') == []
    assert check_expr_selectors('sum(asterisk_queue_callers{job=~"$job"})') == [
        'asterisk_queue_callers: missing instance=~"$instance"'
    ]
    bad = 'a{job=~"$job", instance=~"$instance"} / on (queue) group_left () b{job="x", instance=~"$instance"}'
    assert check_expr_selectors(bad) == ['b: missing job=~"$job"']
    # Label names in by()/on() and strings are not selectors.
    ok = 'count_values by (le) ("le", asterisk_up{job=~"$job", instance=~"$instance"})'
    assert check_expr_selectors(ok) == []


def test_range_check_catches_fixed_durations() -> None:
    assert check_expr_ranges("rate(x[$__rate_interval])") == []
    assert check_expr_ranges("increase(x[$__range])") == []
    assert check_expr_ranges("rate(x[5m])") == [
        "range [5m] does not use $__rate_interval / $__range / $__interval"
    ]
    assert len(check_expr_ranges("max_over_time(rate(x[$__rate_interval])[1h:])")) == 1


def test_counter_check_catches_raw_counters() -> None:
    assert check_expr_counters("sum(rate(a_total[5m]))") == []
    assert check_expr_counters('histogram_quantile(0.9, sum by (le) (rate(a_bucket{x="y"}[5m])))') == []
    assert check_expr_counters("sum(a_total)") == ["a_total used outside rate()/increase()/irate()"]
    assert check_expr_counters("a_count / a_sum") == [
        "a_count used outside rate()/increase()/irate()",
        "a_sum used outside rate()/increase()/irate()",
    ]
    assert check_expr_counters("rate(sum(a_total)[5m:])") == [
        "a_total used outside rate()/increase()/irate()"
    ]


def test_metric_name_check_catches_unknown_names() -> None:
    assert check_expr_metric_names("asterisk_up + up", set()) == []
    assert check_expr_metric_names("asterisk_queue_waiting", set()) == [
        "asterisk_queue_waiting: not a known exporter metric (KNOWN_METRICS)"
    ]
    assert check_expr_metric_names("queue:x:rate5m", set()) == [
        "queue:x:rate5m: not recorded by any rule in dashboards/rules"
    ]
    assert check_expr_metric_names("queue:x:rate5m", {"queue:x:rate5m"}) == []


def test_panel_and_dashboard_checks_catch_problems() -> None:
    assert len(check_panel({"type": "stat", "targets": [{"expr": "x", "refId": "A"}]})) == 5
    good = json.loads((GRAFANA_DIR / "asterisk-calls.json").read_text(encoding="utf-8"))
    assert check_dashboard_top(good, "") == []
    bad = dict(good, id=3, uid="x" * 41, editable=True, refresh="1s", __inputs=[])
    assert len(check_dashboard_top(bad, '"${DS_PROMETHEUS}"')) == 6
    assert check_variables(good, need_queue=False) == []
    assert check_variables(good, need_queue=True) == ["no queue variable"]
