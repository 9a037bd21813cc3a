"""Golden exposition: a fixed model state renders to a checked-in ``/metrics`` text.

The state comes from folding the recorded b-scenario up to its mid-run QueueStatus (callers
waiting, members in calls and paused) with a fixed clock. Regenerate after an intended change:
``AMI_EXPORTER_UPDATE_GOLDEN=1 pytest tests/collectors/test_exposition.py``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from ami_exporter.ami.protocol import Kind
from ami_exporter.collectors import CollectorOptions, build_registry
from ami_exporter.pbx import PBX, QueueSnapshot
from ami_exporter.service import ConnectionStatus

from ..support.captures import decode_file

GOLDEN = Path(__file__).parent / "golden" / "metrics.txt"
MID_SNAPSHOT_ACTION = "exporter-19"  # the QueueStatus polled at t = 13 s
CLOCK = 1795841646.0


def mid_run_model() -> tuple[PBX, ConnectionStatus]:
    clock = [CLOCK]
    pbx = PBX(now=lambda: clock[0], monotonic=lambda: clock[0])
    items: list[tuple[str, dict[str, str]]] = []
    for message in decode_file("b-scenario/exporter.rx.raw"):
        clock[0] += 0.01  # a deterministic clock that moves: waits and durations are not all 0
        if message.kind is Kind.BANNER:
            pbx.system.set_ami_version(message.name.rpartition("/")[2])
            continue
        action_id = message.fields.get("ActionID", "")
        if action_id.startswith("exporter-"):
            if action_id == MID_SNAPSHOT_ACTION and message.kind is Kind.EVENT:
                if message.name == "QueueStatusComplete":
                    pbx.reconcile_queues(QueueSnapshot.from_items(items))
                    break
                items.append((message.name, message.fields))
            continue
        pbx.count(message.name)
        pbx.apply(message.name, message.fields)
    status = ConnectionStatus(up=True, ready=True)
    status.logins["success"] = 1
    return pbx, status


def render() -> str:
    pbx, status = mid_run_model()
    registry = build_registry(pbx, status, CollectorOptions(process=False))
    text = generate_latest(registry).decode()
    # Collector durations are wall-clock measurements: keep the series, not the values.
    return re.sub(r"^(asterisk_scrape_collector_duration_seconds\{[^}]*\}) .*$", r"\1 0.0", text, flags=re.M)


def test_exposition_matches_golden_file() -> None:
    text = render()
    if os.environ.get("AMI_EXPORTER_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_golden_state_is_the_mid_run_picture() -> None:
    families = {family.name: family for family in text_string_to_metric_families(GOLDEN.read_text())}
    callers = {s.labels["queue"]: s.value for s in families["asterisk_queue_callers"].samples}
    paused = {s.labels["queue"]: s.value for s in families["asterisk_queue_members_paused"].samples}
    # mid-queue-show.txt at t = 13 s: support has Carol paused (break) and sales has Bob (lunch).
    assert paused == {"sales": 1.0, "support": 1.0, "billing": 0.0}
    assert set(callers) == {"sales", "support", "billing"}


def test_openmetrics_rendering_parses() -> None:
    pbx, status = mid_run_model()
    registry = build_registry(pbx, status, CollectorOptions(process=False))
    text = generate_openmetrics(registry).decode()  # type: ignore[no-untyped-call]
    assert text.endswith("# EOF\n")


def test_promtool_check_metrics_accepts_the_golden_file() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("AMI_EXPORTER_REQUIRE_PROMTOOL"):
            pytest.fail("promtool is required (Debian package prometheus)")
        pytest.skip("promtool not installed (Debian package prometheus)")
    result = subprocess.run(
        [promtool, "check", "metrics"], input=GOLDEN.read_bytes(), capture_output=True, check=False
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
