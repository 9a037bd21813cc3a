"""Every dashboard and rule expression (variables substituted) parses in a real Prometheus.

The linter's target-promql-rule. Starts `prometheus` with an empty TSDB on a free port and asks its
HTTP API for each query; no data is needed for a parse/type check. Skipped when `prometheus` is not
installed, unless AMI_EXPORTER_REQUIRE_PROMTOOL=1 (then it fails).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..support.net import free_port
from .dashboard_queries import Query, dashboards_queries

QUERIES = list(dashboards_queries(job="asterisk", instance=".+"))


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("AMI_EXPORTER_REQUIRE_PROMTOOL") == "1":
            pytest.fail("prometheus not found and AMI_EXPORTER_REQUIRE_PROMTOOL=1")
        pytest.skip("prometheus not installed (Debian: apt install prometheus)")
    work: Path = tmp_path_factory.mktemp("prometheus")
    (work / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 15s\nscrape_configs: []\n", encoding="utf-8"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (work / "log").open("w") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("prometheus did not start:\n" + (work / "log").read_text(encoding="utf-8"))
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _query(url: str, expr: str) -> tuple[int, dict[str, object]]:
    data = urllib.parse.urlencode({"query": expr}).encode()
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query", data, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


@pytest.mark.e2e
@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.file}:{q.where}" for q in QUERIES])
def test_expression_parses(prometheus_url: str, query: Query) -> None:
    status, body = _query(prometheus_url, query.expr)
    assert status == 200, f"{body.get('error')}\n{query.expr}"
    assert body["status"] == "success"


@pytest.mark.e2e
def test_parse_check_can_fail(prometheus_url: str) -> None:
    status, body = _query(prometheus_url, 'sum(rate(asterisk_up{job=~"x"}))')
    assert status == 400
    assert body["errorType"] == "bad_data"
