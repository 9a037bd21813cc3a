"""The dashboards and rules against a real Prometheus scraping the real exporter, fed by the simulator.

One stack for the module (about 32 s in all: 27 s of warm-up, 4–5 s of overload):

* the simulator (demo call centre, ``time_scale=2``) on a private event loop in a thread (why: see
  :mod:`tests.e2e.stack`), plus a few scripted calls so every wallboard panel has something to show
  (an answered call per queue, a caller who gives up in each queue, two pauses, a module reload);
* ``python -m ami_exporter`` as a process, logged in as ``exporter_rep``;
* ``prometheus`` as a process: scrape and rule evaluation every 1 s, job ``asterisk`` (the rules'
  exporter-job selector is ``job=~".*asterisk.*"``), ``rule_files`` = the real
  ``dashboards/rules/recording.yaml`` and ``alerts.yaml`` unchanged, plus two test-only files:

  - ``overrides.yaml``: a per-queue threshold override (billing: 3 callers), recorded exactly as
    ``dashboards/README.md`` tells users to, to prove the override mechanism;
  - ``short-for.yaml``: a copy of the real ``AsteriskQueueCallersHigh`` rule (read from alerts.yaml
    at run time, so it cannot drift) with ``for: 3s`` instead of 5 minutes, in its own group, so
    the test can see the alert *fire* within seconds; the real rule, with ``for: 5m``, must go
    *pending* at the same time.

The tests run in file order: the data checks first, the overload (which pauses agents and floods two
queues) last.
"""

from __future__ import annotations

import copy
import math
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ami_exporter.simulator import Simulator, SimulatorConfig

from ..dashboards.dashboard_queries import (
    KNOWN_METRICS,
    NON_EXPORTER_METRICS,
    RULES_DIR,
    Query,
    dashboards_queries,
    iter_panels,
    load_dashboards,
    scan,
)
from ..support.net import free_port
from .stack import (
    SECRET,
    PromAPI,
    SimulatorThread,
    exporter_argv,
    http_get,
    process,
    require_binary,
    wait_until,
)

pytestmark = pytest.mark.e2e

JOB = "asterisk"
TIME_SCALE = 2.0  # simulated seconds per real second
WARMUP_SAMPLES = 22  # scrapes (1 s apart) in Prometheus before the data checks
RANGE_SECONDS = 20  # range queries for time-series panels cover the last 20 s, step 1 s
WALLBOARD = "asterisk-queues.json"
OVERRIDE_QUEUE, OVERRIDE_THRESHOLD = "billing", 3
DEFAULT_CALLERS_THRESHOLD = 10  # recording.yaml's default for queue:asterisk_queue_callers:threshold
SHORT_FOR = "3s"
SHORT_FOR_GROUP = "e2e-short-for"
# The overload: every member of these queues paused, and this many callers who are never answered
# and never give up (topped up while polling, since a queue's own timeout still ends their wait).
OVERLOAD = {"sales": 16, OVERRIDE_QUEUE: 6}  # 16 > default 10; 6 > billing's override 3 but < 10
HEALTHY_QUEUE = "support"

# Dashboard queries allowed to come back without data, each with the reason. None on the wallboard:
# the scripted calls make every panel's data appear (abandons, answers, a pause, talk times).
MAY_BE_EMPTY: dict[tuple[str, str], str] = {
    ("asterisk-health.json", "Malformed frames and label overflow / B"): (
        "asterisk_exporter_label_overflow_total has samples only once a --limits.* cap is exceeded"
    ),
    ("asterisk-health.json", "annotation Asterisk restarts"): (
        "needs an Asterisk restart; this run has none (it would drop the calls the other panels need)"
    ),
}

# Series in KNOWN_METRICS that the exporter declares (# TYPE line) but only has samples for after
# events this run does not produce.
RARE_SERIES: dict[str, str] = {
    "asterisk_exporter_label_overflow_total": "only once a --limits.* label cap is exceeded",
    "asterisk_endpoints": "needs PeerStatus/ContactStatus events, which the simulator does not send",
}


@dataclass
class Stack:
    sim: SimulatorThread
    api: PromAPI
    web_port: int
    instance: str
    prometheus_log: Path
    exporter_log: Path
    notes: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------------------


def real_rule(alert: str) -> dict[str, Any]:
    doc = yaml.safe_load((RULES_DIR / "alerts.yaml").read_text(encoding="utf-8"))
    (rule,) = [r for g in doc["groups"] for r in g["rules"] if r.get("alert") == alert]
    assert isinstance(rule, dict)
    return rule


def write_prometheus_config(work: Path, web_port: int) -> Path:
    overrides = {
        "groups": [
            {
                "name": "asterisk-queue-overrides",
                "rules": [
                    {
                        "record": "queue:asterisk_queue_callers:threshold_override",
                        "expr": f"vector({OVERRIDE_THRESHOLD})",
                        "labels": {"queue": OVERRIDE_QUEUE},
                    }
                ],
            }
        ]
    }
    short = copy.deepcopy(real_rule("AsteriskQueueCallersHigh"))
    assert short["for"] == "5m", "the real rule changed: revisit this test"
    short["for"] = SHORT_FOR
    rule_files = [RULES_DIR / "recording.yaml", RULES_DIR / "alerts.yaml"]
    for name, doc in (
        ("overrides.yaml", overrides),
        ("short-for.yaml", {"groups": [{"name": SHORT_FOR_GROUP, "rules": [short]}]}),
    ):
        (work / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        rule_files.append(work / name)
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{web_port}"]}]}],
    }
    path = work / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus = require_binary("prometheus")
    promtool = require_binary("promtool")
    work = tmp_path_factory.mktemp("e2e")
    web_port, prom_port = free_port(), free_port()
    config = write_prometheus_config(work, web_port)
    checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    sim_thread = SimulatorThread(SimulatorConfig.demo(time_scale=TIME_SCALE, seed=5))
    sim = sim_thread.start()
    try:
        with (
            process(
                "exporter",
                exporter_argv(sim.port, web_port),
                work / "exporter.log",
                env={"AMI_EXPORTER_SECRET": SECRET},
            ) as exporter,
            process(
                "prometheus",
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={work / 'data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                work / "prometheus.log",
            ) as prom,
        ):
            wait_until(
                lambda: http_get(f"http://127.0.0.1:{web_port}/-/ready")[0] == 200,
                timeout=20,
                what="the exporter's AMI session",
                proc=exporter,
            )
            wait_until(
                lambda: http_get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200,
                timeout=30,
                what="prometheus /-/ready",
                proc=prom,
            )
            yield Stack(
                sim_thread,
                PromAPI(f"http://127.0.0.1:{prom_port}"),
                web_port,
                f"127.0.0.1:{web_port}",
                prom.log,
                exporter.log,
            )
            # Both lived through the run and stop cleanly on SIGTERM (the exporter logs off first).
            for proc in (prom, exporter):
                assert proc.alive(), proc.tail()
                proc.stop()
                assert proc.popen.returncode == 0, proc.tail()
            # A healthy run, start to SIGTERM, gives the exporter nothing to warn about.
            noisy = [line for line in exporter.log.read_text().splitlines() if "level=info" not in line]
            assert not noisy, "\n".join(noisy)
    finally:
        sim_thread.stop()


async def scripted_calls(sim: Simulator) -> None:
    """Events the wallboard shows that random traffic might not produce in 20 s: a pause that ends
    (ivy) and one that lasts (leo, in a queue the overload pauses anyway) for the pause panels."""
    sim.pause_member("PJSIP/ivy", True, "e2e", queue="sales")
    sim.pause_member("PJSIP/leo", True, "e2e training", queue=OVERRIDE_QUEUE)
    for queue in ("sales", "support", "billing"):
        await sim.place_call(queue, answer=True, ring=1.0, talk=4.0)
        await sim.place_call(queue, patience=2.0, answer=False)


async def reload_pjsip(sim: Simulator) -> None:
    """The health dashboard's reload panels and annotation (a change Prometheus must see: after the
    first scrapes)."""
    sim.reload("res_pjsip.so")


async def unpause_ivy(sim: Simulator) -> None:
    sim.pause_member("PJSIP/ivy", False, queue="sales")


@pytest.fixture(scope="module")
def warm(stack: Stack) -> Stack:
    """The stack after WARMUP_SAMPLES scrapes of a busy call centre."""
    started = time.monotonic()

    def samples(n: int) -> Callable[[], bool]:
        def enough() -> bool:
            result = stack.api.value(f'count_over_time(up{{job="{JOB}"}}[1m])')
            return bool(result) and result[0][1] >= n

        return enough

    # After Prometheus has a sample of every series: a scripted abandon (patience 1 s of real time)
    # that happened before the first scrape would be no increase at all, and "Wait before
    # abandon" would depend on random traffic.
    wait_until(samples(2), timeout=30, what="2 scrapes", step=0.5)
    stack.sim.run(scripted_calls)
    wait_until(samples(5), timeout=30, what="5 scrapes", step=0.5)
    stack.sim.run(reload_pjsip)
    wait_until(samples(WARMUP_SAMPLES), timeout=60, what=f"{WARMUP_SAMPLES} scrapes", step=0.5)
    stack.sim.run(unpause_ivy)
    stack.notes["warmup_seconds"] = time.monotonic() - started
    return stack


# --------------------------------------------------------------------------------------------------
# 1. Every dashboard target and rule expression, evaluated
# --------------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    query: Query
    panel_type: str  # "timeseries", "stat", ..., "annotation" or "rule"
    errors: list[str]
    instant_series: int
    range_series: int | None  # None: no range query (not a time-series panel)

    @property
    def has_data(self) -> bool:
        """What Grafana would draw: the range result for time-series panels, else the instant one."""
        if self.range_series is not None:
            return self.range_series > 0
        return self.instant_series > 0


def panel_types() -> list[tuple[str, str, str]]:
    """(file, where, panel type) in the order dashboards_queries() yields dashboard queries."""
    out = []
    for name, dash in load_dashboards().items():
        for p in iter_panels(dash):
            for t in p.get("targets", []):
                out.append((name, f"{p.get('title')} / {t.get('refId')}", str(p["type"])))
        for a in dash.get("annotations", {}).get("list", []):
            if "expr" in a:
                out.append((name, f"annotation {a.get('name')}", "annotation"))
    return out


def result_count(body: dict[str, Any], errors: list[str], kind: str) -> int:
    """Series with at least one finite value: a series of NaN (e.g. histogram_quantile over a window
    without observations) draws nothing in Grafana, so it does not count as data."""
    if body.get("status") != "success":
        errors.append(f"{kind}: {body.get('errorType')}: {body.get('error')}")
        return 0
    data = body["data"]
    if data["resultType"] == "scalar":
        return int(math.isfinite(float(data["result"][1])))
    if data["resultType"] == "vector":
        return sum(math.isfinite(float(r["value"][1])) for r in data["result"])
    return sum(any(math.isfinite(float(v)) for _, v in r["values"]) for r in data["result"])


def evaluate(api: PromAPI, query: Query, panel_type: str, now: float) -> Evaluation:
    errors: list[str] = []
    instant = result_count(api.query(query.expr, now), errors, "instant")
    ranged = None
    if panel_type in {"timeseries", "annotation"}:  # Grafana runs range queries for both
        body = api.query_range(query.expr, now - RANGE_SECONDS, now, 1.0)
        ranged = result_count(body, errors, "range")
    return Evaluation(query, panel_type, errors, instant, ranged)


def test_every_dashboard_and_rule_query_succeeds_and_the_wallboard_has_data(warm: Stack) -> None:
    api = warm.api
    assert api.value(f'up{{job="{JOB}"}}') == [
        ({"__name__": "up", "job": JOB, "instance": warm.instance}, 1.0)
    ]
    (asterisk_up,) = api.value(f'asterisk_up{{job="{JOB}"}}')
    assert asterisk_up[1] == 1.0, asterisk_up

    queries = list(dashboards_queries(job=JOB, instance=warm.instance))
    dashboard = [q for q in queries if q.source == "dashboard"]
    rules = [q for q in queries if q.source == "rule"]
    types = panel_types()
    assert [(q.file, q.where) for q in dashboard] == [(f, w) for f, w, _ in types]
    now = time.time()
    results = [evaluate(api, q, t, now) for q, (_, _, t) in zip(dashboard, types, strict=True)]
    results += [evaluate(api, q, "rule", now) for q in rules]

    failed = [f"{r.query.file}: {r.query.where}: {r.errors}\n  {r.query.expr}" for r in results if r.errors]
    dash_results = [r for r in results if r.query.source == "dashboard"]
    rule_results = [r for r in results if r.query.source == "rule"]
    summary = {
        "dashboard queries": len(dash_results),
        "range queries (time-series panels, annotations)": sum(
            r.range_series is not None for r in dash_results
        ),
        "dashboard queries with data": sum(r.has_data for r in dash_results),
        "rule expressions": len(rule_results),
        "rule expressions with data": sum(r.has_data for r in rule_results),
        "errors": len(failed),
    }
    per_file = {
        name: f"{sum(r.has_data for r in dash_results if r.query.file == name)}"
        f"/{sum(r.query.file == name for r in dash_results)}"
        for name in sorted({r.query.file for r in dash_results})
    }
    empty = [f"{r.query.file}: {r.query.where}" for r in results if not r.has_data]
    print(f"\ne2e dashboard/rule evaluation: {summary}\nwith data per dashboard: {per_file}")
    print("no data (not an error):\n  " + "\n  ".join(empty))
    warm.notes.update(summary)

    assert not failed, "\n".join(failed)
    assert len(dash_results) >= 80 and len(rule_results) >= 20
    assert not any(file == WALLBOARD for file, _ in MAY_BE_EMPTY), "the wallboard must show everything"
    unexpected_empty = {
        f"{r.query.file}: {r.query.where}": r.query.expr
        for r in dash_results
        if not r.has_data and (r.query.file, r.query.where) not in MAY_BE_EMPTY
    }
    assert not unexpected_empty, f"dashboard queries without data: {unexpected_empty}"
    # Every recording rule has data on a busy call centre (the alert expressions may rightly be empty).
    recording_empty = [
        r.query.where for r in rule_results if r.query.file == "recording.yaml" and not r.has_data
    ]
    assert not recording_empty, recording_empty


# --------------------------------------------------------------------------------------------------
# 3. KNOWN_METRICS is the exposition, both ways
# --------------------------------------------------------------------------------------------------


def exposition_names(text: str) -> tuple[set[str], set[str]]:
    """(sample names, names declared by # TYPE lines, expanded to their sample names)."""
    samples: set[str] = set()
    declared: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            if kind == "histogram":
                declared |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            elif kind == "summary":
                declared |= {name, f"{name}_count", f"{name}_sum"}
            elif kind == "counter" and not name.endswith("_total"):
                declared.add(f"{name}_total")
            else:
                declared.add(name)
        elif line and not line.startswith("#"):
            match = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
            assert match is not None, line
            samples.add(match.group(0))
    return samples, declared


def test_known_metrics_match_the_exposition(warm: Stack) -> None:
    status, body = http_get(f"http://127.0.0.1:{warm.web_port}/metrics")
    assert status == 200
    samples, declared = exposition_names(body.decode())
    exposed = {n for n in samples | declared if n.startswith("asterisk_")}

    used = {
        sel.metric
        for q in dashboards_queries(job=JOB, instance=warm.instance)
        for sel in scan(q.expr).selectors
        if sel.metric and ":" not in sel.metric and sel.metric not in NON_EXPORTER_METRICS
    }
    assert used <= KNOWN_METRICS, sorted(used - KNOWN_METRICS)
    # Every name the dashboards and rules use has samples (rare ones are at least declared).
    assert not (used - samples - set(RARE_SERIES)), sorted(used - samples - set(RARE_SERIES))
    # Every known name is exposed; the rare ones declared with # TYPE even before their first sample.
    assert not (KNOWN_METRICS - samples - set(RARE_SERIES)), sorted(
        KNOWN_METRICS - samples - set(RARE_SERIES)
    )
    assert set(RARE_SERIES) <= declared, sorted(set(RARE_SERIES) - declared)
    # And the other way: the exporter exposes nothing the contract does not list.
    assert not (exposed - KNOWN_METRICS), f"add to KNOWN_METRICS: {sorted(exposed - KNOWN_METRICS)}"
    print(f"\nexposition: {len(exposed)} asterisk_* sample names, {len(used)} used by dashboards/rules")


# --------------------------------------------------------------------------------------------------
# 2. Overload: AsteriskQueueCallersHigh in Prometheus itself
# --------------------------------------------------------------------------------------------------


async def start_overload(sim: Simulator) -> None:
    sim.model.stop_traffic()  # only the scripted callers from now on, so the alert values are known
    for queue in OVERLOAD:
        for member in sim.model.queues[queue].cfg.members:
            sim.pause_member(member.interface, True, "e2e-overload", queue=queue)
    await top_up(sim)


async def top_up(sim: Simulator) -> None:
    """Keep OVERLOAD[queue] unanswerable callers waiting (the queue's own timeout ends their wait)."""
    truth = sim.truth()
    for queue, target in OVERLOAD.items():
        for _ in range(target - truth.queues[queue].waiting):
            await sim.place_call(queue, patience=600.0, answer=False)


def callers_high(groups: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{group name: {queue: alert}} for the AsteriskQueueCallersHigh rules."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for group in groups:
        for rule in group["rules"]:
            if rule.get("type") == "alerting" and rule["name"] == "AsteriskQueueCallersHigh":
                out[group["name"]] = {a["labels"]["queue"]: a for a in rule.get("alerts", [])}
    return out


def test_overload_fires_asterisk_queue_callers_high(warm: Stack) -> None:
    api = warm.api
    thresholds = {m["queue"]: v for m, v in api.value("queue:asterisk_queue_callers:threshold")}
    # The override applies to its queue only; the others keep the default.
    assert thresholds == {
        "sales": DEFAULT_CALLERS_THRESHOLD,
        "support": DEFAULT_CALLERS_THRESHOLD,
        OVERRIDE_QUEUE: OVERRIDE_THRESHOLD,
    }
    (real_group,) = [
        g["name"]
        for g in api.rules()
        if g["name"] != SHORT_FOR_GROUP and any(r["name"] == "AsteriskQueueCallersHigh" for r in g["rules"])
    ]

    started = time.monotonic()
    warm.sim.run(start_overload)
    seen: dict[str, dict[str, dict[str, Any]]] = {}

    def fired() -> bool:
        nonlocal seen
        warm.sim.run(top_up)
        seen = callers_high(api.rules())
        short, real = seen.get(SHORT_FOR_GROUP, {}), seen.get(real_group, {})
        return all(
            short.get(q, {}).get("state") == "firing" and real.get(q, {}).get("state") == "pending"
            for q in OVERLOAD
        )

    wait_until(fired, timeout=30, what=f"AsteriskQueueCallersHigh for {sorted(OVERLOAD)}", step=0.5)
    warm.notes["overload_seconds"] = time.monotonic() - started
    print(f"\nAsteriskQueueCallersHigh firing (for: {SHORT_FOR}) after {warm.notes['overload_seconds']:.1f}s")

    expected_rule = real_rule("AsteriskQueueCallersHigh")
    for group in (SHORT_FOR_GROUP, real_group):
        assert HEALTHY_QUEUE not in seen[group], f"{HEALTHY_QUEUE} is not overloaded: {seen[group]}"
        for queue in OVERLOAD:
            alert = seen[group][queue]
            assert alert["labels"] == {
                "alertname": "AsteriskQueueCallersHigh",
                "severity": "warning",
                "job": JOB,
                "instance": warm.instance,
                "queue": queue,
            }
            value = float(alert["value"])
            assert math.isfinite(value) and value > thresholds[queue]
            if queue == OVERRIDE_QUEUE:  # alerting because of the override alone
                assert value < DEFAULT_CALLERS_THRESHOLD, value
            notes = alert["annotations"]
            assert notes["summary"] == expected_rule["annotations"]["summary"]
            assert notes["runbook_url"].endswith("#asteriskqueuecallershigh")
            description = notes["description"]
            assert f"in queue {queue} on {warm.instance} (job {JOB})" in description, description
            assert description.startswith(f"{value:g} callers have been waiting"), description
            assert "{{" not in description

    # /api/v1/alerts agrees: firing from the short-for copy, pending from the real rule.
    states = {
        (a["labels"]["queue"], a["state"])
        for a in api.alerts()
        if a["labels"]["alertname"] == "AsteriskQueueCallersHigh"
    }
    for queue in OVERLOAD:
        assert {(queue, "firing"), (queue, "pending")} <= states, states

    # Every member of the overloaded queues is paused with callers waiting: the real
    # AsteriskQueueAgentsMostlyPaused (for: 5m) goes pending there, not in the healthy queue.
    def mostly_paused() -> set[str]:
        return {
            a["labels"]["queue"]
            for a in api.alerts()
            if a["labels"]["alertname"] == "AsteriskQueueAgentsMostlyPaused" and a["state"] == "pending"
        }

    wait_until(
        lambda: set(OVERLOAD) <= mostly_paused(), timeout=15, what="AsteriskQueueAgentsMostlyPaused", step=0.5
    )
    assert HEALTHY_QUEUE not in mostly_paused()
