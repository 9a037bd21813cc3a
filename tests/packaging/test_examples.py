"""examples/: every file parses, and each fits the exporter and the other files it refers to.

The compose file cannot be run here (no container engine): its structure is checked instead, down to
the paths it mounts and the ones the Prometheus and Grafana configurations expect inside the containers.
"""

from __future__ import annotations

import configparser
import glob
import os
import posixpath
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ami_exporter.ami.client import DEFAULT_EVENT_MASK
from ami_exporter.config import parse_args
from ami_exporter.pbx import PBX

from .support import REPO, load_yaml, require_tool

EXAMPLES = REPO / "examples"
COMPOSE = EXAMPLES / "compose.yaml"
PROMETHEUS_YML = EXAMPLES / "prometheus" / "prometheus.yml"
UNIT = EXAMPLES / "systemd" / "ami-exporter.service"
ENV_FILE = EXAMPLES / "systemd" / "ami-exporter.env"
MANAGER_CONF = EXAMPLES / "manager.conf"
YAML_FILES = sorted([*EXAMPLES.rglob("*.yaml"), *EXAMPLES.rglob("*.yml")])


def test_the_expected_examples_exist() -> None:
    names = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file()}
    assert {
        "compose.yaml",
        "manager.conf",
        "prometheus/prometheus.yml",
        "grafana/provisioning/datasources/prometheus.yaml",
        "grafana/provisioning/dashboards/ami-exporter.yaml",
        "systemd/ami-exporter.service",
        "systemd/ami-exporter.env",
    } <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_yaml_parses_without_duplicate_keys(path: Path) -> None:
    assert isinstance(load_yaml(path), dict)


# ------------------------------------------------------------------------------------------ compose


def compose() -> dict[str, Any]:
    data = load_yaml(COMPOSE)
    assert isinstance(data, dict)
    return data


def service(name: str) -> dict[str, Any]:
    services = compose()["services"]
    assert isinstance(services, dict)
    value = services[name]
    assert isinstance(value, dict)
    return value


def bind_mounts(name: str) -> dict[str, Path]:
    """container path -> host path, for the bind mounts (sources relative to the compose file)."""
    mounts: dict[str, Path] = {}
    for volume in service(name).get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if source.startswith("."):
            mounts[target] = (COMPOSE.parent / source).resolve()
    return mounts


def to_host(name: str, container_path: str) -> Path:
    """Map a path inside service ``name`` to the repository file it is mounted from."""
    for target, source in sorted(bind_mounts(name).items(), key=lambda item: -len(item[0])):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return source / posixpath.relpath(container_path, target)
    raise AssertionError(f"{container_path} is not mounted into {name}")


def test_compose_services_and_ports() -> None:
    data = compose()
    assert set(data["services"]) == {"exporter", "prometheus", "grafana"}
    expected_ports = {"exporter": 9815, "prometheus": 9090, "grafana": 3000}
    for name, port in expected_ports.items():
        ports = [str(p) for p in service(name)["ports"]]
        assert ports == [f"127.0.0.1:{port}:{port}"], "published on loopback only (Grafana is anonymous)"
    for name, volume in data.get("volumes", {}).items():
        assert any(
            str(v).startswith(f"{name}:") for s in data["services"].values() for v in s.get("volumes", [])
        )
        assert volume is None or isinstance(volume, dict)


def test_compose_exporter_is_built_from_the_dockerfile_and_runs_the_demo() -> None:
    exporter = service("exporter")
    build = exporter["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context == REPO
    assert (context / build["dockerfile"]).is_file()
    command = exporter["command"]
    assert command == ["--demo", "--web.listen-address=:9815"]
    # The flags parse (without a secret: --demo needs none).
    config = parse_args(command)
    assert config.demo and config.listen[0].port == 9815
    assert exporter.get("read_only") is True
    assert "ALL" in exporter.get("cap_drop", [])


def _images() -> dict[str, str]:
    return {name: str(s["image"]) for name, s in compose()["services"].items() if name != "exporter"}


def test_compose_uses_official_images_with_pinned_tags() -> None:
    images = _images()
    assert re.fullmatch(r"prom/prometheus:v\d+\.\d+\.\d+", images["prometheus"])
    assert re.fullmatch(r"grafana/grafana(-oss)?:\d+\.\d+\.\d+", images["grafana"])


def test_compose_prometheus_config_and_rules_resolve_to_the_repository() -> None:
    prometheus = service("prometheus")
    flags = dict(str(arg).split("=", 1) for arg in prometheus["command"])
    config_in_container = flags["--config.file"]
    assert to_host("prometheus", config_in_container) == PROMETHEUS_YML
    # Every rule_files glob, resolved inside the container, lands on the repository's rule files.
    rules = load_yaml(PROMETHEUS_YML)["rule_files"]
    for pattern in rules:
        in_container = posixpath.normpath(posixpath.join(posixpath.dirname(config_in_container), pattern))
        host_pattern = to_host("prometheus", in_container)
        found = sorted(Path(p) for p in glob.glob(str(host_pattern)))
        assert found == sorted((REPO / "dashboards" / "rules").glob("*.yaml")), pattern
        assert found, "no rule files found"


def test_compose_grafana_is_anonymous_viewer_with_provisioning_mounted() -> None:
    grafana = service("grafana")
    env = {str(k): str(v) for k, v in grafana["environment"].items()}
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert not any("PASSWORD" in key for key in env)
    mounts = bind_mounts("grafana")
    provisioning = EXAMPLES / "grafana" / "provisioning"
    assert mounts["/etc/grafana/provisioning/datasources"] == provisioning / "datasources"
    assert mounts["/etc/grafana/provisioning/dashboards"] == provisioning / "dashboards"
    home = to_host("grafana", env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert home == REPO / "dashboards" / "grafana" / "asterisk-queues.json"


def test_every_bind_mount_source_exists() -> None:
    for name in compose()["services"]:
        for source in bind_mounts(name).values():
            assert source.exists(), f"{name}: {source}"


# ------------------------------------------------------------------------------------------- grafana


def test_grafana_datasource_points_at_the_prometheus_service() -> None:
    data = load_yaml(EXAMPLES / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")
    assert data["apiVersion"] == 1
    (source,) = data["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert source["access"] == "proxy"
    assert source["isDefault"] is True
    assert source["jsonData"]["timeInterval"] == load_yaml(PROMETHEUS_YML)["global"]["scrape_interval"]


def test_grafana_dashboard_provider_reads_the_mounted_dashboards() -> None:
    data = load_yaml(EXAMPLES / "grafana" / "provisioning" / "dashboards" / "ami-exporter.yaml")
    assert data["apiVersion"] == 1
    (provider,) = data["providers"]
    assert provider["type"] == "file"
    assert {"name", "folder", "options"} <= set(provider)
    folder = to_host("grafana", provider["options"]["path"])
    assert folder == REPO / "dashboards" / "grafana"
    assert sorted(folder.glob("*.json")), "no dashboards to provision"


# ---------------------------------------------------------------------------------------- prometheus


def test_promtool_check_config() -> None:
    promtool = require_tool(
        "promtool", env_flag="AMI_EXPORTER_REQUIRE_PROMTOOL", hint="Debian package prometheus"
    )
    proc = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS_YML.relative_to(REPO))],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 rule files found" in proc.stdout


def test_prometheus_scrapes_the_exporter_as_the_rules_expect() -> None:
    data = load_yaml(PROMETHEUS_YML)
    assert data["global"]["scrape_interval"] == "15s"
    jobs = {job["job_name"]: job for job in data["scrape_configs"]}
    exporter_jobs = [job for name, job in jobs.items() if re.fullmatch(".*asterisk.*", name)]
    assert len(exporter_jobs) == 1, "the alert rules select up{job=~'.*asterisk.*'}"
    (job,) = exporter_jobs
    assert job["scrape_interval"] == "15s"
    targets = [t for config in job["static_configs"] for t in config["targets"]]
    assert targets == ["exporter:9815"], "the compose service name and port"
    alerts = (REPO / "dashboards" / "rules" / "alerts.yaml").read_text(encoding="utf-8")
    assert 'job=~".*asterisk.*"' in alerts


# ------------------------------------------------------------------------------------------- systemd


def unit_entries() -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment, in order (systemd allows repeated keys)."""
    entries: list[tuple[str, str, str]] = []
    section = ""
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        assert sep, f"not an assignment: {line}"
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_service() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for section, key, value in unit_entries():
        if section == "Service":
            values.setdefault(key, []).append(value)
    return values


def test_unit_runs_the_exporter_as_an_unprivileged_user() -> None:
    sections = {section for section, _, _ in unit_entries()}
    assert sections == {"Unit", "Service", "Install"}
    svc = unit_service()
    (exec_start,) = svc["ExecStart"]
    assert exec_start.split()[0].endswith("/bin/ami-exporter")
    (user,) = svc["User"]
    assert user and user != "root"
    assert svc["Restart"] == ["on-failure"]


def test_unit_takes_the_secret_from_a_credential_never_inline() -> None:
    svc = unit_service()
    assert "LoadCredential" in svc or "EnvironmentFile" in svc
    (credential,) = svc["LoadCredential"]
    name, _, source = credential.partition(":")
    assert source.startswith("/")
    assert f"--ami.secret-file=${{CREDENTIALS_DIRECTORY}}/{name}" in svc["ExecStart"][0]
    for key, values in svc.items():
        for value in values:
            assert "AMI_EXPORTER_SECRET=" not in value, f"{key}={value}"
    assert "Environment" not in svc or not any("SECRET" in v for v in svc["Environment"])


def test_unit_hardening() -> None:
    svc = {key: values[-1] for key, values in unit_service().items()}
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "CapabilityBoundingSet": "",
        "SystemCallArchitectures": "native",
    }
    for key, value in expected.items():
        assert svc.get(key) == value, key
    assert set(svc["RestrictAddressFamilies"].split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's own parser: no unknown keys or bad values (the binary path is swapped for /bin/true,
    which exists here, since verify also checks that the command is executable)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed")
    (exec_start,) = unit_service()["ExecStart"]
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(exec_start.split()[0], "/bin/true"))
    proc = subprocess.run(
        [analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, check=False
    )
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 and ("Failed to" in output and "bus" in output.lower()):
        pytest.skip(f"systemd-analyze cannot run here: {output}")
    assert proc.returncode == 0 and output == "", output


def env_file() -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in ENV_FILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), line
        values[key] = value
    return values


def test_env_file_has_no_secret_and_only_variables_the_exporter_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = env_file()
    assert not any("SECRET" in key and key != "AMI_EXPORTER_SECRET_FILE" for key in values)
    for key in [k for k in os.environ if k.startswith("AMI_EXPORTER_")]:
        monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    config = parse_args(["--demo", *values.get("AMI_EXPORTER_ARGS", "").split()])
    assert f"{config.ami.host}:{config.ami.port}" == values["AMI_EXPORTER_ADDRESS"]
    assert config.ami.username == values["AMI_EXPORTER_USERNAME"]
    assert config.ami.auth == values["AMI_EXPORTER_AUTH"]
    assert config.log_level == values["AMI_EXPORTER_LOG_LEVEL"]
    assert config.log_format == values["AMI_EXPORTER_LOG_FORMAT"]
    # Every AMI_EXPORTER_* variable is one the exporter reads (or the unit's AMI_EXPORTER_ARGS).
    read = set(re.findall(r'_env\("([A-Z_]+)"', (REPO / "ami_exporter" / "config.py").read_text()))
    for key in values:
        assert key == "AMI_EXPORTER_ARGS" or key.removeprefix("AMI_EXPORTER_") in read, key
    assert "$AMI_EXPORTER_ARGS" in unit_service()["ExecStart"][0]


# -------------------------------------------------------------------------------------- manager.conf


def manager_conf() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(
        strict=False, interpolation=None, comment_prefixes=(";",), inline_comment_prefixes=(";",)
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(MANAGER_CONF.read_text(encoding="utf-8"))
    return parser


def test_manager_conf_user_is_least_privilege() -> None:
    conf = manager_conf()
    users = [s for s in conf.sections() if s != "general"]
    assert users == ["ami_exporter"]
    user = conf["ami_exporter"]
    assert user["read"] == "system,call,agent,cdr,security"
    assert set(user["read"].split(",")) == set(DEFAULT_EVENT_MASK.split(",")), "what the exporter asks for"
    assert user["write"] == ""
    assert 1000 <= int(user["writetimeout"]) <= 5000
    assert user["deny"] == "0.0.0.0/0.0.0.0" and user["permit"]
    assert "CHANGE-ME" in user["secret"], "a placeholder, never a real secret"
    assert conf["general"]["enabled"] == "yes"


def test_manager_conf_documents_the_optional_classes_and_filters() -> None:
    text = MANAGER_CONF.read_text(encoding="utf-8")
    assert "write = reporting" in text
    for action in ("CoreShowChannels", "CoreSettings", "CoreStatus"):
        assert action in text
    assert "eventfilter(action(exclude),name(VarSet))" in text  # 18.26+/20.11+/21.6+/22.1+ syntax
    assert "eventfilter = !Event: VarSet" in text  # legacy regex syntax
    for name in ("Newexten", "RTCPSent"):
        assert f"name({name})" in text


def test_manager_conf_filters_never_exclude_events_the_exporter_folds() -> None:
    pbx = PBX()
    text = MANAGER_CONF.read_text(encoding="utf-8")
    excluded = set(re.findall(r"eventfilter\(action\(exclude\),name\((\w+)\)\)", text))
    excluded |= set(re.findall(r"eventfilter = !Event: (\w+)", text))
    assert excluded >= {"VarSet", "Newexten", "CEL"}
    for name in excluded:
        assert not pbx.wants(name), f"{name} is folded by the exporter"
