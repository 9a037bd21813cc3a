#!/usr/bin/env python3
"""Generate the Grafana dashboards in dashboards/grafana/ (the mixin's "jsonnet", in plain Python).

The JSON files are committed and are what users load; this script is their source. Edit it, then run

    python dashboards/generate.py          # rewrite dashboards/grafana/*.json
    python dashboards/generate.py --check  # exit 1 if the committed JSON differs (the tests do this)

Standard library only, so it runs without the project's dependencies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

Json = dict[str, Any]

OUT_DIR = Path(__file__).resolve().parent / "grafana"
DS: Json = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", instance=~"$instance"'
QSEL = SEL + ', queue=~"$queue"'
RI = "$__rate_interval"
RANGE = "$__range"
BUSY_STATUSES = "in_use|busy|ringing|ringinuse|on_hold"

# asterisk_queue_member_status: Asterisk device states (enum ast_device_state in Asterisk's
# include/asterisk/devicestate.h; ami_exporter/pbx/codes.py).
DEVICE_STATES: list[tuple[str, str]] = [
    ("unknown", "text"),
    ("not in use", "green"),
    ("in use", "blue"),
    ("busy", "purple"),
    ("invalid", "red"),
    ("unavailable", "red"),
    ("ringing", "yellow"),
    ("ringing, in use", "yellow"),
    ("on hold", "orange"),
]

# asterisk_queue_member_state / asterisk_queue_agents{state}: the agent states (pbx/agents.py).
AGENT_STATES: list[tuple[str, str, str]] = [
    ("available", "Available", "green"),
    ("ringing", "Ringing", "yellow"),
    ("on_call", "On call", "blue"),
    ("wrapup", "Wrap-up", "purple"),
    ("paused", "Paused", "orange"),
    ("unavailable", "Unavailable", "red"),
]
PAUSED_STATE = 4  # asterisk_queue_member_state code of "paused"


# --------------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------------


class Layout:
    """Hands out panel ids and grid positions left to right, top to bottom (24 columns)."""

    def __init__(self) -> None:
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_h = 0

    def take_id(self) -> int:
        pid = self.next_id
        self.next_id += 1
        return pid

    def place(self, w: int, h: int) -> Json:
        if self.x + w > 24:
            self.newline()
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def newline(self) -> None:
        self.y += self.row_h
        self.x = 0
        self.row_h = 0


def target(
    expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, table: bool = False
) -> Json:
    t: Json = {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "refId": ref,
    }
    if table:
        t["format"] = "table"
    return t


def targets(*specs: tuple[str, str], instant: bool = False, table: bool = False) -> list[Json]:
    return [
        target(expr, legend, chr(ord("A") + i), instant=instant, table=table)
        for i, (expr, legend) in enumerate(specs)
    ]


def thresholds(*steps: tuple[float | None, str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def value_mappings(texts: dict[int, tuple[str, str]]) -> list[Json]:
    options = {
        str(k): {"text": text, "color": color, "index": i}
        for i, (k, (text, color)) in enumerate(texts.items())
    }
    return [{"type": "value", "options": options}]


def panel(
    lay: Layout,
    kind: str,
    title: str,
    description: str,
    unit: str,
    tgts: list[Json],
    w: int,
    h: int,
    *,
    defaults: Json | None = None,
    overrides: list[Json] | None = None,
    options: Json | None = None,
    transformations: list[Json] | None = None,
) -> Json:
    d: Json = {"unit": unit}
    if kind == "timeseries":
        d["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            "stacking": {"group": "A", "mode": "none"},
        }
        d["color"] = {"mode": "palette-classic"}
    d.update(defaults or {})
    opts: Json
    if kind == "timeseries":
        opts = {
            "legend": {
                "calcs": ["mean", "max", "lastNotNull"],
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    elif kind == "stat":
        opts = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        }
    elif kind == "bargauge":
        opts = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "displayMode": "basic",
            "orientation": "horizontal",
            "showUnfilled": True,
        }
    elif kind == "table":
        opts = {
            "showHeader": True,
            "cellHeight": "sm",
            "footer": {"show": False, "reducer": ["sum"], "fields": ""},
        }
    elif kind == "state-timeline":
        d["custom"] = {"fillOpacity": 80, "lineWidth": 0, "spanNulls": False}
        d["color"] = {"mode": "thresholds"}
        opts = {
            "mergeValues": True,
            "showValue": "never",
            "alignValue": "left",
            "rowHeight": 0.9,
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "single", "sort": "none"},
        }
    else:
        raise ValueError(kind)
    opts.update(options or {})
    p: Json = {
        "id": lay.take_id(),
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": lay.place(w, h),
        "fieldConfig": {"defaults": d, "overrides": overrides or []},
        "options": opts,
        "targets": tgts,
    }
    if transformations:
        p["transformations"] = transformations
    return p


def row(lay: Layout, title: str, *, repeat: str | None = None) -> Json:
    lay.newline()
    r: Json = {
        "id": lay.take_id(),
        "type": "row",
        "title": title,
        "collapsed": False,
        "gridPos": {"h": 1, "w": 24, "x": 0, "y": lay.y},
        "panels": [],
    }
    if repeat:
        r["repeat"] = repeat
    lay.y += 1
    return r


def by_name(name: str, **props: Any) -> Json:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": k, "value": v} for k, v in props.items()],
    }


def table_merge(renames: dict[str, str], exclude: tuple[str, ...] = ("Time",)) -> list[Json]:
    return [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": dict.fromkeys(exclude, True),
                "renameByName": renames,
                "indexByName": {},
            },
        },
    ]


def query_var(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": query,
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": ".+",
        "current": {},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
        "skipUrlSync": False,
    }


def templating(*, with_queue: bool, with_member: bool = False) -> Json:
    variables: list[Json] = [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "options": [],
            "refresh": 1,
            "regex": "",
            "hide": 0,
            "includeAll": False,
            "multi": False,
            "skipUrlSync": False,
        },
        query_var("job", "Job", "label_values(asterisk_up, job)"),
        query_var("instance", "Instance", 'label_values(asterisk_up{job=~"$job"}, instance)'),
    ]
    if with_queue:
        variables.append(
            query_var("queue", "Queue", f"label_values(asterisk_queue_callers{{{SEL}}}, queue)"),
        )
    if with_member:
        variables.append(
            query_var(
                "member",
                "Member",
                f"label_values(asterisk_queue_member_calls_answered_total{{{QSEL}}}, member)",
            ),
        )
    return {"list": variables}


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Json],
    *,
    with_queue: bool = False,
    with_member: bool = False,
    time_from: str = "now-6h",
    annotations: list[Json] | None = None,
) -> Json:
    return {
        "id": None,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["asterisk", "ami-exporter"],
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "timezone": "",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [
            {
                "type": "dashboards",
                "title": "Asterisk",
                "tags": ["asterisk"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": {"list": annotations or []},
        "templating": templating(with_queue=with_queue, with_member=with_member),
        "panels": panels,
    }


def service_level_expr(window: str, by: str) -> str:
    """Share of answered callers that waited no longer than the queue's configured service level.

    The threshold (asterisk_queue_service_level_seconds) becomes a label through count_values and is
    matched against the wait histogram's `le`, with a trailing ".0" stripped (client_python prints
    le="30.0"). Thresholds of 0 (not configured) or off the bucket boundaries fall back to 30 s.
    Same logic as the recording rule queue:asterisk_queue_wait_seconds:service_level_ratio_rate5m.
    """
    answered = f'outcome="answered", {QSEL}'
    bucket = "asterisk_queue_wait_seconds_bucket"
    return (
        f"sum by ({by}) (\n"
        f"  sum by (job, instance, queue) (\n"
        f'    label_replace(increase({bucket}{{{answered}}}[{window}]), "le", "$1", "le", "(.+)[.]0")\n'
        f"    and on (job, instance, queue, le)\n"
        f'    count_values by (job, instance, queue) ("le", asterisk_queue_service_level_seconds{{{QSEL}}})\n'
        f"  )\n"
        f"  or on (job, instance, queue)\n"
        f'  sum by (job, instance, queue) (increase({bucket}{{le=~"30([.]0)?", {answered}}}[{window}]))\n'
        f")\n"
        f"/\n"
        f"sum by ({by}) (increase(asterisk_queue_wait_seconds_count{{{answered}}}[{window}]))"
    )


def abandon_ratio_expr(window: str, by: str) -> str:
    ab = f"sum by ({by}) (increase(asterisk_queue_caller_abandons_total{{{QSEL}}}[{window}]))"
    an = f"sum by ({by}) (increase(asterisk_queue_calls_answered_total{{{QSEL}}}[{window}]))"
    return f"{ab}\n/\n({ab} + {an})"


SL_THRESHOLDS = thresholds((None, "red"), (0.7, "orange"), (0.8, "green"))
SL_DESCRIPTION_TAIL = (
    " The threshold is the queue's configured `servicelevel` when it is one of the wait histogram's bucket"
    " boundaries (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600 s), else 30 s. Abandoned callers are not"
    " counted (like Asterisk's ServicelevelPerf)."
)


# --------------------------------------------------------------------------------------------------
# 1. Queues wallboard
# --------------------------------------------------------------------------------------------------


def queues_dashboard() -> Json:
    lay = Layout()
    ps: list[Json] = []
    by_iq = "instance, queue"

    ps.append(row(lay, "Queues at a glance"))
    overview = [
        (f"sum by ({by_iq}) (asterisk_queue_callers{{{QSEL}}})", "callers"),
        (f"max by ({by_iq}) (asterisk_queue_longest_wait_seconds{{{QSEL}}})", "longest"),
        (f"sum by ({by_iq}) (asterisk_queue_members_available{{{QSEL}}})", "available"),
        (f'sum by ({by_iq}) (asterisk_queue_members{{status=~"{BUSY_STATUSES}", {QSEL}}})', "busy"),
        (f"sum by ({by_iq}) (asterisk_queue_members_paused{{{QSEL}}})", "paused"),
        (f"sum by ({by_iq}) (increase(asterisk_queue_calls_answered_total{{{QSEL}}}[{RANGE}]))", "answered"),
        (
            f"sum by ({by_iq}) (increase(asterisk_queue_caller_abandons_total{{{QSEL}}}[{RANGE}]))",
            "abandoned",
        ),
        (service_level_expr(RANGE, by_iq), "sl"),
    ]
    names = [
        "Callers waiting",
        "Longest wait",
        "Agents available",
        "Agents busy",
        "Agents paused",
        "Answered in range",
        "Abandoned in range",
        "Service level in range",
    ]
    ps.append(
        panel(
            lay,
            "table",
            "Queues at a glance",
            "One row per queue: callers waiting and the oldest wait now; members available (idle and"
            " unpaused),"
            " busy (in use, busy, ringing or on hold, paused or not) and paused now; callers answered and"
            " abandoned (queue timeouts included) in the selected time range; and the service level over the"
            " range.",
            "short",
            targets(*overview, instant=True, table=True),
            24,
            8,
            overrides=[
                by_name("Longest wait", unit="s"),
                by_name("Service level in range", unit="percentunit", decimals=1),
                by_name("Callers waiting", **{"custom.cellOptions": {"type": "color-background"}}),
            ],
            defaults={
                "thresholds": thresholds((None, "transparent")),
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}},
            },
            transformations=table_merge(
                {f"Value #{chr(ord('A') + i)}": n for i, n in enumerate(names)}
                | {"instance": "Instance", "queue": "Queue"}
            ),
        )
    )

    agent_state_row(lay, ps)

    ps.append(row(lay, "Queue $queue", repeat="queue"))
    stat_specs: list[tuple[str, str, str, str, Json]] = [
        (
            "Callers waiting",
            "Callers waiting in the queue now.",
            "short",
            f"sum(asterisk_queue_callers{{{QSEL}}})",
            thresholds((None, "green"), (5, "orange"), (10, "red")),
        ),
        (
            "Longest wait",
            "How long the oldest caller still waiting has waited (0 when nobody waits).",
            "s",
            f"max(asterisk_queue_longest_wait_seconds{{{QSEL}}})",
            thresholds((None, "green"), (60, "orange"), (300, "red")),
        ),
        (
            "Agents available",
            "Members that are idle (device not in use), not paused and not on a queue call.",
            "short",
            f"sum(asterisk_queue_members_available{{{QSEL}}})",
            thresholds((None, "red"), (1, "green")),
        ),
        (
            "Agents busy",
            "Members whose device is in use, busy, ringing or on hold (paused members included).",
            "short",
            f'sum(asterisk_queue_members{{status=~"{BUSY_STATUSES}", {QSEL}}})',
            thresholds((None, "blue")),
        ),
        (
            "Agents paused",
            "Members paused in this queue.",
            "short",
            f"sum(asterisk_queue_members_paused{{{QSEL}}})",
            thresholds((None, "text")),
        ),
        (
            "Answered",
            "Callers connected to an agent (AgentConnect) in the selected time range.",
            "short",
            f"sum(increase(asterisk_queue_calls_answered_total{{{QSEL}}}[{RANGE}]))",
            thresholds((None, "green")),
        ),
        (
            "Abandoned",
            "Callers who left without an agent in the selected time range. Asterisk counts queue timeouts,"
            " leavewhenempty and withdrawals as abandons too.",
            "short",
            f"sum(increase(asterisk_queue_caller_abandons_total{{{QSEL}}}[{RANGE}]))",
            thresholds((None, "green"), (1, "orange")),
        ),
    ]
    for title, desc, unit, expr, th in stat_specs:
        ps.append(
            panel(
                lay,
                "stat",
                title,
                desc,
                unit,
                [target(expr, instant=True)],
                3,
                4,
                defaults={"thresholds": th},
            )
        )
    ps.append(
        panel(
            lay,
            "stat",
            "Service level",
            "Share of the callers answered in the selected time range who waited no longer than the queue's"
            " service-level threshold." + SL_DESCRIPTION_TAIL,
            "percentunit",
            [target(service_level_expr(RANGE, "queue"), instant=True)],
            3,
            4,
            defaults={"thresholds": SL_THRESHOLDS, "decimals": 1, "min": 0, "max": 1},
        )
    )
    lay.newline()
    ps.append(
        panel(
            lay,
            "timeseries",
            "Callers and agents",
            "Callers waiting and members available, busy and paused over time.",
            "short",
            targets(
                (f"sum(asterisk_queue_callers{{{QSEL}}})", "callers waiting"),
                (f"sum(asterisk_queue_members_available{{{QSEL}}})", "agents available"),
                (f'sum(asterisk_queue_members{{status=~"{BUSY_STATUSES}", {QSEL}}})', "agents busy"),
                (f"sum(asterisk_queue_members_paused{{{QSEL}}})", "agents paused"),
            ),
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Joined, answered and abandoned",
            "Callers joining, answered and abandoning (timeouts included), per minute.",
            "cpm",
            targets(
                (f"60 * sum(rate(asterisk_queue_caller_joins_total{{{QSEL}}}[{RI}]))", "joined"),
                (f"60 * sum(rate(asterisk_queue_calls_answered_total{{{QSEL}}}[{RI}]))", "answered"),
                (f"60 * sum(rate(asterisk_queue_caller_abandons_total{{{QSEL}}}[{RI}]))", "abandoned"),
            ),
            12,
            8,
        )
    )

    ps.append(row(lay, "Wait and talk times"))
    for title, desc, outcome in [
        (
            "Wait before answer",
            "Percentiles of how long answered callers waited, from the wait histogram.",
            "answered",
        ),
        (
            "Wait before abandon",
            "Percentiles of how long callers waited before abandoning (or timing out).",
            "abandoned",
        ),
    ]:
        ps.append(
            panel(
                lay,
                "timeseries",
                title,
                desc,
                "s",
                targets(
                    *[
                        (
                            f"histogram_quantile({q}, sum by (queue, le) "
                            f'(rate(asterisk_queue_wait_seconds_bucket{{outcome="{outcome}", {QSEL}}}[{RI}]))'
                            f")",
                            f"{{{{queue}}}} p{int(q * 100)}",
                        )
                        for q in (0.5, 0.9)
                    ]
                ),
                8,
                8,
            )
        )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Talk time",
            "Percentiles of the talk time of completed queue calls (AgentComplete TalkTime).",
            "s",
            targets(
                *[
                    (
                        f"histogram_quantile({q}, sum by (queue, le) "
                        f"(rate(asterisk_queue_talk_seconds_bucket{{{QSEL}}}[{RI}])))",
                        f"{{{{queue}}}} p{int(q * 100)}",
                    )
                    for q in (0.5, 0.9)
                ]
            ),
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Service level",
            "Share of answered callers who waited no longer than the queue's service-level threshold, over a"
            " sliding window." + SL_DESCRIPTION_TAIL,
            "percentunit",
            [target(service_level_expr(RI, "queue"), "{{queue}}")],
            12,
            8,
            defaults={"min": 0, "max": 1, "thresholds": SL_THRESHOLDS},
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Abandon ratio",
            "Share of the callers whose wait ended that abandoned rather than being answered (queue timeouts"
            " and"
            " leavewhenempty count as abandons).",
            "percentunit",
            [target(abandon_ratio_expr(RI, "queue"), "{{queue}}")],
            12,
            8,
            defaults={"min": 0, "max": 1},
        )
    )

    ps.append(row(lay, "Agents"))
    member_by = "instance, queue, member"
    member_cols = [
        (f"max by ({member_by}) (asterisk_queue_member_status{{{QSEL}}})", "Status"),
        (f"max by ({member_by}) (asterisk_queue_member_paused{{{QSEL}}})", "Paused"),
        (f"max by ({member_by}) (asterisk_queue_member_in_call{{{QSEL}}})", "On a queue call"),
        (f"max by ({member_by}) (asterisk_queue_member_calls_taken{{{QSEL}}})", "Calls taken"),
        (
            f"1000 * max by ({member_by}) (asterisk_queue_member_last_call_time_seconds{{{QSEL}}} > 0)",
            "Last call",
        ),
        (
            f"1000 * max by ({member_by}) (asterisk_queue_member_last_pause_time_seconds{{{QSEL}}} > 0)",
            "Last pause",
        ),
        (
            f"1000 * max by ({member_by}) (asterisk_queue_member_login_time_seconds{{{QSEL}}} > 0)",
            "Logged in",
        ),
    ]
    status_map = value_mappings(dict(enumerate(DEVICE_STATES)))
    ps.append(
        panel(
            lay,
            "table",
            "Members",
            "Every queue member: device status, paused, on a queue call, calls taken since Asterisk's last"
            " stats"
            " reset, and when they last took a call, last paused and logged in. Needs the queue-members"
            " collector.",
            "short",
            targets(*member_cols, instant=True, table=True),
            24,
            10,
            defaults={"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True}},
            overrides=[
                by_name(
                    "Status",
                    mappings=status_map,
                    **{"custom.cellOptions": {"type": "color-text"}},
                ),
                by_name(
                    "Paused",
                    mappings=value_mappings({0: ("no", "text"), 1: ("paused", "orange")}),
                    **{"custom.cellOptions": {"type": "color-text"}},
                ),
                by_name("On a queue call", mappings=value_mappings({0: ("no", "text"), 1: ("yes", "blue")})),
                by_name("Last call", unit="dateTimeFromNow"),
                by_name("Last pause", unit="dateTimeFromNow"),
                by_name("Logged in", unit="dateTimeFromNow"),
            ],
            transformations=table_merge(
                {f"Value #{chr(ord('A') + i)}": n for i, (_, n) in enumerate(member_cols)}
                | {"instance": "Instance", "queue": "Queue", "member": "Member"}
            ),
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Members by status",
            "Queue members by device status (stacked).",
            "short",
            [
                target(
                    f"sum by (status) (asterisk_queue_members{{{QSEL}}})",
                    "{{status}}",
                )
            ],
            12,
            8,
            defaults={
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 40,
                    "showPoints": "never",
                    "spanNulls": False,
                    "stacking": {"group": "A", "mode": "normal"},
                }
            },
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Ring no answer and completions",
            "Per minute: members rung who did not answer (AgentRingNoAnswer), and completed calls by who"
            " ended"
            " them (AgentComplete reason).",
            "cpm",
            targets(
                (
                    f"60 * sum by (queue) (rate(asterisk_queue_ring_noanswer_total{{{QSEL}}}[{RI}]))",
                    "{{queue}} no answer",
                ),
                (
                    f"60 * sum by (queue, reason)"
                    f" (rate(asterisk_queue_calls_completed_total{{{QSEL}}}[{RI}]))",
                    "{{queue}} completed by {{reason}}",
                ),
            ),
            12,
            8,
        )
    )

    ps.append(row(lay, "Asterisk's own queue statistics"))
    stats_cols = [
        (f"max by ({by_iq}) (asterisk_queue_stats_completed{{{QSEL}}})", "Completed"),
        (f"max by ({by_iq}) (asterisk_queue_stats_abandoned{{{QSEL}}})", "Abandoned"),
        (f"max by ({by_iq}) (asterisk_queue_stats_service_level_ratio{{{QSEL}}})", "Service level"),
        (f"max by ({by_iq}) (asterisk_queue_service_level_seconds{{{QSEL}}})", "SL threshold"),
        (f"max by ({by_iq}) (asterisk_queue_stats_holdtime_seconds{{{QSEL}}})", "Avg hold time"),
        (f"max by ({by_iq}) (asterisk_queue_stats_talktime_seconds{{{QSEL}}})", "Avg talk time"),
        (f"max by ({by_iq}) (asterisk_queue_max_callers{{{QSEL}}})", "Max callers"),
    ]
    ps.append(
        panel(
            lay,
            "table",
            "QueueParams statistics",
            "Asterisk's own figures from QueueStatus, since its last stats reset (restart or `queue reset"
            " stats`):"
            " Completed, Abandoned, ServicelevelPerf, the configured threshold, the moving-average hold and"
            " talk"
            " times, and the queue's Max (0 = unlimited). They differ from the event counters above in"
            " documented"
            " ways.",
            "short",
            targets(*stats_cols, instant=True, table=True),
            24,
            7,
            defaults={"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
            overrides=[
                by_name("Service level", unit="percentunit", decimals=1),
                by_name("SL threshold", unit="s"),
                by_name("Avg hold time", unit="s"),
                by_name("Avg talk time", unit="s"),
            ],
            transformations=table_merge(
                {f"Value #{chr(ord('A') + i)}": n for i, (_, n) in enumerate(stats_cols)}
                | {"instance": "Instance", "queue": "Queue"}
            ),
        )
    )
    return dashboard(
        "asterisk-queues",
        "Asterisk / Queues wallboard",
        "Call-centre wallboard for Asterisk queues (app_queue) from ami-exporter.",
        ps,
        with_queue=True,
        time_from="now/d",
    )


# --------------------------------------------------------------------------------------------------
# 2. Calls and CDR
# --------------------------------------------------------------------------------------------------


def calls_dashboard() -> Json:
    lay = Layout()
    ps: list[Json] = []
    ps.append(row(lay, "Now and in the range"))
    cdr_range = f"sum(increase(asterisk_cdr_total{{{SEL}}}[{RANGE}]))"
    stat_specs: list[tuple[str, str, str, str]] = [
        (
            "Active channels",
            "Channels that exist now, all technologies and states.",
            "short",
            f"sum(asterisk_channels{{{SEL}}})",
        ),
        (
            "Active bridges",
            "Bridges (connected calls, conferences) that exist now.",
            "short",
            f"sum(asterisk_bridges{{{SEL}}})",
        ),
        ("Calls in range", "CDRs posted in the selected time range (one per call leg).", "short", cdr_range),
        (
            "Answered share",
            "Share of the CDRs in the selected time range with disposition ANSWERED.",
            "percentunit",
            f'sum(increase(asterisk_cdr_total{{disposition="answered", {SEL}}}[{RANGE}])) / {cdr_range}',
        ),
        (
            "Billable minutes",
            "Sum of the CDRs' billable seconds in the selected time range.",
            "m",
            f"sum(increase(asterisk_cdr_billable_seconds_total{{{SEL}}}[{RANGE}])) / 60",
        ),
        (
            "Hangups in range",
            "Channels hung up in the selected time range, all causes.",
            "short",
            f"sum(increase(asterisk_channel_hangups_total{{{SEL}}}[{RANGE}]))",
        ),
    ]
    for title, desc, unit, expr in stat_specs:
        ps.append(
            panel(
                lay,
                "stat",
                title,
                desc,
                unit,
                [target(expr, instant=True)],
                4,
                4,
                defaults={"thresholds": thresholds((None, "text"))},
            )
        )

    ps.append(row(lay, "Channels"))
    ps.append(
        panel(
            lay,
            "timeseries",
            "Active channels by technology",
            "Channels that exist, by channel technology (PJSIP, SIP, IAX2, Local, DAHDI, ...).",
            "short",
            [target(f"sum by (technology) (asterisk_channels{{{SEL}}})", "{{technology}}")],
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Active channels by state",
            "Channels that exist, by channel state (down, ring, ringing, up, busy, ...).",
            "short",
            [target(f"sum by (state) (asterisk_channels{{{SEL}}})", "{{state}}")],
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Call rate",
            "New channels per second by technology (Newchannel), and CDRs posted per second.",
            "cps",
            targets(
                (
                    f"sum by (technology) (rate(asterisk_channels_created_total{{{SEL}}}[{RI}]))",
                    "new {{technology}} channels",
                ),
                (f"sum(rate(asterisk_cdr_total{{{SEL}}}[{RI}]))", "CDRs"),
            ),
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Channel duration",
            "Percentiles of channel lifetime, observed at hangup (channels seen from their start only).",
            "s",
            targets(
                *[
                    (
                        f"histogram_quantile({q}, sum by (le)"
                        f" (rate(asterisk_channel_duration_seconds_bucket{{{SEL}}}[{RI}])))",
                        f"p{int(q * 100)}",
                    )
                    for q in (0.5, 0.9, 0.99)
                ]
            ),
            12,
            8,
        )
    )

    ps.append(row(lay, "Hangups and CDR"))
    ps.append(
        panel(
            lay,
            "timeseries",
            "Hangups by cause",
            "Hangups per minute by Q.850 cause (normal_clearing, user_busy, no_answer, ...).",
            "cpm",
            [
                target(
                    f"60 * sum by (cause) (rate(asterisk_channel_hangups_total{{{SEL}}}[{RI}]))", "{{cause}}"
                )
            ],
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "bargauge",
            "Hangup causes in range",
            "Hangups in the selected time range by cause, most frequent first.",
            "short",
            [
                target(
                    f"sort_desc(sum by (cause) (increase(asterisk_channel_hangups_total{{{SEL}}}[{RANGE}])))",
                    "{{cause}}",
                    instant=True,
                )
            ],
            12,
            8,
            defaults={"thresholds": thresholds((None, "blue"))},
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "CDR by disposition",
            "CDRs per minute by disposition (answered, no_answer, busy, failed, congestion, cancel).",
            "cpm",
            [
                target(
                    f"60 * sum by (disposition) (rate(asterisk_cdr_total{{{SEL}}}[{RI}]))", "{{disposition}}"
                )
            ],
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "bargauge",
            "CDR dispositions in range",
            "CDRs in the selected time range by disposition.",
            "short",
            [
                target(
                    f"sort_desc(sum by (disposition) (increase(asterisk_cdr_total{{{SEL}}}[{RANGE}])))",
                    "{{disposition}}",
                    instant=True,
                )
            ],
            12,
            8,
            defaults={"thresholds": thresholds((None, "green"))},
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Billed talk time",
            "Billable seconds per second, i.e. the average number of billed calls in progress (each call is"
            " counted when its CDR is posted, at the end of the call).",
            "short",
            [target(f"sum(rate(asterisk_cdr_billable_seconds_total{{{SEL}}}[{RI}]))", "billed calls")],
            24,
            7,
        )
    )
    return dashboard(
        "asterisk-calls",
        "Asterisk / Calls and CDR",
        "Channels, call rates, hangup causes and CDRs from ami-exporter.",
        ps,
    )


# --------------------------------------------------------------------------------------------------
# 3. Asterisk and exporter health
# --------------------------------------------------------------------------------------------------


def health_dashboard() -> Json:
    lay = Layout()
    ps: list[Json] = []
    up_map = value_mappings({0: ("down", "red"), 1: ("up", "green")})
    ps.append(row(lay, "Status"))
    ps.append(
        panel(
            lay,
            "stat",
            "Exporter scrape",
            "Whether Prometheus can scrape the exporter (the `up` series of the target).",
            "none",
            [target(f"up{{{SEL}}}", "{{instance}}", instant=True)],
            4,
            4,
            defaults={"mappings": up_map, "thresholds": thresholds((None, "red"), (1, "green"))},
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "AMI session",
            "Whether the exporter is logged in to the Asterisk Manager Interface (asterisk_up).",
            "none",
            [target(f"asterisk_up{{{SEL}}}", "{{instance}}", instant=True)],
            4,
            4,
            defaults={"mappings": up_map, "thresholds": thresholds((None, "red"), (1, "green"))},
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "Asterisk uptime",
            "Time since Asterisk started (from asterisk_core_start_time_seconds).",
            "s",
            [
                target(
                    f"time() - (asterisk_core_start_time_seconds{{{SEL}}} > 0)", "{{instance}}", instant=True
                )
            ],
            4,
            4,
            defaults={"thresholds": thresholds((None, "orange"), (900, "green"))},
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "Last reload",
            "When Asterisk last reloaded its configuration.",
            "dateTimeFromNow",
            [
                target(
                    f"1000 * (asterisk_core_reload_time_seconds{{{SEL}}} > 0)", "{{instance}}", instant=True
                )
            ],
            4,
            4,
            defaults={"thresholds": thresholds((None, "text"))},
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "Reloads in range",
            "Reload events in the selected time range.",
            "short",
            [target(f"sum(increase(asterisk_reloads_total{{{SEL}}}[{RANGE}]))", instant=True)],
            4,
            4,
            defaults={"thresholds": thresholds((None, "text"))},
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "Last event age",
            "Time since the exporter received its newest AMI event. A quiet PBX sends few events; a long"
            " silence"
            " while calls run means the event stream is stuck.",
            "s",
            [
                target(
                    f"time() - asterisk_exporter_last_event_timestamp_seconds{{{SEL}}}",
                    "{{instance}}",
                    instant=True,
                )
            ],
            4,
            4,
            defaults={"thresholds": thresholds((None, "green"), (300, "orange"))},
        )
    )
    ps.append(
        panel(
            lay,
            "table",
            "Asterisk version",
            "Asterisk and AMI versions (asterisk_info; the version is empty when the AMI user may not read"
            " CoreSettings).",
            "none",
            [
                target(
                    f"max by (instance, version, ami_version) (asterisk_info{{{SEL}}})",
                    instant=True,
                    table=True,
                )
            ],
            12,
            5,
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value": True},
                        "renameByName": {"instance": "Instance", "version": "Asterisk", "ami_version": "AMI"},
                        "indexByName": {},
                    },
                }
            ],
        )
    )
    ps.append(
        panel(
            lay,
            "table",
            "Exporter version",
            "ami-exporter version of each target (asterisk_exporter_build_info).",
            "none",
            [
                target(
                    f"max by (instance, version) (asterisk_exporter_build_info{{{SEL}}})",
                    instant=True,
                    table=True,
                )
            ],
            12,
            5,
            transformations=[
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {"Time": True, "Value": True},
                        "renameByName": {"instance": "Instance", "version": "ami-exporter"},
                        "indexByName": {},
                    },
                }
            ],
        )
    )

    ps.append(row(lay, "SIP endpoints and trunks"))
    ps.append(
        panel(
            lay,
            "stat",
            "Trunk registrations",
            "Each outbound registration (asterisk_registration_up; named when the AMI user may run"
            " PJSIPShowRegistrationsOutbound, write=reporting or system). AsteriskTrunkRegistrationDown"
            " fires after 2 minutes down.",
            "none",
            [
                target(
                    f"max by (registration) (asterisk_registration_up{{{SEL}}})",
                    "{{registration}}",
                    instant=True,
                )
            ],
            8,
            4,
            defaults={"mappings": up_map, "thresholds": thresholds((None, "red"), (1, "green"))},
            options={"textMode": "value_and_name"},
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "Endpoints unreachable",
            "SIP endpoints (phones, trunks) that are unreachable now. Exact from the first reconcile with"
            " write=system (PJSIPShowEndpoints) or, for idle endpoints, write=reporting (DeviceStateList);"
            " otherwise only endpoints that changed since the exporter connected.",
            "short",
            [target(f'sum(asterisk_endpoints{{state="unreachable", {SEL}}})', instant=True)],
            4,
            4,
            defaults={"thresholds": thresholds((None, "green"), (1, "orange"))},
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "Contacts unreachable",
            "SIP contacts (a phone's registered or configured address) whose qualify fails.",
            "short",
            [target(f'sum(asterisk_contacts{{state="unreachable", {SEL}}})', instant=True)],
            4,
            4,
            defaults={"thresholds": thresholds((None, "green"), (1, "orange"))},
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Registrations by state",
            "Outbound registrations (trunks) by state: registered, rejected, unregistered, ...",
            "short",
            [target(f"sum by (state) (asterisk_registrations{{{SEL}}})", "{{state}}")],
            8,
            4,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Endpoints by state",
            "SIP endpoints by reachability (PeerStatus; the PJSIPShowEndpoints or DeviceStateList snapshot"
            " at each reconcile where permitted).",
            "short",
            [target(f"sum by (state) (asterisk_endpoints{{{SEL}}})", "{{state}}")],
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Contacts by state",
            "SIP contacts by qualify status: reachable, unreachable, non_qualified (registered with qualify"
            " off), unknown.",
            "short",
            [target(f"sum by (state) (asterisk_contacts{{{SEL}}})", "{{state}}")],
            12,
            8,
        )
    )

    ps.append(row(lay, "Security"))
    ps.append(
        panel(
            lay,
            "timeseries",
            "Security events by type",
            "Asterisk security events per minute by event and service (InvalidPassword, InvalidAccountID,"
            " FailedACL, ChallengeResponseFailed, RequestNotAllowed, SuccessfulAuth, ...).",
            "cpm",
            [
                target(
                    f"60 * sum by (event, service) (rate(asterisk_security_events_total{{{SEL}}}[{RI}]))",
                    "{{service}} {{event}}",
                )
            ],
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Authentication failures",
            "Failed authentications per minute by service (the events AsteriskSecurityAuthFailuresHigh"
            " counts).",
            "cpm",
            [
                target(
                    "60 * sum by (service) (rate(asterisk_security_events_total{event=~"
                    f'"InvalidPassword|InvalidAccountID|ChallengeResponseFailed|FailedACL", {SEL}}}[{RI}]))',
                    "{{service}}",
                )
            ],
            12,
            8,
        )
    )

    ps.append(row(lay, "AMI session"))
    ps.append(
        panel(
            lay,
            "timeseries",
            "Events by type",
            "AMI events received per second, the 15 most frequent event names.",
            "cps",
            [
                target(
                    f"topk(15, sum by (event) (rate(asterisk_exporter_events_total{{{SEL}}}[{RI}])))",
                    "{{event}}",
                )
            ],
            12,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Logins and disconnects",
            "AMI login attempts by result and lost sessions by reason, per minute. Repeated logins mean"
            " reconnects.",
            "cpm",
            targets(
                (
                    f"60 * sum by (result) (rate(asterisk_exporter_ami_logins_total{{{SEL}}}[{RI}]))",
                    "login {{result}}",
                ),
                (
                    f"60 * sum by (reason) (rate(asterisk_exporter_ami_disconnects_total{{{SEL}}}[{RI}]))",
                    "disconnect {{reason}}",
                ),
            ),
            12,
            8,
        )
    )

    ps.append(row(lay, "Exporter internals"))
    ps.append(
        panel(
            lay,
            "timeseries",
            "Reconcile corrections",
            "Differences the periodic snapshots (QueueStatus; channels, devices, SIP endpoints, contacts and"
            " registrations where permitted) corrected in the exporter's event-derived state,"
            " per"
            " minute, by object. Bursts after a reconnect are normal; a steady rate means lost events.",
            "cpm",
            [
                target(
                    f"60 * sum by (object)"
                    f" (rate(asterisk_exporter_reconcile_corrections_total{{{SEL}}}[{RI}]))",
                    "{{object}}",
                )
            ],
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Malformed frames and label overflow",
            "Per minute: AMI frames that could not be parsed, and label values folded into __overflow__"
            " because a"
            " metric reached its label cap.",
            "cpm",
            targets(
                (
                    f"60 * sum(rate(asterisk_exporter_malformed_messages_total{{{SEL}}}[{RI}]))",
                    "malformed frames",
                ),
                (
                    f"60 * sum by (metric) (rate(asterisk_exporter_label_overflow_total{{{SEL}}}[{RI}]))",
                    "overflow {{metric}}",
                ),
            ),
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "AMI backlog",
            "Bytes read from the AMI socket and not yet folded into the exporter's model (it is folded"
            " in slices of a few milliseconds, so the reader never makes Asterisk wait), and its peak"
            " since the exporter started; the cap is 16 MiB (AsteriskExporterFallingBehind fires when"
            " it is reached again and again).",
            "bytes",
            targets(
                (f"max(asterisk_exporter_ami_backlog_bytes{{{SEL}}})", "backlog"),
                (f"max(asterisk_exporter_ami_backlog_peak_bytes{{{SEL}}})", "peak since start"),
            ),
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Collector duration",
            "How long each collector took on the last scrape.",
            "s",
            [
                target(
                    f"max by (collector) (asterisk_scrape_collector_duration_seconds{{{SEL}}})",
                    "{{collector}}",
                )
            ],
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "stat",
            "Collector success",
            "Whether each collector succeeded on the last scrape (worst over the selected instances).",
            "none",
            [
                target(
                    f"min by (collector) (asterisk_scrape_collector_success{{{SEL}}})",
                    "{{collector}}",
                    instant=True,
                )
            ],
            24,
            4,
            defaults={
                "mappings": value_mappings({0: ("failed", "red"), 1: ("ok", "green")}),
                "thresholds": thresholds((None, "red"), (1, "green")),
            },
            options={"textMode": "value_and_name"},
        )
    )
    annotations = [
        {
            "name": "Asterisk restarts",
            "datasource": DS,
            "enable": True,
            "iconColor": "red",
            "expr": f"changes(asterisk_core_start_time_seconds{{{SEL}}}[{RI}]) > 0",
            "step": "60s",
            "titleFormat": "Asterisk restarted",
            "textFormat": "{{instance}}",
            "useValueForTime": False,
        },
        {
            "name": "Asterisk reloads",
            "datasource": DS,
            "enable": True,
            "iconColor": "orange",
            "expr": f"changes(asterisk_core_reload_time_seconds{{{SEL}}}[{RI}]) > 0",
            "step": "60s",
            "titleFormat": "Asterisk reloaded",
            "textFormat": "{{instance}}",
            "useValueForTime": False,
        },
    ]
    return dashboard(
        "asterisk-health",
        "Asterisk / Asterisk and exporter health",
        "Asterisk status and versions, SIP endpoints and trunks, security events, the AMI session and the"
        " exporter's own health.",
        ps,
        annotations=annotations,
    )


# --------------------------------------------------------------------------------------------------
# 4. Agents
# --------------------------------------------------------------------------------------------------

STATE_MAP = value_mappings(
    {code: (label, colour) for code, (_name, label, colour) in enumerate(AGENT_STATES)}
)
STATE_HELP = ", ".join(label.lower() for _name, label, _colour in AGENT_STATES)
AGENT_STATE_DESCRIPTION = (
    " Exactly one state per queue membership: paused wins; then unavailable (device unavailable,"
    " invalid or unknown); on call (a queue call, or any call on the device when the queue does not ring"
    " members in use); ringing; wrap-up (the queue's or member's wrap-up time after the last queue call);"
    " else available (Asterisk would ring them). An agent in two queues counts in each."
)


def agent_state_row(lay: Layout, ps: list[Json]) -> None:
    """The wallboard's row of agent states and pause reasons over the selected queues."""
    ps.append(row(lay, "Agents by state"))
    for name, label, colour in AGENT_STATES:
        ps.append(
            panel(
                lay,
                "stat",
                label,
                f"Queue members in agent state {label.lower()} now, over the selected queues."
                + AGENT_STATE_DESCRIPTION,
                "short",
                [target(f'sum(asterisk_queue_agents{{state="{name}", {QSEL}}})', instant=True)],
                4,
                4,
                defaults={"thresholds": thresholds((None, colour)), "color": {"mode": "thresholds"}},
            )
        )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Agents by state",
            "Queue members by agent state over time (stacked)." + AGENT_STATE_DESCRIPTION,
            "short",
            [target(f"sum by (state) (asterisk_queue_agents{{{QSEL}}})", "{{state}}")],
            12,
            8,
            defaults={
                "custom": {
                    "drawStyle": "line",
                    "lineWidth": 1,
                    "fillOpacity": 40,
                    "showPoints": "never",
                    "spanNulls": False,
                    "stacking": {"group": "A", "mode": "normal"},
                }
            },
            overrides=[
                by_name(name, color={"mode": "fixed", "fixedColor": colour})
                for name, _l, colour in AGENT_STATES
            ],
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Paused agents by reason",
            "Paused queue members by pause reason (the reason given with QueuePause; none when empty).",
            "short",
            [target(f"sum by (reason) (asterisk_queue_members_paused_by_reason{{{QSEL}}})", "{{reason}}")],
            12,
            8,
            defaults={
                "custom": {
                    "drawStyle": "bars",
                    "lineWidth": 1,
                    "fillOpacity": 60,
                    "showPoints": "never",
                    "spanNulls": False,
                    "stacking": {"group": "A", "mode": "normal"},
                }
            },
        )
    )


def occupancy_expr(by: str, member_sel: str) -> str:
    """Talk time over time logged in and not paused, in the selected range, from raw series (the
    dashboards' version of the occupancy recording rules): the talk rate over the range divided by
    the share of the instance's scrapes in the range in which the member was there and not paused."""
    talk = f"sum by ({by}) (rate(asterisk_queue_member_talk_seconds_total{{{member_sel}}}[{RANGE}]))"
    unpaused = (
        f"sum by ({by}) (count_over_time(asterisk_queue_member_state{{{member_sel}}}[{RANGE}]))\n"
        f"  - sum by ({by}) (sum_over_time(asterisk_queue_member_paused{{{member_sel}}}[{RANGE}]))"
    )
    scrapes = f"sum by (instance) (count_over_time(asterisk_up{{{SEL}}}[{RANGE}]))"
    return f"{talk}\n/\n(\n  ({unpaused})\n  / on (instance) group_left ()\n  {scrapes}\n)"


def agents_dashboard() -> Json:
    lay = Layout()
    ps: list[Json] = []
    msel = QSEL + ', member=~"$member"'
    by = "instance, queue, member"

    ps.append(row(lay, "Agents now"))
    for name, label, colour in AGENT_STATES:
        ps.append(
            panel(
                lay,
                "stat",
                label,
                f"Members of the selected queues in agent state {label.lower()} now."
                + AGENT_STATE_DESCRIPTION,
                "short",
                [target(f'sum(asterisk_queue_agents{{state="{name}", {QSEL}}})', instant=True)],
                4,
                4,
                defaults={"thresholds": thresholds((None, colour)), "color": {"mode": "thresholds"}},
            )
        )
    columns = [
        (f"max by ({by}) (asterisk_queue_member_state{{{msel}}})", "State"),
        (f"max by ({by}, reason) (asterisk_queue_member_pause_reason{{{msel}}})", "Paused"),
        (f"time() - max by ({by}) (asterisk_queue_member_state_since_seconds{{{msel}}})", "Time in state"),
        (
            f"sum by ({by}) (increase(asterisk_queue_member_calls_answered_total{{{msel}}}[{RANGE}]))",
            "Answered",
        ),
        (f"sum by ({by}) (increase(asterisk_queue_member_ring_noanswer_total{{{msel}}}[{RANGE}]))", "Missed"),
        (
            f"sum by ({by}) (increase(asterisk_queue_member_talk_seconds_total{{{msel}}}[{RANGE}]))",
            "Talk time",
        ),
        (
            f"sum by ({by}) (increase(asterisk_queue_member_paused_seconds_total{{{msel}}}[{RANGE}]))",
            "Pause time",
        ),
        (occupancy_expr(by, msel), "Occupancy"),
    ]
    ps.append(
        panel(
            lay,
            "table",
            "Agents",
            "One row per queue membership: the agent state now and for how long, the pause reason while"
            " paused, and in the selected time range the calls answered (AgentConnect), the calls missed"
            " (rung without answering, AgentRingNoAnswer), talk time of completed calls, time paused and"
            " occupancy (talk time / time logged in and not paused). Members who logged off during the range"
            " keep their counts, without a state. Needs the queue-members collector.",
            "short",
            targets(*columns, instant=True, table=True),
            24,
            12,
            defaults={"custom": {"align": "auto", "cellOptions": {"type": "auto"}, "filterable": True}},
            overrides=[
                by_name("State", mappings=STATE_MAP, **{"custom.cellOptions": {"type": "color-background"}}),
                by_name("Paused", mappings=value_mappings({1: ("paused", "orange")})),
                by_name("Time in state", unit="s"),
                by_name("Talk time", unit="s"),
                by_name("Pause time", unit="s"),
                by_name("Occupancy", unit="percentunit", decimals=0),
                by_name("reason", displayName="Pause reason"),
            ],
            transformations=table_merge(
                {f"Value #{chr(ord('A') + i)}": n for i, (_, n) in enumerate(columns)}
                | {"instance": "Instance", "queue": "Queue", "member": "Member"}
            ),
        )
    )

    ps.append(row(lay, "Agent states over time"))
    ps.append(
        panel(
            lay,
            "state-timeline",
            "Agent state timeline",
            "Each queue membership's agent state over the selected range ("
            + STATE_HELP
            + ")."
            + AGENT_STATE_DESCRIPTION,
            "short",
            [
                target(
                    f"max by (queue, member) (asterisk_queue_member_state{{{msel}}})",
                    "{{member}} ({{queue}})",
                )
            ],
            24,
            14,
            defaults={"mappings": STATE_MAP, "thresholds": thresholds((None, "text"))},
        )
    )

    ps.append(row(lay, "Pauses"))
    ps.append(
        panel(
            lay,
            "bargauge",
            "Pause time by reason",
            "Time members of the selected queues spent paused in the selected range, by pause reason"
            " (pauses in progress included).",
            "s",
            [
                target(
                    "sort_desc(sum by (reason) "
                    f"(increase(asterisk_queue_member_paused_seconds_total{{{msel}}}[{RANGE}])))",
                    "{{reason}}",
                    instant=True,
                )
            ],
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Paused agents by reason",
            "Paused members of the selected queues by pause reason (none when no reason was given).",
            "short",
            [target(f"sum by (reason) (asterisk_queue_members_paused_by_reason{{{QSEL}}})", "{{reason}}")],
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "bargauge",
            "Pause time by agent",
            "Time each member spent paused in the selected range, all reasons, the 20 longest.",
            "s",
            [
                target(
                    "topk(20, sum by (queue, member) "
                    f"(increase(asterisk_queue_member_paused_seconds_total{{{msel}}}[{RANGE}])))",
                    "{{member}} ({{queue}})",
                    instant=True,
                )
            ],
            8,
            8,
        )
    )

    ps.append(row(lay, "Performance"))
    ps.append(
        panel(
            lay,
            "bargauge",
            "Missed calls by agent",
            "Calls each member was rung for and did not answer in time (AgentRingNoAnswer) in the selected"
            " range, the 20 highest. A missed call is one ring attempt: a caller rung on several members"
            " counts on each.",
            "short",
            [
                target(
                    "topk(20, sum by (queue, member) "
                    f"(increase(asterisk_queue_member_ring_noanswer_total{{{msel}}}[{RANGE}])))",
                    "{{member}} ({{queue}})",
                    instant=True,
                )
            ],
            8,
            8,
            defaults={"thresholds": thresholds((None, "green"), (1, "orange"), (10, "red"))},
        )
    )
    ps.append(
        panel(
            lay,
            "bargauge",
            "Answered calls by agent",
            "Queue calls each member answered (AgentConnect) in the selected range, the 20 highest.",
            "short",
            [
                target(
                    "topk(20, sum by (queue, member) "
                    f"(increase(asterisk_queue_member_calls_answered_total{{{msel}}}[{RANGE}])))",
                    "{{member}} ({{queue}})",
                    instant=True,
                )
            ],
            8,
            8,
        )
    )
    ps.append(
        panel(
            lay,
            "timeseries",
            "Occupancy by queue",
            "Per queue: talk time per second over the members logged in and not paused now (1 = every"
            " unpaused member talking all the time). Talk time is booked when a call ends.",
            "percentunit",
            [
                target(
                    f"sum by (queue) (rate(asterisk_queue_member_talk_seconds_total{{{QSEL}}}[{RI}]))\n/\n"
                    f"count by (queue) (asterisk_queue_member_state{{{QSEL}}} != {PAUSED_STATE})",
                    "{{queue}}",
                )
            ],
            8,
            8,
            defaults={"min": 0},
        )
    )
    return dashboard(
        "asterisk-agents",
        "Asterisk / Agents",
        "Who is free, ringing, talking, in wrap-up or paused (and why, and for how long), and per agent the"
        " calls answered and missed, talk and pause time and occupancy.",
        ps,
        with_queue=True,
        with_member=True,
    )


DASHBOARDS = {
    "asterisk-queues.json": queues_dashboard,
    "asterisk-calls.json": calls_dashboard,
    "asterisk-health.json": health_dashboard,
    "asterisk-agents.json": agents_dashboard,
}


def render() -> dict[str, str]:
    return {
        name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory (default: %(default)s)")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date (run python dashboards/generate.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
