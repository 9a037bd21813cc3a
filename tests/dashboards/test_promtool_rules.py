"""promtool check rules / promtool test rules on dashboards/rules and dashboards/tests.

Skipped when promtool is not installed, unless AMI_EXPORTER_REQUIRE_PROMTOOL=1 (then it fails).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from .dashboard_queries import PROMTOOL_TESTS_DIR, RULES_DIR, load_rule_files

RULE_PATHS = sorted(RULES_DIR.glob("*.yaml"))
TEST_PATHS = sorted(PROMTOOL_TESTS_DIR.glob("*.yaml"))
ALERTS: list[dict[str, Any]] = [
    r for doc in load_rule_files().values() for g in doc["groups"] for r in g["rules"] if "alert" in r
]
ALERT_NAMES = [r["alert"] for r in ALERTS]


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("AMI_EXPORTER_REQUIRE_PROMTOOL") == "1":
            pytest.fail("promtool not found and AMI_EXPORTER_REQUIRE_PROMTOOL=1")
        pytest.skip("promtool not installed (Debian: apt install prometheus)")
    return path


def run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, timeout=120)


@pytest.mark.parametrize("path", RULE_PATHS, ids=[p.name for p in RULE_PATHS])
def test_promtool_check_rules(promtool: str, path: Path) -> None:
    result = run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize("path", TEST_PATHS, ids=[p.name for p in TEST_PATHS])
def test_promtool_test_rules(promtool: str, path: Path) -> None:
    result = run([promtool, "test", "rules", path.name], cwd=path.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def _alert_tests() -> list[dict[str, Any]]:
    cases = []
    for path in TEST_PATHS:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for test in doc["tests"]:
            cases.extend(test.get("alert_rule_test", []))
    return cases


@pytest.mark.parametrize("alert", ALERTS, ids=ALERT_NAMES)
def test_every_alert_has_a_firing_and_a_silent_case(alert: dict[str, Any]) -> None:
    cases = [c for c in _alert_tests() if c["alertname"] == alert["alert"]]
    firing = [c for c in cases if c.get("exp_alerts")]
    silent = [c for c in cases if not c.get("exp_alerts")]
    assert firing, "no case where it fires"
    assert silent, "no case where it stays silent"
    for case in firing:
        for exp in case["exp_alerts"]:
            assert exp["exp_labels"]["severity"] == alert["labels"]["severity"]
            assert set(exp["exp_annotations"]) == {"summary", "description", "runbook_url"}


# --- the tests can fail: break each alert and watch promtool notice --------------------------------


def _mutated_copy(tmp_path: Path, alert: str, change: str) -> Path:
    shutil.copytree(RULES_DIR, tmp_path / "rules")
    shutil.copytree(PROMTOOL_TESTS_DIR, tmp_path / "tests")
    path = tmp_path / "rules" / "alerts.yaml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                if change == "never":
                    rule["expr"] = "vector(1) == 2"
                elif change == "no-for":
                    rule.pop("for")
                elif change == "severity":
                    rule["labels"]["severity"] = "page"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return tmp_path / "tests"


MUTATIONS = [(name, "never") for name in ALERT_NAMES]
MUTATIONS += [(r["alert"], "no-for") for r in ALERTS if r.get("for")]
MUTATIONS += [(ALERT_NAMES[0], "severity")]


@pytest.mark.parametrize(("alert", "change"), MUTATIONS, ids=[f"{a}-{c}" for a, c in MUTATIONS])
def test_promtool_tests_catch_a_broken_alert(promtool: str, tmp_path: Path, alert: str, change: str) -> None:
    tests_dir = _mutated_copy(tmp_path, alert, change)
    result = run(
        [promtool, "test", "rules", *sorted(p.name for p in tests_dir.glob("*.yaml"))], cwd=tests_dir
    )
    assert result.returncode != 0, f"breaking {alert} ({change}) went unnoticed:\n{result.stdout}"
    assert alert in result.stdout + result.stderr
